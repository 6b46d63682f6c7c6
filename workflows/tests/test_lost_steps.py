"""No step is lost between the database and the queue: the database queue commits the
job with the step; a job that never arrives or fails before its claim is queued again
by the sweeper; a user never gets a 500 for a ticket that was stored."""

import json
from datetime import timedelta
from io import StringIO
from unittest import skipUnless

import psycopg
from django.core.management import call_command
from django.db import DatabaseError, connection
from django.test import TransactionTestCase, override_settings
from django.urls import reverse
from django.utils import timezone
from django_scopes import scopes_disabled
from django_tasks_db.models import DBTaskResult

from accounts.roles import SystemRole
from accounts.tenancy import company_scope
from project.testing import (
    LoopbackServer,
    TaskFailed,
    json_reply,
    make_company,
    make_ticket_type,
    make_user,
    make_workflow,
    mute_notification_emails,
    run_queued_tasks,
)
from tickets.models import Ticket
from tickets.services import submit_ticket
from workflows import background, services
from workflows.models import TaskInstance, TaskStatus, TaskType, WorkflowStatus
from workflows.tasks import run_action_task
from workflows.tests.base import EngineTestCase

postgres_only = skipUnless(connection.vendor == "postgresql", "the refusing triggers are PostgreSQL")


class RefusingTrigger:
    """A real database refusal (no mock): a PostgreSQL trigger raising on `table`."""

    def __init__(self, table: str, *, when: str = "") -> None:
        self.table, self.when = table, when

    def __enter__(self) -> "RefusingTrigger":
        with connection.cursor() as cursor:
            cursor.execute(
                "CREATE OR REPLACE FUNCTION tf_refuse() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'refused by the test trigger'; END $$"
            )
            cursor.execute(
                f"CREATE TRIGGER tf_refuse BEFORE INSERT OR UPDATE ON {self.table} FOR EACH ROW "
                f"{'WHEN (' + self.when + ')' if self.when else ''} EXECUTE FUNCTION tf_refuse()"
            )
        return self

    def __exit__(self, *exc: object) -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TRIGGER tf_refuse ON {self.table}")


class QueueInTransactionTests(EngineTestCase):
    def test_the_database_queue_takes_the_job_inside_the_steps_transaction(self) -> None:
        wf = make_workflow(
            self.company, [{"key": "call", "task_type": TaskType.SYNC_ACTION, "action_url": "http://x.test"}]
        )
        tt = make_ticket_type(self.company, wf, fields={"type": "object"})
        # No on-commit callback runs in a TestCase: the job row exists before any commit.
        ticket = submit_ticket(user=self.submitter, ticket_type=tt, data={})
        task = self.current_task(ticket)
        self.assertEqual(DBTaskResult.objects.filter(args_kwargs__args=[task.pk]).count(), 1)
        self.assertIsNotNone(task.deadline_at)

    @override_settings(ACTIONS_ALLOW_PRIVATE_NETWORKS=True)
    def test_a_duplicate_job_calls_the_action_once(self) -> None:
        server = LoopbackServer().start()
        self.addCleanup(server.stop)
        server.handler = lambda body, headers: json_reply(200, {"ok": True})
        wf = make_workflow(
            self.company, [{"key": "call", "task_type": TaskType.SYNC_ACTION, "action_url": server.url}]
        )
        mute_notification_emails(self.submitter)  # count the action's jobs only
        ticket = self.submit(wf)
        run_action_task.enqueue(self.current_task(ticket).pk)  # e.g. the sweeper's re-queue
        self.assertEqual(self.drain(), 2)
        self.assertEqual(len(server.requests), 1)
        self.assertEqual(self.status(ticket), WorkflowStatus.COMPLETED)


@postgres_only
@override_settings(ACTIONS_ALLOW_PRIVATE_NETWORKS=True, ACTIONS_REQUEUE_AFTER_SECONDS=30)
class LostJobTests(TransactionTestCase):
    def setUp(self) -> None:
        self.company = make_company()
        self.submitter = make_user(self.company, SystemRole.USER)
        self.admin = make_user(self.company, SystemRole.TICKET_ADMIN)
        mute_notification_emails(self.submitter, self.admin)  # the tests count the action's jobs
        self.server = LoopbackServer().start()
        self.addCleanup(self.server.stop)
        self.server.handler = lambda body, headers: json_reply(200, {"ok": True})
        wf = make_workflow(
            self.company, [{"key": "call", "task_type": TaskType.SYNC_ACTION, "action_url": self.server.url}]
        )
        self.tt = make_ticket_type(self.company, wf, fields={"type": "object"})

    def task(self) -> TaskInstance:
        with scopes_disabled():
            return TaskInstance.objects.get()

    def sweep_after_deadline(self) -> background.SweepReport:
        deadline = self.task().deadline_at
        assert deadline is not None
        return background.sweep(now=deadline + timedelta(seconds=1))

    def test_queue_refusing_the_job_still_stores_the_ticket_and_the_sweeper_queues_it(self) -> None:
        self.client.force_login(self.submitter)
        with RefusingTrigger(DBTaskResult._meta.db_table), self.assertLogs("workflows.tasks", "ERROR"):
            response = self.client.post(reverse("ticket_submit", args=[self.tt.pk]), {"data": json.dumps({})})
        self.assertEqual(response.status_code, 302)
        with scopes_disabled():
            self.assertEqual(Ticket.objects.count(), 1)
        self.assertEqual(DBTaskResult.objects.count(), 0)
        self.assertEqual(self.task().status, TaskStatus.OPEN)
        self.assertEqual(background.sweep().requeued, 0)  # not before its deadline
        self.assertEqual(self.sweep_after_deadline().requeued, 1)
        self.assertEqual(run_queued_tasks(), 1)
        self.assertEqual(self.task().status, TaskStatus.COMPLETED)
        self.assertEqual(len(self.server.requests), 1)

    @postgres_only
    def test_connection_cut_while_queueing_the_action_is_an_error(self) -> None:
        self.assert_cut_at_job_insert_is_an_error()

    @postgres_only
    def test_connection_cut_while_queueing_the_assignees_email_is_an_error(self) -> None:
        worker = make_user(self.company, SystemRole.TASK_WORKER)
        wf = make_workflow(self.company, [{"key": "triage"}])
        self.tt = make_ticket_type(self.company, wf, fields={"type": "object"})
        with company_scope(self.company):
            self.assertTrue(worker.is_available)
        self.assert_cut_at_job_insert_is_an_error()

    def assert_cut_at_job_insert_is_an_error(self) -> None:
        """Found by bench/faults.py: the connection cut (pg_terminate_backend) during a
        job's insert made the swallowed error doom the step's transaction, which Django
        then rolled back silently, and the submitter was redirected to a ticket that
        never existed. A refusal the savepoint can undo still stores the ticket (above);
        a lost connection must be an error."""
        pid = connection.cursor().connection.info.backend_pid
        db = connection.settings_dict
        job_table = DBTaskResult._meta.db_table

        def cut_at_the_job_insert(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
            if sql.startswith("INSERT") and job_table in sql:
                with psycopg.connect(
                    host=db["HOST"] or "localhost",
                    port=db["PORT"] or 5432,
                    user=db["USER"],
                    password=db["PASSWORD"] or None,
                    dbname=db["NAME"],
                    autocommit=True,
                ) as other:
                    other.execute("SELECT pg_terminate_backend(%s)", [pid])
            return execute(sql, params, many, context)

        self.client.force_login(self.submitter)
        with (
            connection.execute_wrapper(cut_at_the_job_insert),
            self.assertRaises(DatabaseError),
            self.assertLogs(level="ERROR"),
        ):
            self.client.post(reverse("ticket_submit", args=[self.tt.pk]), {"data": json.dumps({})})
        connection.close()
        with scopes_disabled():
            self.assertEqual(Ticket.objects.count(), 0)

    def test_an_action_whose_job_still_waits_in_the_queue_is_not_queued_again(self) -> None:
        """Found by bench/load.py: with a backlog longer than ACTIONS_REQUEUE_AFTER_SECONDS
        the sweeper queued every waiting action again on each pass (273 to 433 a pass),
        which only lengthened the backlog and wrote a 'queued again' line per pass on
        every ticket. A job still waiting is not lost."""
        with company_scope(self.company):
            submit_ticket(user=self.submitter, ticket_type=self.tt, data={})
        self.assertEqual(DBTaskResult.objects.ready().count(), 1)
        with scopes_disabled():  # its deadline passes while the job waits behind others
            TaskInstance.objects.update(deadline_at=timezone.now() - timedelta(seconds=1))
        call_command("sweep_workflows", stdout=StringIO())
        self.assertEqual(DBTaskResult.objects.count(), 1)
        deadline = self.task().deadline_at
        assert deadline is not None
        self.assertGreater(deadline, timezone.now())  # looked at again later
        with scopes_disabled():
            self.assertFalse(Ticket.objects.get().timeline.filter(kind="action_requeued").exists())
        self.assertEqual(run_queued_tasks(), 1)
        self.assertEqual(self.task().status, TaskStatus.COMPLETED)
        self.assertEqual(len(self.server.requests), 1)

    def test_claim_failing_on_a_database_error_leaves_the_task_open_and_the_sweeper_queues_it(self) -> None:
        with company_scope(self.company):
            submit_ticket(user=self.submitter, ticket_type=self.tt, data={})
        with (
            RefusingTrigger("workflows_taskinstance", when="NEW.status = 'IN_PROGRESS'"),
            self.assertRaises(TaskFailed),
            self.assertLogs("django.tasks", "ERROR"),
        ):
            run_queued_tasks()
        self.assertEqual(self.task().status, TaskStatus.OPEN)
        self.assertEqual(self.server.requests, [])
        self.assertEqual(self.sweep_after_deadline().requeued, 1)
        self.assertEqual(run_queued_tasks(), 1)
        self.assertEqual(self.task().status, TaskStatus.COMPLETED)

    def test_an_open_action_of_a_held_ticket_waits_for_resume(self) -> None:
        with (
            RefusingTrigger(DBTaskResult._meta.db_table),
            self.assertLogs("workflows.tasks", "ERROR"),
            company_scope(self.company),
        ):
            instance = submit_ticket(user=self.submitter, ticket_type=self.tt, data={}).workflow_instance
            services.hold(instance=instance, actor=self.admin)
        self.assertEqual(self.sweep_after_deadline().requeued, 0)
        self.assertIsNone(self.task().deadline_at)
        self.assertEqual(DBTaskResult.objects.count(), 0)
        with company_scope(self.company):
            services.resume(instance=instance, actor=self.admin)
        self.assertEqual(run_queued_tasks(), 1)
        self.assertEqual(self.task().status, TaskStatus.COMPLETED)
