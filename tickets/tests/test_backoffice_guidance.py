"""The back office guides: columns, default filters, actions only where they apply,
read-only pages without Save, labelled data, errors with Retry, reassign with workload."""

from django.urls import reverse
from django_scopes import scopes_disabled

from accounts.tenancy import company_scope
from tickets import access
from tickets.models import TicketError
from tickets.tests.test_admin import BackOfficeTestCase
from workflows import services
from workflows.models import TaskInstance, TaskStatus


class GuidanceTests(BackOfficeTestCase):
    def test_ticket_list_shows_assignee_and_current_step(self) -> None:
        ticket = self.ticket()
        task = self.task_of(ticket)
        with company_scope(self.company):
            services.reassign(
                task=task, user=self.worker2, actor=self.ticket_admin, eligible=access.may_receive_task
            )
        self.client.force_login(self.ticket_admin)
        response = self.client.get(reverse("admin:tickets_ticket_changelist"))
        self.assertContains(response, "Assignee")
        self.assertContains(response, "Current step")
        self.assertContains(response, str(self.worker2))

    def test_task_list_is_open_tasks_newest_first_by_default(self) -> None:
        first, second = self.ticket(), self.ticket()
        done = self.ticket()
        with scopes_disabled():
            TaskInstance.objects.filter(pk=self.task_of(done).pk).update(status=TaskStatus.COMPLETED)
        self.client.force_login(self.ticket_admin)
        response = self.client.get(reverse("admin:workflows_taskinstance_changelist"))
        rows = [t.pk for t in response.context["cl"].result_list]  # type: ignore[attr-defined]
        self.assertEqual(rows, [self.task_of(second).pk, self.task_of(first).pk])
        everything = self.client.get(reverse("admin:workflows_taskinstance_changelist") + "?state=all")
        self.assertEqual(len(everything.context["cl"].result_list), 3)  # type: ignore[attr-defined]

    def test_actions_only_in_states_where_they_apply(self) -> None:
        ticket = self.ticket()
        self.client.force_login(self.ticket_admin)
        url = reverse("admin:tickets_ticket_change", args=[ticket.pk])
        page = self.client.get(url).content.decode()
        self.assertIn(reverse("admin:tickets_ticket_hold_detail", args=[ticket.pk]), page)
        self.assertIn(reverse("admin:tickets_ticket_cancel_detail", args=[ticket.pk]), page)
        self.assertNotIn(reverse("admin:tickets_ticket_retry_detail", args=[ticket.pk]), page)
        self.assertNotIn(reverse("admin:tickets_ticket_resume_detail", args=[ticket.pk]), page)
        with company_scope(self.company):
            services.hold(instance=ticket.workflow_instance, actor=self.ticket_admin)
        page = self.client.get(url).content.decode()
        self.assertIn(reverse("admin:tickets_ticket_resume_detail", args=[ticket.pk]), page)
        self.assertNotIn(reverse("admin:tickets_ticket_hold_detail", args=[ticket.pk]), page)
        self.assertNotIn(reverse("admin:tickets_ticket_retry_detail", args=[ticket.pk]), page)
        # A stale button still gets the service's answer, not a 403.
        retry = self.client.post(reverse("admin:tickets_ticket_hold_detail", args=[ticket.pk]), follow=True)
        self.assertContains(retry, "Only a ticket in progress can be put on hold.")

    def test_read_only_pages_have_no_save_and_data_is_labelled(self) -> None:
        with scopes_disabled():
            self.tt.fields = {
                "type": "object",
                "properties": {"title": {"type": "string", "title": "Summary"}},
            }
            self.tt.save()
        ticket = self.ticket()
        self.client.force_login(self.ticket_admin)
        page = self.client.get(reverse("admin:tickets_ticket_change", args=[ticket.pk])).content.decode()
        self.assertNotIn('name="_save"', page)
        self.assertNotIn('name="_continue"', page)
        self.assertIn("<td>Summary</td><td>t</td>", page)
        task_page = self.client.get(
            reverse("admin:workflows_taskinstance_change", args=[self.task_of(ticket).pk])
        )
        self.assertNotContains(task_page, 'name="_save"')

    def test_error_page_has_retry_and_hides_the_traceback(self) -> None:
        ticket = self.ticket()
        with company_scope(self.company):
            services.hold(instance=ticket.workflow_instance, actor=self.ticket_admin)
        with scopes_disabled():
            ticket.workflow_instance.hold_reason = "ERROR"
            ticket.workflow_instance.save(update_fields=["hold_reason"])
            error = TicketError.objects.create(
                company=self.company,
                ticket=ticket,
                error_type="TASK_UPDATE",
                message="The action answered 500.",
                stack_trace="Traceback (most recent call last):\n  boom",
            )
        self.client.force_login(self.ticket_admin)
        page = self.client.get(reverse("admin:tickets_ticketerror_change", args=[error.pk])).content.decode()
        retry_url = reverse("admin:tickets_ticketerror_retry_detail", args=[error.pk])
        self.assertIn(retry_url, page)
        self.assertIn("<details>", page)
        self.assertLess(page.index("The action answered 500."), page.index("Traceback (most recent"))
        self.client.post(retry_url, follow=True)
        ticket.workflow_instance.refresh_from_db()
        self.assertNotEqual(ticket.workflow_instance.status, "ON_HOLD")

    def test_reassign_preselects_and_shows_workload(self) -> None:
        ticket = self.ticket()
        task = self.task_of(ticket)
        with company_scope(self.company):
            services.reassign(
                task=task, user=self.worker2, actor=self.ticket_admin, eligible=access.may_receive_task
            )
        self.client.force_login(self.ticket_admin)
        page = self.client.get(reverse("admin:workflows_taskinstance_reassign_detail", args=[task.pk]))
        form = page.context["form"]  # type: ignore[attr-defined]
        self.assertEqual(form["assignee"].value(), self.worker2.pk)
        self.assertContains(page, f"{self.worker2} · 1 open task · available")
        self.assertContains(page, f"{self.worker} · 0 open tasks")
