"""Lock order on real PostgreSQL. Each test drives two transactions into the exact
interleaving that used to fail: one holds its locks until the other is seen waiting
on a lock (pg_stat_activity), then commits."""

import json
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from unittest import skipUnless

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import connection, connections, transaction
from django.test import Client, SimpleTestCase, TransactionTestCase, override_settings
from django.utils import timezone
from django_scopes import scopes_disabled

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
from tickets.access import may_complete_task, may_receive_task
from tickets.services import submit_ticket
from workflows import background, services
from workflows.models import TaskInstance, TaskStatus, TaskType, WorkflowInstance

postgres_only = skipUnless(connection.vendor == "postgresql", "row locks need PostgreSQL")


def run_together(*targets: Callable[[], Any]) -> list[Any]:
    """Runs each target in its own thread (own connection); results or exceptions."""
    results: list[Any] = [None] * len(targets)

    def wrapper(i: int) -> None:
        try:
            results[i] = targets[i]()
        except Exception as exc:  # asserted on by the test
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=wrapper, args=(i,)) for i in range(len(targets))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def when_someone_waits_on_a_lock(then: threading.Event, timeout: float = 20) -> Callable[[], str]:
    """A conductor: sets `then` once another backend of this database waits on a lock."""

    def conduct() -> str:
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT count(*) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                    )
                    if cursor.fetchone()[0]:
                        return "saw a waiter"
                time.sleep(0.02)
            return "no waiter"
        finally:
            then.set()

    return conduct


@postgres_only
class LockOrderTests(TransactionTestCase):
    def setUp(self) -> None:
        self.company = make_company()
        self.submitter = make_user(self.company, SystemRole.USER)
        self.admin = make_user(self.company, SystemRole.TICKET_ADMIN)
        self.workers = [make_user(self.company, SystemRole.TASK_WORKER) for _ in range(2)]

    def test_step_and_submit_on_the_same_task_definition_do_not_deadlock(self) -> None:
        """A completion on step `a` used to lock the task definition row of `a` (a join
        in FOR UPDATE) and then wait for the company row (assignment of the next step),
        while a submit held the company row and, at commit, needed a key-share lock on
        that same definition row for its new task's foreign key: deadlock."""
        wf = make_workflow(self.company, [{"key": "a"}, {"key": "b"}], [("a", "b", "", 0)])
        tt = make_ticket_type(self.company, wf, fields={"type": "object"})
        with company_scope(self.company):
            first = submit_ticket(user=self.submitter, ticket_type=tt, data={}).workflow_instance.tasks.get()
        submitted, release = threading.Event(), threading.Event()

        def submit() -> str:
            with company_scope(self.company), transaction.atomic():
                submit_ticket(user=self.submitter, ticket_type=tt, data={})  # holds the company row
                submitted.set()
                release.wait(20)
            return "submitted"

        def complete() -> str:
            submitted.wait(20)
            with company_scope(self.company):
                task = TaskInstance.objects.select_related("task_definition").get(pk=first.pk)
                services.complete_form_task(
                    task=task, output={}, actor=self.admin, permitted=may_complete_task
                )
            return "completed"

        conductor = when_someone_waits_on_a_lock(release)
        results = run_together(submit, complete, lambda: (submitted.wait(20), conductor())[1])
        self.assertEqual(results, ["submitted", "completed", "saw a waiter"])
        with scopes_disabled():
            self.assertEqual(WorkflowInstance.objects.count(), 2)
            self.assertEqual(TaskInstance.objects.filter(task_definition__key="b").count(), 1)

    def test_completion_racing_a_reassignment_rechecks_the_assignee_on_the_locked_row(self) -> None:
        old, new = self.workers
        wf = make_workflow(self.company, [{"key": "a"}, {"key": "b"}], [("a", "b", "", 0)])
        tt = make_ticket_type(self.company, wf, fields={"type": "object"})
        with company_scope(self.company):
            task = submit_ticket(user=self.submitter, ticket_type=tt, data={}).workflow_instance.tasks.get()
            services.reassign(task=task, user=old, actor=self.admin, eligible=may_receive_task)
            stale = TaskInstance.objects.select_related("task_definition").get(pk=task.pk)
        self.assertEqual(stale.assigned_to_id, old.pk)
        reassigned, release = threading.Event(), threading.Event()

        def reassign() -> str:
            with company_scope(self.company), transaction.atomic():
                services.reassign(task=stale, user=new, actor=self.admin, eligible=may_receive_task)
                reassigned.set()
                release.wait(20)
            return "reassigned"

        def complete() -> str:
            reassigned.wait(20)
            with company_scope(self.company):  # `stale` still says `old` is the assignee
                services.complete_form_task(task=stale, output={}, actor=old, permitted=may_complete_task)
            return "completed"

        conductor = when_someone_waits_on_a_lock(release)
        results = run_together(reassign, complete, lambda: (reassigned.wait(20), conductor())[1])
        self.assertEqual(results[0], "reassigned")
        self.assertIsInstance(results[1], PermissionDenied)
        self.assertEqual(results[2], "saw a waiter")
        with scopes_disabled():
            task.refresh_from_db()
            self.assertEqual((task.status, task.assigned_to_id), (TaskStatus.OPEN, new.pk))
            self.assertFalse(TaskInstance.objects.filter(task_definition__key="b").exists())

    @override_settings(ACTIONS_ALLOW_PRIVATE_NETWORKS=True)
    def test_old_callback_token_racing_a_retry_that_issues_a_new_one_is_refused(self) -> None:
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
            instance = submit_ticket(user=self.submitter, ticket_type=tt, data={}).workflow_instance
        with scopes_disabled():
            task_id = TaskInstance.objects.get().pk
        background.run_action(task_id=task_id)
        old = server.requests[0][2]
        path = old["callback_url"].split("127.0.0.1:8000", 1)[1]
        background.sweep(now=timezone.now() + timedelta(days=30))  # the callback is late: error
        claimed, release = threading.Event(), threading.Event()

        def retry() -> str:
            with company_scope(self.company), transaction.atomic():
                services.retry(instance=instance, actor=self.admin)
                self.assertIsNotNone(background._claim_action(task_id))  # attempt 2, a new token
                claimed.set()
                release.wait(20)
            return "retried"

        def late_callback() -> int:
            claimed.wait(20)
            return (
                Client()
                .post(
                    path,
                    data=json.dumps({"late": True}),
                    content_type="application/json",
                    headers={"Authorization": f"Bearer {old['callback_token']}"},
                )
                .status_code
            )

        conductor = when_someone_waits_on_a_lock(release)
        results = run_together(retry, late_callback, lambda: (claimed.wait(20), conductor())[1])
        self.assertEqual(results, ["retried", 404, "saw a waiter"])
        with scopes_disabled():
            task = TaskInstance.objects.get(pk=task_id)
            self.assertEqual(task.status, TaskStatus.IN_PROGRESS)
            self.assertFalse(TaskInstance.objects.filter(task_definition__key="b").exists())


class LockShapeTests(SimpleTestCase):
    def test_every_select_for_update_names_its_own_rows(self) -> None:
        """A FOR UPDATE with a join would lock the joined rows too (the old deadlock)."""
        root = Path(settings.BASE_DIR)
        offenders = []
        for path in root.glob("*/**/*.py"):
            if ".venv" in path.parts or "tests" in path.parts or "migrations" in path.parts:
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if "select_for_update(" in line and 'select_for_update(of=("self",)' not in line:
                    offenders.append(f"{path.relative_to(root)}:{number}")
        self.assertEqual(offenders, [])
