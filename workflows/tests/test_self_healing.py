"""The worker and the sweeper survive database errors; jobs of dead workers are
reclaimed; `bin/supervise` restarts a child that exits. Connections are cut for real
(pg_terminate_backend), not mocked."""

import subprocess
import tempfile
import threading
import time
from datetime import timedelta
from io import StringIO
from pathlib import Path
from unittest import skipUnless

from django.conf import settings
from django.core.management import call_command
from django.db import connection, connections
from django.test import SimpleTestCase, TransactionTestCase, override_settings
from django.utils import timezone
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
from tickets.services import submit_ticket
from workflows.models import TaskInstance, TaskStatus, TaskType
from workflows.tasks import reclaim_lost_jobs, run_action_task
from workflows.tests.base import EngineTestCase

postgres_only = skipUnless(connection.vendor == "postgresql", "cuts PostgreSQL connections")


def cut_connection(pid: int) -> None:
    """Terminates the backend `pid` from another thread's own connection."""

    def kill() -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
        finally:
            connections.close_all()

    thread = threading.Thread(target=kill)
    thread.start()
    thread.join(10)


def cut_other_connections() -> None:
    """Terminates every other connection to the test database (from this thread's own)."""
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
    finally:
        connections.close_all()


def my_backend_pid() -> int:
    connection.ensure_connection()
    return connection.connection.info.backend_pid  # type: ignore[union-attr]


@postgres_only
@override_settings(ACTIONS_ALLOW_PRIVATE_NETWORKS=True)
class SelfHealingTests(TransactionTestCase):
    def setUp(self) -> None:
        self.company = make_company()
        self.submitter = make_user(self.company, SystemRole.USER)
        self.server = LoopbackServer().start()
        self.addCleanup(self.server.stop)
        self.server.handler = lambda body, headers: json_reply(200, {"ok": True})
        wf = make_workflow(
            self.company, [{"key": "call", "task_type": TaskType.SYNC_ACTION, "action_url": self.server.url}]
        )
        self.tt = make_ticket_type(self.company, wf, fields={"type": "object"})
        with company_scope(self.company):
            submit_ticket(user=self.submitter, ticket_type=self.tt, data={})

    def task(self) -> TaskInstance:
        with scopes_disabled():
            return TaskInstance.objects.get()

    def test_worker_survives_its_connection_dying_at_the_claim(self) -> None:
        """The database kills the worker's connection once, as it claims the job (a
        trigger terminating its own backend; a sequence makes it happen only once)."""
        table = DBTaskResult._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute("CREATE SEQUENCE tf_once")
            cursor.execute(
                "CREATE FUNCTION tf_die_once() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                "IF nextval('tf_once') = 1 THEN PERFORM pg_terminate_backend(pg_backend_pid()); END IF; "
                "RETURN NEW; END $$"
            )
            cursor.execute(
                f"CREATE TRIGGER tf_die_once BEFORE UPDATE ON {table} FOR EACH ROW EXECUTE FUNCTION tf_die_once()"
            )
        with self.assertLogs("workflows.resilience", "ERROR") as logs:
            call_command("run_worker", batch=True, interval=0)
        self.assertIn("reconnecting", logs.output[0])
        self.assertEqual(self.task().status, TaskStatus.COMPLETED)
        self.assertEqual(len(self.server.requests), 1)
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TRIGGER tf_die_once ON {table}")

    def test_worker_records_the_answer_after_the_connection_is_cut_during_the_call(self) -> None:
        """The call happened; the worker reconnects to record it instead of calling twice."""

        def answer_after_cutting(body: object, headers: object) -> tuple[int, dict[str, str], bytes]:
            cut_other_connections()  # the worker's, while it waits for this answer
            return json_reply(200, {"ok": True})

        self.server.handler = answer_after_cutting
        with self.assertLogs("workflows.background", "WARNING"):
            call_command("run_worker", batch=True, interval=0)
        self.assertEqual(self.task().status, TaskStatus.COMPLETED)
        self.assertEqual(len(self.server.requests), 1)

    def test_sweeper_survives_a_cut_connection_and_goes_on(self) -> None:
        DBTaskResult.objects.all().delete()  # the job was lost; only the sweeper can help
        with scopes_disabled():
            TaskInstance.objects.update(deadline_at=timezone.now() - timedelta(seconds=1))
        cut_connection(my_backend_pid())
        out = StringIO()
        with self.assertLogs("workflows.resilience", "ERROR"):
            call_command("sweep_workflows", loop=0.01, passes=1, stdout=out)
        self.assertIn("requeued=1", out.getvalue())
        self.assertEqual(DBTaskResult.objects.count(), 1)


class ReclaimTests(EngineTestCase):
    def test_running_jobs_of_a_dead_worker_are_reclaimed_and_live_ones_kept(self) -> None:
        dead = DBTaskResult.objects.get(id=run_action_task.enqueue(1).id)
        dead.claim("killed-worker")
        live = DBTaskResult.objects.get(id=run_action_task.enqueue(2).id)
        live.claim("busy-worker")
        lease = settings.ACTIONS_DEFAULT_TIMEOUT_SECONDS + 60
        DBTaskResult.objects.filter(pk=dead.pk).update(
            started_at=timezone.now() - timedelta(seconds=lease + 1)
        )
        self.assertEqual(reclaim_lost_jobs(), 1)
        dead.refresh_from_db()
        live.refresh_from_db()
        self.assertEqual((dead.status, live.status), ("FAILED", "RUNNING"))
        self.assertIn("worker stopped", dead.traceback)

    def test_old_finished_jobs_are_pruned_and_the_rest_kept(self) -> None:
        jobs = [DBTaskResult.objects.get(id=run_action_task.enqueue(n).id) for n in range(4)]
        now = timezone.now()
        ages = {0: 8, 1: 8, 2: 1}  # days since finished; job 3 is still waiting
        for n, days in ages.items():
            DBTaskResult.objects.filter(pk=jobs[n].pk).update(
                status="FAILED" if n == 1 else "SUCCESSFUL", finished_at=now - timedelta(days=days)
            )
        with override_settings(JOBS_KEEP_DAYS=7):
            out = StringIO()
            call_command("sweep_workflows", stdout=out)
        self.assertIn("pruned_jobs=2", out.getvalue())
        self.assertEqual(
            sorted(DBTaskResult.objects.values_list("pk", flat=True)), sorted([jobs[2].pk, jobs[3].pk])
        )


class SuperviseTests(SimpleTestCase):
    def test_a_child_that_exits_is_started_again(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            runs = Path(tmp) / "runs"
            script = Path(settings.BASE_DIR) / "bin" / "supervise"
            process = subprocess.Popen(
                [str(script), "sh", "-c", f"echo run >> {runs}; exit 3"], stderr=subprocess.PIPE, text=True
            )
            try:
                for _ in range(200):  # waits for the third start, at most ~10 s
                    if runs.exists() and len(runs.read_text().splitlines()) >= 3:
                        break
                    time.sleep(0.05)
                self.assertGreaterEqual(len(runs.read_text().splitlines()), 3)
            finally:
                process.terminate()
                _, err = process.communicate(timeout=10)
            self.assertIn("exited with status 3; restarting", err)
