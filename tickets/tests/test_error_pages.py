from django.test import TestCase, override_settings

from accounts.roles import SystemRole
from project.testing import make_company, make_user


class ErrorPageTests(TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        cls.company = make_company("Errors Co")
        cls.submitter = make_user(cls.company, SystemRole.USER)
        cls.ticket_admin = make_user(cls.company, SystemRole.TICKET_ADMIN)

    def test_404_on_the_pages_is_in_the_product_look(self) -> None:
        self.client.force_login(self.submitter)
        response = self.client.get("/tickets/999999/")
        self.assertEqual(response.status_code, 404)
        self.assertTemplateUsed(response, "error.html")
        self.assertContains(response, "Page not found", status_code=404)
        self.assertContains(response, "Go to the home page", status_code=404)
        self.assertContains(response, "My tickets", status_code=404)  # the product's navigation

    def test_404_for_a_visitor_offers_log_in(self) -> None:
        response = self.client.get("/no-such-page/")
        self.assertContains(response, "Log in", status_code=404)
        self.assertNotContains(response, "{'path'", status_code=404)  # no resolver internals

    def test_403_says_which_role_is_missing(self) -> None:
        self.client.force_login(self.submitter)
        # /tasks/ is open to anyone who is given a task (issue 10); the availability switch is not.
        response = self.client.get("/tasks/availability/")
        self.assertEqual(response.status_code, 403)
        self.assertContains(response, "You do not have access to this page", status_code=403)
        self.assertContains(response, "task worker role", status_code=403)

    def test_back_office_403_and_404_stay_in_the_back_office(self) -> None:
        self.client.force_login(self.ticket_admin)
        response = self.client.get("/admin/tickets/ticket/add/")
        self.assertEqual(response.status_code, 403)
        self.assertTemplateUsed(response, "admin/error.html")
        self.assertContains(response, "Back office home", status_code=403)
        response = self.client.get("/admin/tickets/ticket/999999/change/")
        self.assertEqual(response.status_code, 404)
        self.assertTemplateUsed(response, "admin/error.html")
        self.assertContains(response, "Page not found", status_code=404)

    def test_person_without_back_office_access_is_told_so(self) -> None:
        self.client.force_login(self.submitter)
        response = self.client.get("/admin/", follow=True)
        self.assertEqual(response.status_code, 403)
        self.assertContains(response, "The back office is not part of your account", status_code=403)
        self.assertContains(response, 'href="/"', status_code=403)
        self.assertNotContains(response, "Welcome back", status_code=403)

    def test_visitor_still_gets_the_back_office_login(self) -> None:
        response = self.client.get("/admin/", follow=True)
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, 'id="login-form"')


@override_settings(ROOT_URLCONF="tickets.tests.boom_urls")
class ServerErrorPageTests(TestCase):
    def setUp(self) -> None:
        self.client.raise_request_exception = False

    def test_500_on_the_pages(self) -> None:
        with self.assertLogs("django.request", "ERROR"):
            response = self.client.get("/boom/")
        self.assertEqual(response.status_code, 500)
        self.assertContains(response, "Something went wrong on our side", status_code=500)
        self.assertContains(response, "css/app.css", status_code=500)

    def test_500_in_the_back_office(self) -> None:
        with self.assertLogs("django.request", "ERROR"):
            response = self.client.get("/admin/boom/")
        self.assertContains(response, "TicketFlower back office", status_code=500)
        self.assertContains(response, "unfold/css/styles.css", status_code=500)
