"""The `assign` rule of FORM tasks: each rule, each fallback, and the counters."""

from io import StringIO
from typing import Any
from unittest import skipUnless

from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_scopes import scopes_disabled
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase as HypothesisTestCase

from accounts.models import CompanyRole, User
from accounts.roles import SystemRole
from accounts.services import sync_task_worker_flags
from accounts.tenancy import company_scope
from project.testing import make_company, make_ticket_type, make_user, make_workflow
from tickets import access
from tickets.models import Ticket
from tickets.services import submit_ticket
from workflows import assignment, selectors, services
from workflows.models import TaskInstance, TaskStatus, WorkflowStatus
from workflows.tests.base import EngineTestCase


def role(company: Any, name: str, *members: User) -> CompanyRole:
    with scopes_disabled():
        r, _ = CompanyRole.objects.get_or_create(company=company, name=name)
        for m in members:
            m.company_roles.add(r)
    return r


class RuleTestCase(EngineTestCase):
    def assigned(self, ticket: Ticket) -> tuple[User | None, str]:
        """(assignee, reason on the timeline) of the ticket's newest task."""
        task = self.current_task(ticket)
        event = ticket.timeline.filter(kind="assigned", task_instance=task).get()
        return task.assigned_to, event.message

    def one(self, assign: dict[str, Any], data: dict[str, Any] | None = None) -> Ticket:
        wf = make_workflow(self.company, [{"key": "a", "assign": assign}])
        return self.submit(wf, data)

    def counters_match(self) -> None:
        with scopes_disabled():
            rows = User.objects.annotate(truth=assignment.open_count_truth()).values_list(
                "email", "open_tasks", "truth"
            )
            self.assertEqual([(e, t) for e, _, t in rows], [(e, c) for e, c, _ in rows])


class LeastLoadedTests(RuleTestCase):
    def test_default_is_least_loaded_over_all_workers(self) -> None:
        user, reason = self.assigned(self.one({}))
        self.assertEqual(user, self.worker)
        self.assertIn("fewest among 1 available task workers", reason)

    def test_role_limits_the_pool_and_balances_within_it(self) -> None:
        m1 = make_user(self.company, SystemRole.TASK_WORKER)
        m2 = make_user(self.company, SystemRole.TASK_WORKER)
        role(self.company, "managers", m1, m2)
        wf = make_workflow(
            self.company, [{"key": "a", "assign": {"rule": "least_loaded", "role": "managers"}}]
        )
        got = [self.assigned(self.submit(wf))[0] for _ in range(4)]
        self.assertEqual(sorted(u.pk for u in got if u), sorted([m1.pk, m1.pk, m2.pk, m2.pk]))
        self.assertNotIn(self.worker, got)
        self.counters_match()

    def test_who_just_completed_a_step_counts_without_it_for_the_next_step(self) -> None:
        # The completed step's decrement is written at the end of the transaction (lock
        # order), after the next step's pick: the pick must count it all the same.
        other = make_user(self.company, SystemRole.TASK_WORKER)
        wf = make_workflow(self.company, [{"key": "a"}, {"key": "b"}], [("a", "b", "", 0)])
        self.assertEqual(self.assigned(self.submit(wf))[0], self.worker)  # never assigned, lower id
        ticket = self.submit(wf)
        task = self.current_task(ticket)
        self.assertEqual(task.assigned_to, other)  # one open task each now
        services.complete_form_task(task=task, output={}, actor=other, permitted=access.may_complete_task)
        user, reason = self.assigned(ticket)
        self.assertEqual(user, other)  # 0 open tasks against the worker's 1
        self.assertIn("(0 open task(s), the fewest among 2", reason)
        self.counters_match()

    def test_empty_role_waits_unassigned_with_reason_and_shows_as_unassigned(self) -> None:
        role(self.company, "managers")
        ticket = self.one({"rule": "least_loaded", "role": "managers"})
        user, reason = self.assigned(ticket)
        self.assertIsNone(user)
        self.assertIn("No available task worker with the company role 'managers'", reason)
        self.assertIn("waits unassigned", reason)
        self.assertEqual(self.status(ticket), WorkflowStatus.IN_PROGRESS)
        self.assertIn(self.current_task(ticket), selectors.unassigned_tasks(TaskInstance.objects.all()))

    def test_role_deleted_after_import_is_a_reason_not_an_error(self) -> None:
        ticket = self.one({"rule": "least_loaded", "role": "ghosts"})
        user, reason = self.assigned(ticket)
        self.assertIsNone(user)
        self.assertIn("role 'ghosts' does not exist", reason)
        self.assertEqual(self.errors(ticket), [])

    def test_unavailable_and_inactive_members_are_skipped(self) -> None:
        away = make_user(self.company, SystemRole.TASK_WORKER, is_available=False)
        gone = make_user(self.company, SystemRole.TASK_WORKER, is_active=False)
        here = make_user(self.company, SystemRole.TASK_WORKER)
        role(self.company, "it", away, gone, here)
        user, _ = self.assigned(self.one({"rule": "least_loaded", "role": "it"}))
        self.assertEqual(user, here)


class QueueTests(RuleTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.a = make_user(self.company, SystemRole.TASK_WORKER)
        self.b = make_user(self.company, SystemRole.USER)  # members claim without task_worker
        self.it = role(self.company, "it", self.a, self.b)

    def test_queue_task_is_claimable_by_members_once(self) -> None:
        ticket = self.one({"rule": "queue", "role": "it"})
        task = self.current_task(ticket)
        user, reason = self.assigned(ticket)
        self.assertIsNone(user)
        self.assertIn("Waiting in the 'it' queue", reason)
        self.assertEqual(list(access.claimable_tasks(self.a)), [task])
        self.assertEqual(list(access.claimable_tasks(self.b)), [task])
        self.assertEqual(list(access.claimable_tasks(self.worker)), [])
        services.claim(task=task, actor=self.b, permitted=access.may_claim_task)
        task.refresh_from_db()
        self.assertEqual(task.assigned_to, self.b)
        self.assertEqual(list(access.claimable_tasks(self.a)), [])
        with self.assertRaisesMessage(services.StateConflict, "Someone else has already claimed"):
            services.claim(task=task, actor=self.a, permitted=access.may_claim_task)
        # A second claim by the holder (a double click, a retried API call) says so.
        with self.assertRaisesMessage(services.StateConflict, "You have already claimed this task."):
            services.claim(task=task, actor=self.b, permitted=access.may_claim_task)
        self.assertTrue(ticket.timeline.filter(kind="claimed", actor=self.b).exists())
        self.counters_match()
        services.complete_form_task(task=task, output={}, actor=self.b, permitted=access.may_complete_task)
        self.assertEqual(self.status(ticket), WorkflowStatus.COMPLETED)
        self.counters_match()

    def test_non_member_cannot_claim(self) -> None:
        task = self.current_task(self.one({"rule": "queue", "role": "it"}))
        with self.assertRaises(PermissionDenied):
            services.claim(task=task, actor=self.worker, permitted=access.may_claim_task)

    def test_release_puts_it_back_and_another_member_claims(self) -> None:
        ticket = self.one({"rule": "queue", "role": "it"})
        task = self.current_task(ticket)
        services.claim(task=task, actor=self.a, permitted=access.may_claim_task)
        with self.assertRaises(PermissionDenied):
            services.release(task=task, actor=self.b)
        services.release(task=task, actor=self.a)
        task.refresh_from_db()
        self.assertIsNone(task.assigned_to)
        self.assertEqual(list(access.claimable_tasks(self.b)), [task])
        services.claim(task=task, actor=self.b, permitted=access.may_claim_task)
        self.assertTrue(ticket.timeline.filter(kind="released", actor=self.a).exists())
        self.counters_match()

    def test_ticket_admin_can_still_assign_a_queue_task(self) -> None:
        task = self.current_task(self.one({"rule": "queue", "role": "it"}))
        services.reassign(task=task, user=self.a, actor=self.admin, eligible=access.may_receive_task)
        task.refresh_from_db()
        self.assertEqual(task.assigned_to, self.a)
        self.counters_match()

    def test_empty_queue_says_an_admin_must_assign(self) -> None:
        role(self.company, "nobody-here")
        _, reason = self.assigned(self.one({"rule": "queue", "role": "nobody-here"}))
        self.assertIn("no active members", reason)


class PersonRuleTests(RuleTestCase):
    def test_submitter_gets_and_completes_it_without_worker_role(self) -> None:
        ticket = self.one({"rule": "submitter"})
        task = self.current_task(ticket)
        self.assertEqual(task.assigned_to, self.submitter)
        self.assertFalse(self.submitter.has_role(SystemRole.TASK_WORKER))
        self.assertEqual(list(access.open_tasks_for(self.submitter)), [task])
        services.complete_form_task(
            task=task, output={}, actor=self.submitter, permitted=access.may_complete_task
        )
        self.assertEqual(self.status(ticket), WorkflowStatus.COMPLETED)

    def test_submitter_inactive(self) -> None:
        wf = make_workflow(
            self.company, [{"key": "a"}, {"key": "b", "assign": {"rule": "submitter"}}], [("a", "b", "", 0)]
        )
        ticket = self.submit(wf)
        User.objects.filter(pk=self.submitter.pk).update(is_active=False)
        services.complete_form_task(
            task=self.current_task(ticket), output={}, actor=self.worker, permitted=access.may_complete_task
        )
        user, reason = self.assigned(ticket)
        self.assertIsNone(user)
        self.assertIn("submitter", reason)
        self.assertIn("inactive", reason)

    def test_named_user(self) -> None:
        boss = make_user(self.company, SystemRole.USER, email="boss@acme.example")
        user, reason = self.assigned(self.one({"rule": "user", "email": "Boss@acme.example"}))
        self.assertEqual(user, boss)
        self.assertIn("Boss@acme.example", reason)

    def test_named_user_unknown_inactive_or_of_another_company(self) -> None:
        make_user(self.company, SystemRole.USER, email="gone@acme.example", is_active=False)
        make_user(make_company(), SystemRole.TASK_WORKER, email="other@else.example")
        for email, why in [
            ("nobody@acme.example", "not a user of this company"),
            ("gone@acme.example", "inactive"),
            ("other@else.example", "not a user of this company"),
        ]:
            with self.subTest(email=email):
                user, reason = self.assigned(self.one({"rule": "user", "email": email}))
                self.assertIsNone(user)
                self.assertIn(why, reason)

    def test_same_as_follows_the_first_approver_around_a_loop(self) -> None:
        other = make_user(self.company, SystemRole.TASK_WORKER)
        wf = make_workflow(
            self.company,
            [
                {"key": "approve"},
                {"key": "rework", "assign": {"rule": "submitter"}},
                {"key": "again", "assign": {"rule": "same_as", "task": "approve"}},
            ],
            [("approve", "rework", "", 0), ("rework", "again", "", 0)],
        )
        ticket = self.submit(wf)
        first = self.current_task(ticket)
        approver = first.assigned_to
        assert approver is not None
        services.complete_form_task(task=first, output={}, actor=approver, permitted=access.may_complete_task)
        services.complete_form_task(
            task=self.current_task(ticket),
            output={},
            actor=self.submitter,
            permitted=access.may_complete_task,
        )
        user, reason = self.assigned(ticket)
        self.assertEqual(user, approver)
        self.assertIn("whoever completed 'approve'", reason)
        self.assertIn(other, User.objects.filter(company=self.company))

    def test_same_as_counts_who_completed_not_who_was_assigned(self) -> None:
        wf = make_workflow(
            self.company,
            [{"key": "a"}, {"key": "b", "assign": {"rule": "same_as", "task": "a"}}],
            [("a", "b", "", 0)],
        )
        ticket = self.submit(wf)
        services.complete_form_task(
            task=self.current_task(ticket), output={}, actor=self.admin, permitted=access.may_complete_task
        )
        self.assertEqual(self.assigned(ticket)[0], self.admin)

    def test_same_as_before_the_task_ran(self) -> None:
        wf = make_workflow(
            self.company,
            [{"key": "b", "assign": {"rule": "same_as", "task": "a"}}, {"key": "a"}],
            [("b", "a", "", 0)],
        )
        user, reason = self.assigned(self.submit(wf))
        self.assertIsNone(user)
        self.assertIn("'a' has not been completed", reason)

    def test_expression_gives_an_email_of_the_company(self) -> None:
        boss = make_user(self.company, SystemRole.USER, email="manager@acme.example")
        user, reason = self.assigned(
            self.one({"rule": "expression", "expr": "ticket.manager"}, {"manager": "manager@acme.example"})
        )
        self.assertEqual(user, boss)
        self.assertIn("ticket.manager", reason)

    def test_expression_fallbacks(self) -> None:
        make_user(make_company(), SystemRole.USER, email="stranger@else.example")
        cases = [
            ({}, "gave None"),
            ({"manager": 42}, "gave 42"),
            ({"manager": "stranger@else.example"}, "not a user of this company"),
        ]
        for data, why in cases:
            with self.subTest(data=data):
                ticket = self.one({"rule": "expression", "expr": "ticket.manager"}, data)
                user, reason = self.assigned(ticket)
                self.assertIsNone(user)
                self.assertIn(why, reason)
                self.assertEqual(self.errors(ticket), [])

    def test_expression_that_fails_at_run_time(self) -> None:
        ticket = self.one({"rule": "expression", "expr": "abs(ticket.manager)"}, {"manager": "x"})
        user, reason = self.assigned(ticket)
        self.assertIsNone(user)
        self.assertIn("The expression failed", reason)
        self.assertEqual(self.status(ticket), WorkflowStatus.IN_PROGRESS)


class CounterTests(RuleTestCase):
    def test_counters_follow_assign_complete_reassign_cancel(self) -> None:
        w2 = make_user(self.company, SystemRole.TASK_WORKER)
        wf = make_workflow(self.company, [{"key": "a"}, {"key": "b"}], [("a", "b", "", 0)])
        tickets = [self.submit(wf) for _ in range(4)]
        self.counters_match()
        services.complete_form_task(
            task=self.current_task(tickets[0]),
            output={},
            actor=self.current_task(tickets[0]).assigned_to,
            permitted=access.may_complete_task,
        )
        self.counters_match()
        services.reassign(
            task=self.current_task(tickets[1]), user=w2, actor=self.admin, eligible=access.may_receive_task
        )
        services.reassign(
            task=self.current_task(tickets[2]), user=None, actor=self.admin, eligible=access.may_receive_task
        )
        self.counters_match()
        services.cancel(instance=tickets[3].workflow_instance, actor=self.admin)
        services.complete_by_hand(task=self.current_task(tickets[1]), output={}, actor=self.admin)
        self.counters_match()

    def test_reconcile_repairs_drift(self) -> None:
        wf = make_workflow(self.company, [{"key": "a"}])
        self.submit(wf)
        User.objects.filter(pk=self.worker.pk).update(open_tasks=7)
        out = StringIO()
        call_command("reconcile_task_counts", stdout=out)
        self.assertIn("1 counter(s) fixed", out.getvalue())
        self.worker.refresh_from_db()
        self.assertEqual(self.worker.open_tasks, 1)
        self.counters_match()

    def test_submit_service_runs_at_most_8_queries(self) -> None:
        wf = make_workflow(self.company, [{"key": "a"}])
        tt = make_ticket_type(self.company, wf, fields={"type": "object"})
        submit_ticket(user=self.submitter, ticket_type=tt, data={"n": 0})  # warm caches
        submitter = User.objects.get(pk=self.submitter.pk)
        self.assertTrue(submitter.role_names)  # loaded once per request by the role checks
        with CaptureQueriesContext(connection) as ctx:
            # As the view does: the type (with its live version) first, then the service.
            allowed = access.submittable_type(submitter, tt.pk)
            assert allowed is not None
            submit_ticket(user=submitter, ticket_type=allowed, data={"n": 1})
        real = [q["sql"] for q in ctx.captured_queries if "SAVEPOINT" not in q["sql"]]
        # A request's submit is 2 more with the session and the user
        # (tickets.tests.test_performance.SUBMIT_QUERY_LIMIT), notices included.
        self.assertLessEqual(len(real), 8 if connection.vendor == "postgresql" else 9, "\n".join(real))


class PoolTests(RuleTestCase):
    """The least-loaded pool is read through `User.is_task_worker` and one partial index
    (accounts_user_worker_pool): the flag must follow the task_worker role whichever way
    it changes, and the pick must not read the whole company."""

    def flag(self, user: User) -> bool:
        return User.objects.values_list("is_task_worker", flat=True).get(pk=user.pk)

    def test_flag_follows_the_role_from_either_side(self) -> None:
        from django.contrib.auth.models import Group

        from accounts.services import set_roles

        person = make_user(self.company, SystemRole.USER)
        self.assertFalse(self.flag(person))
        set_roles(user=person, roles=[SystemRole.USER, SystemRole.TASK_WORKER])
        self.assertTrue(self.flag(person))
        set_roles(user=person, roles=[SystemRole.USER])
        self.assertFalse(self.flag(person))
        group = Group.objects.get(name=SystemRole.TASK_WORKER)
        group.user_set.add(person)
        self.assertTrue(self.flag(person))
        group.user_set.remove(person)
        self.assertFalse(self.flag(person))
        person.groups.add(group)
        self.assertTrue(self.flag(person))
        person.groups.clear()
        self.assertFalse(self.flag(person))
        group.user_set.add(person)
        self.assertTrue(self.flag(self.worker))
        group.user_set.clear()
        self.assertEqual((self.flag(person), self.flag(self.worker)), (False, False))

    def test_a_full_save_of_a_user_keeps_the_flag_and_the_counters(self) -> None:
        # The flag and the counters are written by SQL only: a save() of an instance in
        # hand (made by make_user before its roles, or loaded before a role change or an
        # assignment) must not write its stale values back.
        from accounts.forms import ProfileForm
        from accounts.services import set_roles

        fresh = make_user(self.company, SystemRole.TASK_WORKER)
        fresh.first_name = "Renamed"
        fresh.save()
        self.assertTrue(self.flag(fresh))
        stale = User.objects.get(pk=self.worker.pk)
        self.one({})  # the worker gets a task meanwhile: open_tasks 0 -> 1
        set_roles(user=self.worker, roles=[SystemRole.USER])  # and loses the role
        form = ProfileForm({"first_name": "A", "last_name": "B", "email": stale.email}, instance=stale)
        self.assertTrue(form.is_valid(), form.errors)
        form.save()
        self.assertFalse(self.flag(self.worker))
        self.counters_match()
        User.objects.filter(pk=fresh.pk).update(is_available=False)
        self.assertIsNone(assignment.choose_worker(self.company.pk).user)

    def test_a_company_is_synced_by_filter_not_by_a_list_of_ids(self) -> None:
        # One statement takes at most 65,535 parameters: a company's people go as a filter.
        User.objects.filter(pk=self.worker.pk).update(is_task_worker=False)
        with CaptureQueriesContext(connection) as ctx:
            self.assertEqual(sync_task_worker_flags(company_id=self.company.pk), 1)
        self.assertTrue(all('"id" IN (' not in q["sql"] for q in ctx.captured_queries), ctx.captured_queries)
        self.assertTrue(self.flag(self.worker))

    def test_a_user_without_the_role_is_never_picked(self) -> None:
        # The submitter has no open task and was never assigned: first in load order.
        User.objects.filter(pk=self.submitter.pk).update(is_available=True)
        user, _ = self.assigned(self.one({}))
        self.assertEqual(user, self.worker)

    def test_reconcile_repairs_a_wrong_flag(self) -> None:
        User.objects.filter(pk=self.worker.pk).update(is_task_worker=False)
        User.objects.filter(pk=self.submitter.pk).update(is_task_worker=True)
        out = StringIO()
        call_command("reconcile_task_counts", stdout=out)
        self.assertIn("2 task-worker flag(s) fixed", out.getvalue())
        self.assertEqual((self.flag(self.worker), self.flag(self.submitter)), (True, False))

    def test_the_reason_counts_candidates_up_to_the_cap(self) -> None:
        User.objects.bulk_create(
            User(
                email=f"pool{i}@example.com",
                company=self.company,
                is_task_worker=True,
                open_tasks=5,
                last_assigned_at=timezone.now(),
            )
            for i in range(assignment.CANDIDATES_CAP)
        )
        user, reason = self.assigned(self.one({}))
        self.assertEqual(user, self.worker)
        self.assertIn(f"the fewest among {assignment.CANDIDATES_CAP} or more available task workers", reason)

    @skipUnless(connection.vendor == "postgresql", "EXPLAIN plans are PostgreSQL's")
    def test_the_pick_walks_the_pool_index(self) -> None:
        # Many idle non-workers (first in load order) and many workers: the pick reads the
        # index from its first pool row, with or without this transaction's own changes.
        now = timezone.now()
        User.objects.bulk_create(
            User(email=f"s{i}@example.com", company=self.company, is_task_worker=False) for i in range(1500)
        )
        User.objects.bulk_create(
            User(
                email=f"w{i}@example.com",
                company=self.company,
                is_task_worker=True,
                open_tasks=i % 7,
                last_assigned_at=now,
            )
            for i in range(1500)
        )
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE accounts_user")
        for shape, params in (
            ((False, 0, 0, 0), [self.company.pk] * 2),
            (
                (False, 1, 1, 0),
                [self.company.pk] * 2 + [self.worker.pk, self.worker.pk, -1, self.worker.pk, self.company.pk],
            ),
        ):
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + assignment._pick_sql(*shape), params)
                plan = cursor.fetchone()[0][0]["Plan"]
            nodes = list(_nodes(plan))
            self.assertNotIn(
                "Seq Scan", [n["Node Type"] for n in nodes if n.get("Relation Name") == "accounts_user"]
            )
            walks = [n for n in nodes if n.get("Index Name") == "accounts_user_worker_pool"]
            self.assertTrue(walks, plan)
            # The pick stops at its first row; the count at the cap.
            self.assertLessEqual(max(n["Actual Rows"] for n in walks), assignment.CANDIDATES_CAP, plan)


def _nodes(plan: dict[str, Any]) -> Any:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


class OwnerTests(EngineTestCase):
    def test_signed_up_owner_is_not_an_available_worker(self) -> None:
        from accounts.services import sign_up_company

        owner = sign_up_company(
            company_name="Fresh",
            email="owner@fresh.example",
            password="x" * 12,
            first_name="O",
            last_name="W",
        )
        self.assertTrue(owner.has_role(SystemRole.TASK_WORKER))
        self.assertFalse(owner.is_available)
        with company_scope(owner.company):
            self.assertFalse(assignment.available_workers(owner.company_id).exists())


OPS = st.lists(
    st.tuples(
        st.sampled_from(["submit", "complete", "reassign", "unassign", "cancel", "claim", "release", "hand"]),
        st.integers(0, 50),
    ),
    min_size=20,
    max_size=60,
)


class CounterPropertyTests(HypothesisTestCase):
    """After any sequence of operations, every counter equals the count of open tasks."""

    @classmethod
    def setUpTestData(cls) -> None:
        cls.company = make_company("Prop")
        cls.submitter = make_user(cls.company, SystemRole.USER)
        cls.admin = make_user(cls.company, SystemRole.TICKET_ADMIN)
        cls.workers = [make_user(cls.company, SystemRole.TASK_WORKER) for _ in range(3)]
        role(cls.company, "q", *cls.workers[:2])
        cls.wf = make_workflow(
            cls.company,
            [
                {"key": "a"},
                {"key": "b", "assign": {"rule": "queue", "role": "q"}},
                {"key": "c", "assign": {"rule": "submitter"}},
            ],
            [("a", "b", "", 0), ("b", "c", "", 0), ("c", "a", "", 0)],
        )
        cls.tt = make_ticket_type(cls.company, cls.wf, fields={"type": "object"})

    @settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(OPS)
    def test_counters_equal_truth(self, ops: list[tuple[str, int]]) -> None:
        with company_scope(self.company):
            tickets: list[Ticket] = []
            for op, n in ops:
                if op == "submit" or not tickets:
                    tickets.append(submit_ticket(user=self.submitter, ticket_type=self.tt, data={}))
                    continue
                ticket = tickets[n % len(tickets)]
                task = ticket.workflow_instance.tasks.order_by("-id").first()
                assert task is not None
                worker = self.workers[n % 3]
                try:
                    if op == "complete" and task.assigned_to is not None:
                        services.complete_form_task(
                            task=task, output={}, actor=task.assigned_to, permitted=access.may_complete_task
                        )
                    elif op == "reassign":
                        services.reassign(
                            task=task, user=worker, actor=self.admin, eligible=access.may_receive_task
                        )
                    elif op == "unassign":
                        services.reassign(
                            task=task, user=None, actor=self.admin, eligible=access.may_receive_task
                        )
                    elif op == "cancel":
                        services.cancel(instance=ticket.workflow_instance, actor=self.admin)
                    elif op == "claim":
                        services.claim(task=task, actor=worker, permitted=access.may_claim_task)
                    elif op == "release":
                        services.release(task=task, actor=worker)
                    elif op == "hand":
                        services.complete_by_hand(task=task, output={}, actor=self.admin)
                except (services.StateConflict, PermissionDenied):
                    pass
            truth = dict(
                User.objects.filter(company=self.company)
                .annotate(truth=assignment.open_count_truth())
                .values_list("pk", "truth")
            )
            counters = dict(User.objects.filter(company=self.company).values_list("pk", "open_tasks"))
            self.assertEqual(counters, truth)
            self.assertTrue(TaskInstance.objects.filter(status=TaskStatus.OPEN).exists() or tickets)
