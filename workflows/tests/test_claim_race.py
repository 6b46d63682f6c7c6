"""Queue claims and pool assignment racing on real PostgreSQL row and advisory locks."""

from collections import Counter

from django.core.exceptions import PermissionDenied
from django.test import TransactionTestCase
from django_scopes import scopes_disabled

from accounts.models import CompanyRole, User
from accounts.roles import SystemRole
from accounts.tenancy import company_scope
from project.testing import make_company, make_ticket_type, make_user, make_workflow
from tickets import access
from tickets.services import submit_ticket
from workflows import assignment, services
from workflows.models import TaskInstance
from workflows.tests.test_concurrency import postgres_only, run_in_threads


@postgres_only
class ClaimRaceTests(TransactionTestCase):
    def setUp(self) -> None:
        self.company = make_company()
        self.submitter = make_user(self.company, SystemRole.USER)
        with scopes_disabled():
            self.role = CompanyRole.objects.create(company=self.company, name="it")
        self.members = [make_user(self.company, SystemRole.TASK_WORKER) for _ in range(50)]
        for m in self.members:
            m.company_roles.add(self.role)

    def counters_match(self) -> None:
        with scopes_disabled():
            rows = User.objects.annotate(truth=assignment.open_count_truth()).values_list(
                "open_tasks", "truth"
            )
            self.assertTrue(all(c == t for c, t in rows), list(rows))

    def test_50_parallel_claims_have_exactly_one_winner_then_release_and_claim(self) -> None:
        wf = make_workflow(self.company, [{"key": "desk", "assign": {"rule": "queue", "role": "it"}}])
        tt = make_ticket_type(self.company, wf, fields={"type": "object"})
        with company_scope(self.company):
            ticket = submit_ticket(user=self.submitter, ticket_type=tt, data={})
            task = ticket.workflow_instance.tasks.get()

        def claim(i: int) -> int:
            with company_scope(self.company):
                services.claim(task=task, actor=self.members[i], permitted=access.may_claim_task)
                return self.members[i].pk

        results = run_in_threads(50, claim)
        winners = [r for r in results if isinstance(r, int)]
        losers = [r for r in results if isinstance(r, services.StateConflict)]
        self.assertEqual(len(winners), 1, results)
        self.assertEqual(len(losers), 49, results)
        with scopes_disabled():
            task.refresh_from_db()
            self.assertEqual(task.assigned_to_id, winners[0])
            self.assertEqual(ticket.timeline.filter(kind="claimed").count(), 1)
        self.counters_match()
        winner = User.objects.get(pk=winners[0])
        other = next(m for m in self.members if m.pk != winner.pk)
        with company_scope(self.company):
            with self.assertRaises(PermissionDenied):
                services.release(task=task, actor=other)
            services.release(task=task, actor=winner)
            services.claim(task=task, actor=other, permitted=access.may_claim_task)
        with scopes_disabled():
            task.refresh_from_db()
        self.assertEqual(task.assigned_to_id, other.pk)
        self.counters_match()

    def test_parallel_submits_balance_within_a_role_pool(self) -> None:
        managers = self.members[:4]
        with scopes_disabled():
            boss = CompanyRole.objects.create(company=self.company, name="managers")
        for m in managers:
            m.company_roles.add(boss)
        wf = make_workflow(
            self.company, [{"key": "approve", "assign": {"rule": "least_loaded", "role": "managers"}}]
        )
        tt = make_ticket_type(self.company, wf, fields={"type": "object"})

        def submit(i: int) -> int:
            with company_scope(self.company):
                return submit_ticket(user=self.submitter, ticket_type=tt, data={"n": i}).pk

        results = run_in_threads(24, submit)
        self.assertTrue(all(isinstance(r, int) for r in results), results)
        with scopes_disabled():
            loads = Counter(TaskInstance.objects.values_list("assigned_to", flat=True))
        self.assertEqual(set(loads), {m.pk for m in managers})
        self.assertEqual(sorted(loads.values()), [6, 6, 6, 6])
        self.counters_match()
