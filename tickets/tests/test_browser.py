import tempfile
from pathlib import Path

from django.test import override_settings
from django_scopes import scopes_disabled

from accounts.roles import SystemRole
from project.browser import BrowserTestCase
from project.testing import PASSWORD, make_company, make_ticket_type, make_user, make_workflow
from tickets.models import Ticket

FIELDS = {
    "type": "object",
    "properties": {"title": {"type": "string", "title": "Summary"}},
    "required": ["title"],
}
ANSWER = {
    "type": "object",
    "properties": {"answer": {"type": "string", "title": "Answer"}},
    "required": ["answer"],
}


@override_settings(MEDIA_ROOT=tempfile.mkdtemp())
class TicketJourneyBrowserTests(BrowserTestCase):
    def test_submit_work_and_archive(self) -> None:
        company = make_company("Journey Co")
        submitter = make_user(company, SystemRole.USER, email="sub@journey.test")
        make_user(company, SystemRole.TASK_WORKER, email="work@journey.test")
        wf = make_workflow(
            company,
            [
                {"key": "triage", "title": "Triage", "output_schema": ANSWER},
                {"key": "fix", "title": "Fix it", "output_schema": ANSWER},
            ],
            [("triage", "fix", "", 0)],
        )
        tt = make_ticket_type(company, wf, fields=FIELDS)

        # The submitter submits a ticket with an attachment.
        page = self.page
        self.log_in(page, submitter.email, PASSWORD)
        page.goto(self.url("/tickets/new/"))
        page.get_by_role("link", name="Start").click()
        page.wait_for_url(self.url(f"/tickets/new/{tt.pk}/"))
        page.get_by_label("Summary").fill("Broken screen")
        attachment = Path(tempfile.mkdtemp()) / "photo.txt"
        attachment.write_text("a photo")
        page.get_by_label("Attachments").set_input_files(str(attachment))
        page.get_by_role("button", name="Submit ticket").click()
        page.wait_for_url("**/tickets/*/")
        with scopes_disabled():
            ticket = Ticket.objects.get(company=company)
        self.assertIn("photo.txt", page.content())
        self.assertIn("Triage", page.get_by_test_id("current-step").inner_text())

        # A worker sees the task and completes the form, twice.
        worker_page = self.browser.new_context().new_page()
        self.watch_console(worker_page)
        self.log_in(worker_page, "work@journey.test", PASSWORD)
        for step in ("Triage", "Fix it"):
            worker_page.goto(self.url("/tasks/"))
            worker_page.get_by_role("link", name=step).click()
            worker_page.get_by_label("Answer").fill(f"{step} done")
            worker_page.get_by_role("button", name="Complete task").click()
            worker_page.wait_for_url(self.url("/tasks/"))
            self.assertIn("is done", worker_page.content())
            if step == "Triage":
                page.goto(self.url(f"/tickets/{ticket.pk}/"))
                self.assertIn("Fix it", page.get_by_test_id("current-step").inner_text())
        worker_page.context.close()

        # After the last step the submitter finds it in the archive.
        page.goto(self.url(f"/tickets/{ticket.pk}/"))
        self.assertIn("Completed", page.get_by_test_id("status").inner_text())
        page.goto(self.url("/tickets/archive/"))
        self.assertIn(f"#{ticket.pk}", page.content())
        page.goto(self.url("/tickets/"))
        self.assertNotIn(f"#{ticket.pk}", page.locator("table").inner_text())
        self.assert_console_clean()
