"""My tasks (`selectors.my_task_page`): plain rows with the strings the table prints, the
same from the prepared first page and from the ORM's later pages; only the user's own
open tasks of their company."""

from django.test import TestCase
from django.urls import reverse
from django_scopes import scopes_disabled

from accounts.models import User
from accounts.roles import SystemRole
from accounts.tenancy import company_scope
from project.testing import make_company, make_ticket_type, make_user, make_workflow
from tickets.models import Ticket
from tickets.selectors import MY_TASKS_PAGE_SIZE, MyTaskRow, my_task_page
from tickets.services import submit_ticket
from tickets.tests.test_performance import FIELDS
from workflows import services
from workflows.models import TaskInstance, TaskStatus


class MyTaskPageTests(TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        cls.company = make_company("Rows Co")
        cls.submitter = make_user(cls.company, SystemRole.USER)
        cls.worker = make_user(cls.company, SystemRole.TASK_WORKER)
        cls.admin = make_user(cls.company, SystemRole.TICKET_ADMIN)
        workflow = make_workflow(cls.company, [{"key": "look", "title": "Look <closely>"}])
        cls.tt = make_ticket_type(cls.company, workflow, fields=FIELDS)

    def submit(self, title: str) -> tuple[Ticket, TaskInstance]:
        with company_scope(self.company):
            ticket = submit_ticket(user=self.submitter, ticket_type=self.tt, data={"title": title})
        with scopes_disabled():
            task = ticket.workflow_instance.tasks.get()
        return ticket, task

    def page(self, user: User, **cursor: str) -> list[MyTaskRow]:
        with company_scope(self.company):
            return my_task_page(user, **cursor).rows

    def test_a_row_holds_what_the_table_prints(self) -> None:
        ticket, task = self.submit("Desk & chair")
        self.assertEqual(task.assigned_to, self.worker)
        [row] = self.page(self.worker)
        self.assertEqual(
            row,
            MyTaskRow(
                pk=task.pk,
                created_at=task.created_at,
                url=reverse("task_detail", args=[task.pk]),
                title="Look <closely>",
                ticket_url=reverse("ticket_detail", args=[ticket.pk]),
                ticket_label=f"#{ticket.pk} {ticket.title}",
                ticket_type=self.tt.title,
                badge=TaskStatus.OPEN.value,
                status_label="Open",
            ),
        )
        self.client.force_login(self.worker)
        html = self.client.get(reverse("task_list")).content.decode()
        self.assertIn(f'<a href="{row.url}">Look &lt;closely&gt;</a>', html)
        self.assertIn(
            f'<a href="{row.ticket_url}">#{ticket.pk} {ticket.title.replace("&", "&amp;")}</a>', html
        )
        self.assertIn('<span class="badge OPEN">Open</span>', html)

    def test_a_held_workflow_shows_on_hold_instead_of_the_status(self) -> None:
        ticket, _ = self.submit("Held one")
        with company_scope(self.company):
            services.hold(instance=ticket.workflow_instance, actor=self.admin)
        [row] = self.page(self.worker)
        self.assertEqual((row.badge, row.status_label), ("ON_HOLD", "On hold"))
        self.client.force_login(self.worker)
        self.assertContains(
            self.client.get(reverse("task_list")), '<span class="badge ON_HOLD">On hold</span>'
        )

    def test_later_pages_make_the_same_rows_as_the_prepared_first_page(self) -> None:
        for i in range(MY_TASKS_PAGE_SIZE + 3):
            self.submit(f"T{i}")
        with company_scope(self.company):
            first = my_task_page(self.worker)
            assert first.next is not None
            second = my_task_page(self.worker, after=first.next)
            assert second.previous is not None
            back = my_task_page(self.worker, before=second.previous)  # the ORM's query
        self.assertEqual(len(first.rows), MY_TASKS_PAGE_SIZE)
        self.assertEqual(len(second.rows), 3)
        self.assertIsNone(second.next)
        self.assertEqual(back.rows, first.rows)
        keys = [(r.created_at, r.pk) for r in [*first.rows, *second.rows]]
        self.assertEqual(keys, sorted(keys))

    def test_only_the_users_own_open_tasks_of_their_company(self) -> None:
        _, task = self.submit("Mine")
        other_worker = make_user(self.company, SystemRole.TASK_WORKER)
        foreign = make_company("Elsewhere")
        foreign_worker = make_user(foreign, SystemRole.TASK_WORKER)
        foreign_tt = make_ticket_type(
            foreign, make_workflow(foreign, [{"key": "x", "title": "X"}]), fields=FIELDS
        )
        with company_scope(foreign):
            submit_ticket(
                user=make_user(foreign, SystemRole.USER), ticket_type=foreign_tt, data={"title": "Theirs"}
            )
        self.assertEqual([r.pk for r in self.page(self.worker)], [task.pk])
        self.assertEqual(self.page(other_worker), [])
        with company_scope(foreign):
            theirs = my_task_page(foreign_worker).rows
        self.assertEqual(len(theirs), 1)
        self.assertNotEqual(theirs[0].pk, task.pk)
        with scopes_disabled():
            TaskInstance.objects.filter(pk=task.pk).update(status=TaskStatus.COMPLETED)
        self.assertEqual(self.page(self.worker), [])
