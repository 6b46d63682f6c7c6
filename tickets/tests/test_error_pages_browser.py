import re

from django.test import override_settings

from accounts.roles import SystemRole
from project.browser import BrowserTestCase
from project.testing import PASSWORD, make_company, make_user


@override_settings(ROOT_URLCONF="tickets.tests.boom_urls")
class ErrorPagesBrowserTests(BrowserTestCase):
    def expect_error_page(self, path: str, status: int, *texts: str, back_office: bool = False) -> None:
        response = self.page.goto(self.url(path))
        self.assertEqual(response.status, status)
        box = self.page.get_by_test_id("error-page")
        self.assertTrue(box.is_visible())
        for text in texts:
            self.assertIn(text, self.page.content())
        if back_office:  # unfold's stylesheet, not a bare developer page
            self.assertTrue(self.page.locator("link[href*='unfold/css/styles.css']").count())
        else:  # the product's own header and stylesheet
            self.assertTrue(self.page.locator("header.top .brand").is_visible())
            background = self.page.evaluate("getComputedStyle(document.body).backgroundColor")
            self.assertEqual(background, "rgb(249, 250, 251)")

    def assert_only_expected_errors(self, *statuses: int) -> None:
        # The browser reports each error status it was sent; nothing else may appear.
        codes = "|".join(map(str, statuses))
        expected = re.compile(rf"HTTP ({codes}) for|status of ({codes})")
        self.assertEqual([e for e in self.console_errors if not expected.search(e)], [])

    def test_error_pages_render_in_the_product_look(self) -> None:
        company = make_company("Error Look Co")
        make_user(company, SystemRole.USER, email="sub@errors.test")
        make_user(company, SystemRole.TICKET_ADMIN, email="admin@errors.test")

        self.expect_error_page("/no-such-page/", 404, "Page not found", "Go to the home page", "Log in")
        with self.assertLogs("django.request", "ERROR"):
            self.expect_error_page("/boom/", 500, "Something went wrong on our side")
            self.expect_error_page("/admin/boom/", 500, "TicketFlower back office", back_office=True)

        self.log_in(self.page, "sub@errors.test", PASSWORD)
        self.expect_error_page("/tasks/availability/", 403, "task worker role")
        self.expect_error_page("/admin/", 403, "The back office is not part of your account")
        self.page.get_by_role("link", name="Go to the home page").click()
        self.page.wait_for_url(self.url("/"))

        self.page.get_by_role("button", name="Log out").click()
        self.log_in(self.page, "admin@errors.test", PASSWORD)
        self.expect_error_page("/admin/tickets/ticket/add/", 403, "Back office home", back_office=True)
        self.assertTrue(self.page.locator("#nav-sidebar").count())  # inside the back office
        self.expect_error_page(
            "/admin/tickets/ticket/987654/change/", 404, "Page not found", back_office=True
        )
        self.assert_only_expected_errors(403, 404, 500)
