"""Empty lists say what to do next and link to it: My tickets (active, archive, a search
with no match), My tasks (caught up, paused, only queue work) and Claimable."""

from django.urls import reverse
from django_scopes import scopes_disabled

from accounts.models import CompanyRole
from accounts.roles import SystemRole
from project.testing import make_user
from tickets.tests.test_pages import PagesTestCase


class EmptyStateTests(PagesTestCase):
    def empty_cell(self, url: str, testid: str, **params: str) -> str:
        page = self.client.get(url, params).content.decode()
        marker = f'data-testid="{testid}"'
        self.assertIn(marker, page)
        return page[page.index(marker) : page.index("</td>", page.index(marker))]

    def test_my_tickets_empty_states_link_to_the_next_step(self) -> None:
        submitter = make_user(self.company, SystemRole.USER)
        self.client.force_login(submitter)
        active = self.empty_cell(reverse("ticket_list"), "tickets-empty")
        self.assertIn(f'href="{reverse("ticket_new")}"', active)
        self.assertIn("Submit a ticket", active)
        archive = self.empty_cell(reverse("ticket_archive"), "tickets-empty")
        self.assertIn(f'href="{reverse("ticket_list")}"', archive)
        search = self.empty_cell(reverse("ticket_list"), "tickets-empty", q="zzz-nothing")
        self.assertIn("No ticket matches “zzz-nothing”", search)
        self.assertIn(f'href="{reverse("ticket_list")}"', search)
        # With a ticket, no empty state.
        self.new_ticket(user=submitter)
        self.assertNotContains(self.client.get(reverse("ticket_list")), 'data-testid="tickets-empty"')

    def test_my_tasks_empty_states_for_caught_up_paused_and_queue_work(self) -> None:
        worker = make_user(self.company, SystemRole.TASK_WORKER)
        self.client.force_login(worker)
        caught_up = self.empty_cell(reverse("task_list"), "tasks-empty")
        self.assertIn("all caught up", caught_up)
        self.assertIn(f'href="{reverse("notification_preferences")}"', caught_up)
        self.assertNotContains(self.client.get(reverse("task_list")), 'data-testid="claimable-empty"')
        self.client.post(reverse("task_availability"), {"available": "0"})
        paused = self.empty_cell(reverse("task_list"), "tasks-empty")
        self.assertIn("I am available", paused)
        # A queue member with an empty queue: Claimable is shown, names the queue and says what next.
        with scopes_disabled():
            role = CompanyRole.objects.create(company=self.company, name="facilities")
        worker.company_roles.add(role)
        claimable = self.empty_cell(reverse("task_list"), "claimable-empty")
        self.assertIn("facilities", claimable)
        self.assertIn(f'href="{reverse("notification_preferences")}"', claimable)

    def test_ticket_admin_without_tasks_is_sent_to_the_back_office_list(self) -> None:
        self.client.force_login(self.ticket_admin)
        cell = self.empty_cell(reverse("task_list"), "tasks-empty")
        self.assertIn(f'href="{reverse("admin:workflows_taskinstance_changelist")}"', cell)

    def test_a_submitter_without_tasks_is_not_sent_to_the_back_office(self) -> None:
        self.client.force_login(self.submitter)
        cell = self.empty_cell(reverse("task_list"), "tasks-empty")
        self.assertIn("No open tasks", cell)
        self.assertNotIn("/admin/", cell)
        self.assertIn(f'href="{reverse("home")}"', cell)

    def test_another_companys_tickets_never_fill_the_list(self) -> None:
        # The foreign company has a ticket and a task; this company's new people see empty lists.
        submitter = make_user(self.company, SystemRole.USER, SystemRole.TASK_WORKER)
        self.client.force_login(submitter)
        self.empty_cell(reverse("ticket_list"), "tickets-empty")
        self.empty_cell(reverse("task_list"), "tasks-empty")


class TaskAgeTests(PagesTestCase):
    def test_a_fresh_task_reads_just_now(self) -> None:
        self.new_ticket()
        self.client.force_login(self.worker)
        page = self.client.get(reverse("task_list")).content.decode()
        self.assertIn("just now", page)
        self.assertNotIn("0\xa0minutes", page)
        self.assertNotIn("0 minutes", page)
