from django_scopes import scopes_disabled

from project.browser import BrowserTestCase
from tickets.models import Ticket


class FirstRunBrowserTests(BrowserTestCase):
    def test_sign_up_to_a_completed_first_ticket(self) -> None:
        page = self.page
        page.goto(self.url("/signup/"))
        page.get_by_label("Company name").fill("Bloom Ltd")
        page.get_by_label("First name").fill("Flora")
        page.get_by_label("Last name").fill("Founder")
        page.get_by_label("Email").fill("flora@bloom.test")
        page.get_by_label("Password").fill("a-long-enough-passphrase")
        page.get_by_role("button", name="Sign up").click()
        page.wait_for_url(self.url("/"))

        # The checklist: nothing done yet; the workflow step leads to the gallery.
        checklist = page.get_by_test_id("setup-checklist")
        self.assertTrue(checklist.is_visible())
        for step in ("invite", "workflow", "ticket"):
            self.assertEqual(page.get_by_test_id(f"step-{step}").get_attribute("data-done"), "false")
        page.get_by_role("link", name="Choose a template").click()
        page.wait_for_url(self.url("/templates/"))
        page.get_by_role("button", name="Install IT support").click()
        page.wait_for_url(self.url("/"))
        self.assertEqual(page.get_by_test_id("step-workflow").get_attribute("data-done"), "true")
        self.assertEqual(page.get_by_test_id("step-ticket").get_attribute("data-done"), "false")

        # The founder holds every role but gets no tasks until they say so (issue 10):
        # the install says the steps would wait, and the checklist leads to the switch.
        self.assertIn("Nobody can do these steps yet", page.locator(".messages").inner_text())
        self.assertEqual(page.get_by_test_id("step-workers").get_attribute("data-done"), "false")
        page.get_by_test_id("step-workers").get_by_role("link", name="Make yourself available").click()
        page.wait_for_url(self.url("/tasks/"))
        page.get_by_role("button", name="I am available").click()
        page.wait_for_url(self.url("/tasks/"))
        page.goto(self.url("/"))
        self.assertEqual(page.get_by_test_id("step-workers").get_attribute("data-done"), "true")

        # First ticket, from the checklist.
        page.get_by_test_id("step-ticket").get_by_role("link", name="Submit a ticket").click()
        page.wait_for_url(self.url("/tickets/new/"))
        page.get_by_role("link", name="Start").click()
        page.get_by_label("Summary").fill("Printer is jammed")
        page.get_by_role("button", name="Submit ticket").click()
        page.wait_for_url("**/tickets/*/")
        with scopes_disabled():
            ticket = Ticket.objects.get(title="Printer is jammed")

        # Available now, the founder gets the steps: triage, then fix.
        page.goto(self.url("/tasks/"))
        page.get_by_role("link", name="Triage").click()
        page.get_by_label("high").check()
        page.get_by_role("button", name="Complete task").click()
        page.wait_for_url(self.url("/tasks/"))
        page.get_by_role("link", name="Fix").click()
        page.get_by_label("Resolution").fill("Cleared the paper path")
        page.get_by_role("button", name="Complete task").click()
        page.wait_for_url(self.url("/tasks/"))

        page.goto(self.url(f"/tickets/{ticket.pk}/"))
        self.assertIn("Completed", page.get_by_test_id("status").inner_text())
        page.goto(self.url("/"))
        self.assertEqual(page.get_by_test_id("step-ticket").get_attribute("data-done"), "true")
        self.assert_console_clean()
