"""Page-level checks of issue 16's form and task-page points that were only tested on
the form objects: required markers and one error per field on the submit page, and a
task page without questions or input hides those sections."""

import json

from django.urls import reverse
from django_scopes import scopes_disabled

from tickets.tests.test_pages import PagesTestCase


class PagePolishTests(PagesTestCase):
    def test_submit_page_marks_required_and_shows_one_error_per_field(self) -> None:
        self.client.force_login(self.submitter)
        url = reverse("ticket_submit", args=[self.tt.pk])
        page = self.client.get(url).content.decode()
        summary = page[page.index("Summary") : page.index("</label>", page.index("Summary"))]
        self.assertIn('class="req"', summary)  # "title" is required
        quantity = page[page.index("Quantity") : page.index("</label>", page.index("Quantity"))]
        self.assertNotIn('class="req"', quantity)
        response = self.client.post(url, {"data__title": "", "data__qty": ""})
        text = response.content.decode()
        self.assertEqual(response.status_code, 200)
        self.assertEqual(text.count("This field is required."), 1)
        self.assertNotIn("title: This field is required.", text)

    def test_task_without_questions_or_input_hides_those_sections(self) -> None:
        ticket = self.new_ticket()
        with scopes_disabled():
            first = ticket.workflow_instance.tasks.get()
        self.client.force_login(self.worker)
        self.client.post(reverse("task_detail", args=[first.pk]), {"data": json.dumps({"answer": "done it"})})
        with scopes_disabled():
            second = ticket.workflow_instance.tasks.exclude(pk=first.pk).get()
        page = self.client.get(reverse("task_detail", args=[second.pk])).content.decode()
        self.assertNotIn("Your answer", page)
        self.assertIn("This step needs no answer", page)
        self.assertNotIn('data-testid="input-panel"', page)  # step b has no input transform
        self.assertIn('data-testid="ticket-panel"', page)
