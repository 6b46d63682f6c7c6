from unittest import skipUnless

import psycopg
from django.db import connection
from django.test import TestCase, TransactionTestCase, override_settings
from django.urls import reverse

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

    def test_a_lost_database_is_503_with_retry_after(self) -> None:
        for path, marker in (("/db-gone/", "css/app.css"), ("/admin/db-gone/", "unfold/css/styles.css")):
            with self.subTest(path=path), self.assertLogs("django.request", "ERROR"):
                response = self.client.get(path)
                self.assertContains(response, "The service is busy for a moment", status_code=503)
                self.assertContains(response, "may not have finished", status_code=503)
                self.assertContains(response, marker, status_code=503)
                self.assertEqual(response["Retry-After"], "5")


@skipUnless(connection.vendor == "postgresql", "terminates a PostgreSQL backend")
class ConnectionCutTests(TransactionTestCase):
    """The connection is really cut (pg_terminate_backend from a second session), as in
    bench/faults.py: the page and the API answer 503 with Retry-After, not 500."""

    def setUp(self) -> None:
        self.company = make_company("Cut Co")
        self.user = make_user(self.company, SystemRole.USER)
        self.client.raise_request_exception = False
        self.client.force_login(self.user)
        self.addCleanup(connection.close)  # unusable after the cut; the next test reconnects

    def cut(self) -> None:
        connection.ensure_connection()
        pid = connection.connection.info.backend_pid  # type: ignore[union-attr]
        params = connection.get_connection_params()
        conninfo = {k: v for k, v in params.items() if k in ("dbname", "user", "host", "port", "password")}
        with psycopg.connect(**conninfo, autocommit=True) as other:
            other.execute("SELECT pg_terminate_backend(%s)", [pid])

    def test_page_answers_503(self) -> None:
        self.cut()
        with self.assertLogs("django.request", "ERROR"):
            response = self.client.get(reverse("ticket_list"))
        self.assertContains(response, "The service is busy for a moment", status_code=503)
        self.assertEqual(response["Retry-After"], "5")

    def test_api_answers_503_problem(self) -> None:
        self.cut()  # fails in the middleware (the session), before the API's own handlers
        with self.assertLogs("django.request", "ERROR"):
            response = self.client.get("/api/v1/tickets")
        self.assertEqual(response.status_code, 503, response.content)
        self.assertEqual(response["Retry-After"], "5")
        self.assertEqual(response["Content-Type"], "application/problem+json")
        self.assertEqual(response.json()["status"], 503)


class ApiDatabaseErrorTests(TestCase):
    def test_an_api_view_losing_the_database_answers_a_503_problem(self) -> None:
        # The API's catch-all handler, reached when the connection drops inside an
        # operation (after the middleware's session read).
        from django.db import OperationalError
        from django.test import RequestFactory

        from api.views import _crash

        request = RequestFactory().get("/api/v1/tickets")
        with self.assertLogs("api.views", "ERROR"):
            lost = _crash(request, OperationalError("server closed the connection unexpectedly"))
            bug = _crash(request, RuntimeError("a bug"))
        self.assertEqual((lost.status_code, lost["Retry-After"]), (503, "5"))
        self.assertEqual(bug.status_code, 500)
        self.assertFalse(bug.has_header("Retry-After"))


class TransientErrorTests(TestCase):
    def test_a_mistake_in_sql_is_a_500_not_a_busy_database(self) -> None:
        # SQLite reports "no such column" as OperationalError: still a bug, not a retry.
        from django.db import DatabaseError

        from workflows.resilience import transient_database_error

        with self.assertRaises(DatabaseError) as caught, connection.cursor() as cursor:
            cursor.execute("SELECT no_such_column FROM accounts_user")
        self.assertFalse(transient_database_error(caught.exception))


@skipUnless(connection.vendor == "postgresql", "a row lock held by a second session")
class BulkActionLockTimeoutTests(TransactionTestCase):
    """Found in review: a bulk back-office action commits ticket by ticket, so a lock
    timeout on a later ticket must not become a 503 'nothing was saved' that hides the
    tickets already changed."""

    def test_done_items_are_reported_and_the_rest_named(self) -> None:
        from django_scopes import scopes_disabled

        from accounts.tenancy import company_scope
        from project.testing import make_ticket_type, make_workflow
        from tickets.services import submit_ticket
        from workflows.models import WorkflowInstance

        company = make_company("Bulk Co")
        admin = make_user(company, SystemRole.TICKET_ADMIN)
        submitter = make_user(company, SystemRole.USER)
        make_user(company, SystemRole.TASK_WORKER)
        wf = make_workflow(company, [{"key": "a"}], key="flow")
        tt = make_ticket_type(company, wf, fields={"type": "object"})
        with company_scope(company):
            tickets = [submit_ticket(user=submitter, ticket_type=tt, data={"title": t}) for t in "ab"]
        locked, free = sorted(t.workflow_instance_id for t in tickets)
        self.client.force_login(admin)
        params = connection.get_connection_params()
        conninfo = {k: v for k, v in params.items() if k in ("dbname", "user", "host", "port", "password")}
        with psycopg.connect(**conninfo) as other:  # another transaction holds one ticket's row
            other.execute("SELECT id FROM workflows_workflowinstance WHERE id = %s FOR UPDATE", [locked])
            with connection.cursor() as cursor:
                cursor.execute("SET lock_timeout = '300ms'")
            response = self.client.post(
                reverse("admin:tickets_ticket_changelist"),
                {"action": "hold_selected", "_selected_action": [t.pk for t in tickets], "confirm": "yes"},
                follow=True,
            )
            other.rollback()
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = 0")
        with scopes_disabled():
            statuses = dict(
                WorkflowInstance.objects.filter(pk__in=[locked, free]).values_list("pk", "status")
            )
        self.assertEqual(response.status_code, 200)
        self.assertEqual(statuses, {locked: "IN_PROGRESS", free: "ON_HOLD"})
        texts = [str(m) for m in response.context["messages"]]
        self.assertTrue(any("the database did not answer" in t for t in texts), texts)
        self.assertTrue(any("1 done" in t for t in texts), texts)
