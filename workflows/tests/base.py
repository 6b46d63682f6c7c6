from typing import Any

from django.test import TestCase
from django_scopes import scopes_disabled

from accounts.models import Company, User
from accounts.roles import SystemRole
from accounts.tenancy import company_scope
from project.testing import make_company, make_ticket_type, make_user, run_queued_tasks
from tickets.models import Ticket
from tickets.services import submit_ticket
from workflows.models import TaskInstance, WorkflowDefinition


class EngineTestCase(TestCase):
    """A company with a submitter, a ticket admin and one task worker; tests run in
    the company's scope."""

    company: Company
    submitter: User
    worker: User
    admin: User

    @classmethod
    def setUpTestData(cls) -> None:
        cls.company = make_company("Acme")
        cls.submitter = make_user(cls.company, SystemRole.USER)
        cls.worker = make_user(cls.company, SystemRole.TASK_WORKER)
        cls.admin = make_user(cls.company, SystemRole.TICKET_ADMIN)

    def setUp(self) -> None:
        self.enterContext(company_scope(self.company))

    def submit(self, workflow: WorkflowDefinition, data: dict[str, Any] | None = None) -> Ticket:
        tt = make_ticket_type(self.company, workflow, fields={"type": "object"})
        with self.captureOnCommitCallbacks(execute=True):
            return submit_ticket(user=self.submitter, ticket_type=tt, data=data or {"title": "Help"})

    def drain(self) -> int:
        """Runs background tasks until none is left, including those enqueued on commit."""
        total = 0
        for _ in range(500):  # a bound, so a definition loop fails the test instead of hanging
            with self.captureOnCommitCallbacks(execute=True):
                ran = run_queued_tasks(limit=1)
            total += ran
            if not ran:
                return total
        raise AssertionError("Background tasks kept coming: a loop?")

    def current_task(self, ticket: Ticket) -> TaskInstance:
        task = ticket.workflow_instance.tasks.order_by("-id").first()
        assert task is not None
        return task

    def status(self, ticket: Ticket) -> str:
        ticket.workflow_instance.refresh_from_db()
        return ticket.workflow_instance.status

    def keys(self, ticket: Ticket) -> list[str]:
        return list(
            ticket.workflow_instance.tasks.order_by("id").values_list("task_definition__key", flat=True)
        )

    def errors(self, ticket: Ticket) -> list[tuple[str, str]]:
        with scopes_disabled():
            return list(ticket.errors.order_by("id").values_list("error_type", "message"))
