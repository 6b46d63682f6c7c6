import tempfile
from pathlib import Path

from django.test import override_settings
from django_scopes import scopes_disabled

from accounts.models import CompanyRole
from accounts.roles import SystemRole
from project.browser import BrowserTestCase
from project.testing import PASSWORD, make_company, make_ticket_type, make_user, make_workflow
from tickets.models import Ticket

FIELDS = {
    "type": "object",
    "properties": {"title": {"type": "string", "title": "What for"}},
    "required": ["title"],
}
DECISION = {
    "type": "object",
    "properties": {"decision": {"type": "string", "title": "Decision"}},
    "required": ["decision"],
}
CHANGES = {
    "type": "object",
    "properties": {"changes": {"type": "string", "title": "What changed"}},
    "required": ["changes"],
}


@override_settings(MEDIA_ROOT=tempfile.mkdtemp())
class AssignmentBrowserTests(BrowserTestCase):
    def test_manager_approves_submitter_reworks_worker_opens_attachment(self) -> None:
        company = make_company("Rules Co")
        submitter = make_user(company, SystemRole.USER, email="sub@rules.test")
        make_user(company, SystemRole.TASK_WORKER, email="plain@rules.test")  # not a manager
        manager = make_user(company, SystemRole.TASK_WORKER, email="boss@rules.test")
        with scopes_disabled():
            manager.company_roles.add(CompanyRole.objects.create(company=company, name="managers"))
        wf = make_workflow(
            company,
            [
                {
                    "key": "approve",
                    "title": "Manager approval",
                    "output_schema": DECISION,
                    "public_fields": ["decision"],  # the submitter reads it on the rework
                    "assign": {"rule": "least_loaded", "role": "managers"},
                },
                {
                    "key": "rework",
                    "title": "Rework the request",
                    "output_schema": CHANGES,
                    "assign": {"rule": "submitter"},
                },
                {"key": "order", "title": "Place the order"},
            ],
            [
                ("approve", "rework", "output.decision == 'reject'", 0),
                ("approve", "order", "", 10),
                ("rework", "approve", "", 0),
            ],
        )
        tt = make_ticket_type(company, wf, fields=FIELDS)

        # The submitter asks, with an attachment.
        page = self.page
        self.log_in(page, submitter.email, PASSWORD)
        page.goto(self.url(f"/tickets/new/{tt.pk}/"))
        page.get_by_label("What for").fill("New laptop")
        attachment = Path(tempfile.mkdtemp()) / "quote.txt"
        attachment.write_text("the supplier's quote")
        page.get_by_label("Attachments").set_input_files(str(attachment))
        page.get_by_role("button", name="Submit ticket").click()
        page.wait_for_url("**/tickets/*/")
        with scopes_disabled():
            ticket = Ticket.objects.get(company=company)

        # The plain worker has nothing; the manager has the approval.
        plain = self.browser.new_context().new_page()
        self.watch_console(plain)
        self.log_in(plain, "plain@rules.test", PASSWORD)
        plain.goto(self.url("/tasks/"))
        self.assertIn("No open tasks", plain.get_by_test_id("my-tasks").inner_text())
        plain.context.close()

        boss = self.browser.new_context().new_page()
        self.watch_console(boss)
        self.log_in(boss, manager.email, PASSWORD)
        boss.goto(self.url("/tasks/"))
        boss.get_by_role("link", name="Manager approval").click()
        boss.wait_for_url("**/tasks/*/")
        self.assertIn("New laptop", boss.content())
        with boss.expect_download() as download:
            boss.get_by_test_id("attachments").get_by_role("link", name="quote.txt").click()
        self.assertEqual(Path(download.value.path()).read_text(), "the supplier's quote")
        # The assignee may open the ticket page from the task.
        boss.get_by_test_id("ticket-link").click()
        boss.wait_for_url(self.url(f"/tickets/{ticket.pk}/"))
        boss.go_back()
        boss.wait_for_url("**/tasks/*/")
        boss.get_by_label("Decision").fill("reject")
        boss.get_by_role("button", name="Complete task").click()
        boss.wait_for_url(self.url("/tasks/"))

        # The submitter reworks their own request from My tasks, without the worker role.
        page.goto(self.url("/tasks/"))
        page.get_by_role("link", name="Rework the request").click()
        page.wait_for_url("**/tasks/*/")
        self.assertIn("reject", page.get_by_test_id("earlier-steps").inner_text())
        page.get_by_label("What changed").fill("a cheaper model")
        page.get_by_role("button", name="Complete task").click()
        page.wait_for_url(self.url("/tasks/"))

        # Back to the manager, who approves.
        boss.goto(self.url("/tasks/"))
        boss.get_by_role("link", name="Manager approval").click()
        boss.wait_for_url("**/tasks/*/")
        self.assertIn("a cheaper model", boss.get_by_test_id("earlier-steps").inner_text())
        boss.get_by_label("Decision").fill("approve")
        boss.get_by_role("button", name="Complete task").click()
        boss.wait_for_url(self.url("/tasks/"))
        boss.context.close()
        page.goto(self.url(f"/tickets/{ticket.pk}/"))
        self.assertIn("Place the order", page.get_by_test_id("current-step").inner_text())
        self.assert_console_clean()
