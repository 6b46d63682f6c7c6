"""Races on real PostgreSQL: threads with their own connections and transactions."""

import json
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any
from unittest import skipUnless

from django.db import connection, connections, transaction
from django.test import Client, TransactionTestCase, override_settings
from django_scopes import scopes_disabled
from django_tasks_db.models import DBTaskResult

from accounts.roles import SystemRole
from accounts.tenancy import company_scope
from project.testing import (
    LoopbackServer,
    json_reply,
    make_company,
    make_ticket_type,
    make_user,
    make_workflow,
)
from tickets.access import may_complete_task
from tickets.services import submit_ticket
from workflows import background, services
from workflows.models import TaskInstance, TaskType

postgres_only = skipUnless(connection.vendor == "postgresql", "row locks need PostgreSQL")


def run_in_threads(n: int, target: Callable[[int], Any]) -> list[Any]:
    results: list[Any] = [None] * n
    barrier = threading.Barrier(n)

    def wrapper(i: int) -> None:
        try:
            barrier.wait()
            results[i] = target(i)
        except Exception as exc:  # collected and asserted on by the test
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=wrapper, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


@postgres_only
class ConcurrencyTests(TransactionTestCase):
    def setUp(self) -> None:
        self.company = make_company()
        self.submitter = make_user(self.company, SystemRole.USER)
        self.workers = [make_user(self.company, SystemRole.TASK_WORKER) for _ in range(4)]

    def test_40_assignments_at_once_balance_to_within_one(self) -> None:
        wf = make_workflow(self.company, [{"key": "a"}])
        tt = make_ticket_type(self.company, wf, fields={"type": "object"})

        def submit(i: int) -> int:
            with company_scope(self.company):
                return submit_ticket(user=self.submitter, ticket_type=tt, data={"n": i}).pk

        results = run_in_threads(40, submit)
        self.assertTrue(all(isinstance(r, int) for r in results), results)
        with scopes_disabled():
            loads = Counter(TaskInstance.objects.values_list("assigned_to", flat=True))
        self.assertEqual(sum(loads.values()), 40)
        self.assertEqual(set(loads), {w.pk for w in self.workers})
        self.assertLessEqual(max(loads.values()) - min(loads.values()), 1)

    def test_two_simultaneous_completions_advance_once(self) -> None:
        wf = make_workflow(self.company, [{"key": "a"}, {"key": "b"}], [("a", "b", "", 0)])
        tt = make_ticket_type(self.company, wf, fields={"type": "object"})
        admin = make_user(self.company, SystemRole.TICKET_ADMIN)
        with company_scope(self.company):
            ticket = submit_ticket(user=self.submitter, ticket_type=tt, data={})
            task = ticket.workflow_instance.tasks.get()

        def complete(i: int) -> str:
            with company_scope(self.company):
                fresh = TaskInstance.objects.select_related("task_definition").get(pk=task.pk)
                services.complete_form_task(
                    task=fresh, output={"by": i}, actor=admin, permitted=may_complete_task
                )
                return "ok"

        results = run_in_threads(2, complete)
        self.assertEqual(results.count("ok"), 1, results)
        self.assertIsInstance(next(r for r in results if r != "ok"), services.StateConflict)
        with scopes_disabled():
            self.assertEqual(TaskInstance.objects.filter(task_definition__key="b").count(), 1)

    @override_settings(ACTIONS_ALLOW_PRIVATE_NETWORKS=True)
    def test_two_simultaneous_callbacks_advance_once(self) -> None:
        server = LoopbackServer().start()
        self.addCleanup(server.stop)
        server.handler = lambda body, headers: json_reply(202, {})
        wf = make_workflow(
            self.company,
            [{"key": "ext", "task_type": TaskType.ASYNC_ACTION, "action_url": server.url}, {"key": "b"}],
            [("ext", "b", "", 0)],
        )
        tt = make_ticket_type(self.company, wf, fields={"type": "object"})
        with company_scope(self.company):
            submit_ticket(user=self.submitter, ticket_type=tt, data={})
        with scopes_disabled():
            task_id = TaskInstance.objects.get().pk
        background.run_action(task_id=task_id)
        body = server.requests[0][2]
        path = body["callback_url"].split("127.0.0.1:8000", 1)[1]

        def call(i: int) -> int:
            response = Client().post(
                path,
                data=json.dumps({"i": i}),
                content_type="application/json",
                headers={"Authorization": f"Bearer {body['callback_token']}"},
            )
            return response.status_code

        self.assertEqual(run_in_threads(2, call), [200, 200])
        with scopes_disabled():
            self.assertEqual(TaskInstance.objects.filter(task_definition__key="b").count(), 1)
            self.assertEqual(
                TaskInstance.objects.filter(task_definition__key="ext").get().status, "COMPLETED"
            )

    def test_rolled_back_transaction_enqueues_nothing(self) -> None:
        wf = make_workflow(
            self.company,
            [{"key": "call", "task_type": TaskType.SYNC_ACTION, "action_url": "http://example.com"}],
        )
        tt = make_ticket_type(self.company, wf, fields={"type": "object"})

        class Boom(Exception):
            pass

        with company_scope(self.company), self.assertRaises(Boom), transaction.atomic():
            submit_ticket(user=self.submitter, ticket_type=tt, data={})
            raise Boom
        self.assertEqual(DBTaskResult.objects.count(), 0)
        with scopes_disabled():
            self.assertEqual(TaskInstance.objects.count(), 0)
        with company_scope(self.company):
            submit_ticket(user=self.submitter, ticket_type=tt, data={})
        # The action call (the submitter's "ticket received" email is a job too).
        self.assertEqual(DBTaskResult.objects.filter(task_path__endswith="run_action_task").count(), 1)
