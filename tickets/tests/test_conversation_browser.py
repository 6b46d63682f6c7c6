"""Browser: a worker asks the submitter a question, the submitter answers, the worker
completes the task. Each side gets its email (through the loopback SMTP server) and
its in-app notice."""

import re
import tempfile

from django.test import override_settings
from django_scopes import scopes_disabled

from accounts.roles import SystemRole
from accounts.tenancy import company_scope
from project.browser import BrowserTestCase
from project.testing import (
    PASSWORD,
    RealMailMixin,
    make_company,
    make_ticket_type,
    make_user,
    make_workflow,
    run_queued_tasks,
)
from tickets.services import submit_ticket
from workflows.models import TaskInstance

ANSWER = {
    "type": "object",
    "properties": {"answer": {"type": "string", "title": "Answer"}},
    "required": ["answer"],
}


def link_in(text: str) -> str:
    """The path of the first link to the app in an email body."""
    match = re.search(r"https?://[^/\s]+(/\S+)", text)
    assert match, text
    return match.group(1)


@override_settings(MEDIA_ROOT=tempfile.mkdtemp())
class ConversationBrowserTests(RealMailMixin, BrowserTestCase):
    def test_question_answer_and_completion_with_emails_and_notices(self) -> None:
        company = make_company("Chat Co")
        submitter = make_user(company, SystemRole.USER, email="sub@chat.test", first_name="Sara")
        worker = make_user(company, SystemRole.TASK_WORKER, email="work@chat.test", first_name="Will")
        wf = make_workflow(company, [{"key": "fix", "title": "Fix the lamp", "output_schema": ANSWER}])
        tt = make_ticket_type(company, wf)
        with company_scope(company):
            ticket = submit_ticket(user=submitter, ticket_type=tt, data={"title": "Lamp flickers"})
        with scopes_disabled():
            task = TaskInstance.objects.get(workflow_instance__ticket=ticket)
        run_queued_tasks()
        self.assertEqual(len(self.mail(to=worker.email)), 1)  # the task assigned to them

        # The worker asks a question from the task page.
        worker_context = self.browser.new_context()
        self.addCleanup(worker_context.close)
        worker_page = worker_context.new_page()
        self.watch_console(worker_page)
        self.log_in(worker_page, worker.email, PASSWORD)
        worker_page.goto(self.url(f"/tasks/{task.pk}/"))
        worker_page.get_by_label("Message").fill("Which room is the lamp in?")
        worker_page.get_by_role("button", name="Send").click()
        worker_page.wait_for_url(self.url(f"/tasks/{task.pk}/"))
        self.assertIn("Which room is the lamp in?", worker_page.get_by_test_id("reply").inner_text())
        run_queued_tasks()

        # The submitter gets the email, follows its link and answers; the notice is there too.
        [question_mail] = [m for m in self.mail(to=submitter.email) if "New reply" in m.subject]
        self.assertIn("Which room is the lamp in?", question_mail.text)
        self.assertIn("Which room is the lamp in?", question_mail.html)
        page = self.page
        self.log_in(page, submitter.email, PASSWORD)
        self.assertEqual(page.get_by_test_id("nav-unread-notices").inner_text(), "2")  # received + reply
        page.goto(self.url("/notifications/"))
        self.assertIn("New reply on your ticket", page.get_by_test_id("notice").first.inner_text())
        page.goto(self.url(link_in(question_mail.text)))
        self.assertEqual(page.url, self.url(f"/tickets/{ticket.pk}/"))
        page.get_by_label("Message").fill("Room 12, by the window.")
        page.get_by_role("button", name="Send").click()
        page.wait_for_url(self.url(f"/tickets/{ticket.pk}/"))
        self.assertIn("Room 12, by the window.", page.locator("#conversation").inner_text())
        run_queued_tasks()

        # The worker gets the answer by email and as a notice, opens it and completes the task.
        [answer_mail] = [m for m in self.mail(to=worker.email) if "New reply" in m.subject]
        self.assertIn("Room 12, by the window.", answer_mail.text)
        self.assertEqual(link_in(answer_mail.text), f"/tasks/{task.pk}/")
        worker_page.goto(self.url("/"))
        self.assertEqual(
            worker_page.get_by_test_id("nav-unread-notices").inner_text(), "2"
        )  # assigned + reply
        worker_page.goto(self.url("/notifications/"))
        notice = worker_page.get_by_test_id("notice").first
        self.assertIn("New reply on ticket", notice.inner_text())
        notice.get_by_role("button", name="Open").click()
        worker_page.wait_for_url(self.url(f"/tasks/{task.pk}/"))
        self.assertIn("Room 12, by the window.", worker_page.locator("#conversation").inner_text())
        worker_page.get_by_label("Answer").fill("Replaced the bulb")
        worker_page.get_by_role("button", name="Complete task").click()
        worker_page.wait_for_url(self.url("/tasks/"))
        run_queued_tasks()

        # The submitter hears that the ticket is completed: email and notice.
        [done_mail] = [m for m in self.mail(to=submitter.email) if "is completed" in m.subject]
        self.assertEqual(link_in(done_mail.text), f"/tickets/{ticket.pk}/")
        page.goto(self.url("/notifications/"))
        self.assertIn("is completed", page.get_by_test_id("notice").first.inner_text())
        page.goto(self.url(f"/tickets/{ticket.pk}/"))
        self.assertIn("Completed", page.get_by_test_id("status").inner_text())
        # Nobody was mailed about their own messages.
        self.assertFalse(
            any("New reply" in m.subject for m in self.mail(to=worker.email) if "lamp in" in m.text)
        )
        self.assert_console_clean()
