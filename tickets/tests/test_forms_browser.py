from django_scopes import scopes_disabled

from accounts.roles import SystemRole
from accounts.tenancy import company_scope
from project.browser import BrowserTestCase
from project.testing import PASSWORD, make_company, make_ticket_type, make_user, make_workflow
from tickets.services import submit_ticket

FIELDS = {
    "type": "object",
    "properties": {
        "title": {"type": "string", "title": "Summary"},
        "laptop": {"type": "boolean", "title": "Needs a laptop"},
    },
    "required": ["title"],
}
OUTPUT = {
    "type": "object",
    "properties": {
        "approved": {"type": "boolean", "title": "Approved", "description": "Say no if in doubt."},
        "decision": {
            "type": "string",
            "title": "Reason",
            "enum": ["budget", "other"],
            "enumNames": ["Over budget", "Something else"],
        },
    },
    "required": ["approved", "decision"],
}


class FormsBrowserTests(BrowserTestCase):
    def test_a_required_yes_no_answered_no_submits(self) -> None:
        company = make_company("Forms Co")
        submitter = make_user(company, SystemRole.USER, email="sub@forms.test")
        make_user(company, SystemRole.TASK_WORKER, email="work@forms.test")
        wf = make_workflow(
            company,
            [
                {
                    "key": "approve",
                    "title": "Approve",
                    "output_schema": OUTPUT,
                    "input_transform": {"laptop": "ticket.laptop", "cost_centre": "`4711`"},
                }
            ],
        )
        tt = make_ticket_type(company, wf, fields=FIELDS)
        with company_scope(company):
            ticket = submit_ticket(
                user=submitter, ticket_type=tt, data={"title": "New starter", "laptop": True}
            )
        with scopes_disabled():
            task = ticket.workflow_instance.tasks.get()

        page = self.page
        self.log_in(page, "work@forms.test", PASSWORD)
        page.goto(self.url(f"/tasks/{task.pk}/"))
        # Ticket data as labelled values; the input repeats nothing the ticket panel shows.
        ticket_panel = page.get_by_test_id("ticket-panel").inner_text()
        self.assertIn("Needs a laptop", ticket_panel)
        self.assertIn("Yes", ticket_panel)
        self.assertEqual(
            page.get_by_test_id("input-panel").inner_text(), "From earlier steps\nCost centre\n4711"
        )
        # Required markers, enum titles, help text; inputs fill the card.
        self.assertIn("*", page.locator("legend", has_text="Approved").inner_text())
        self.assertIn("Over budget", page.content())
        self.assertIn("Say no if in doubt.", page.content())

        # Submitting with nothing chosen: one error under each field, no raw keys.
        page.get_by_role("button", name="Complete task").click()
        errors = page.locator(".field .errorlist li")
        self.assertEqual(errors.all_inner_texts(), ["This field is required.", "This field is required."])
        self.assertNotIn("approved:", page.content())

        page.get_by_role("group", name="Approved").get_by_label("No").check()
        page.get_by_label("Something else").check()
        page.get_by_role("button", name="Complete task").click()
        page.wait_for_url(self.url("/tasks/"))
        with scopes_disabled():
            task.refresh_from_db()
        self.assertEqual(task.output_data, {"approved": False, "decision": "other"})
        self.assert_console_clean()

    def test_submit_form_inputs_are_full_width(self) -> None:
        company = make_company("Wide Co")
        make_user(company, SystemRole.USER, email="wide@forms.test")
        tt = make_ticket_type(company, make_workflow(company, [{"key": "a"}]), fields=FIELDS)
        self.page.set_viewport_size({"width": 1280, "height": 900})
        self.log_in(self.page, "wide@forms.test", PASSWORD)
        self.page.goto(self.url(f"/tickets/new/{tt.pk}/"))
        card = self.page.locator("main form").bounding_box()
        summary = self.page.get_by_label("Summary").bounding_box()
        self.assertGreater(summary["width"], card["width"] * 0.9)
        self.assertEqual(self.page.locator("label", has_text="Summary").count(), 1)
        self.assert_console_clean()
