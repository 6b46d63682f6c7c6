"""The action tests through the real Redis queue (django-tasks-redis): two
`manage.py run_worker` processes consume one stream group concurrently, on
PostgreSQL. Each run uses its own Redis database number and key prefix, so parallel
runs never share a job. Without Redis the module skips, except in CI (CI=true),
where a missing Redis is a failure; `.ci/run` starts one."""

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import redis
from django.conf import settings
from django.db import connection
from django.test import Client, TransactionTestCase, override_settings
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
from tickets.models import Ticket
from tickets.services import submit_ticket
from workflows import background
from workflows.models import TaskInstance, TaskStatus, TaskType, WorkflowInstance, WorkflowStatus

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/9")
PREFIX = f"tf-test-{uuid.uuid4().hex[:12]}"
WORKERS = 2
RETRY_BASE_SECONDS = 0.5


def redis_tasks(url: str = REDIS_URL) -> dict[str, Any]:
    return {
        "default": {
            "BACKEND": settings.REDIS_TASKS_BACKEND,
            "QUEUES": settings.TASK_QUEUES,
            "OPTIONS": {"REDIS_URL": url, "REDIS_KEY_PREFIX": PREFIX, "REDIS_SOCKET_CONNECT_TIMEOUT": 2},
        }
    }


def _database_url() -> str:
    db = settings.DATABASES["default"]
    return f"postgres://{db['USER']}:{db.get('PASSWORD') or ''}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{db['NAME']}"


@override_settings(TASKS=redis_tasks(), ACTIONS_ALLOW_PRIVATE_NETWORKS=True)
class RedisQueueActionTests(TransactionTestCase):
    workers: ClassVar[list[subprocess.Popen[bytes]]]
    logs: ClassVar[list[Path]]
    logdir: ClassVar[tempfile.TemporaryDirectory[str]]

    @classmethod
    def setUpClass(cls) -> None:
        if connection.vendor != "postgresql":
            raise unittest.SkipTest("needs PostgreSQL: the workers write from other processes")
        try:
            redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
        except redis.RedisError as exc:
            if os.environ.get("CI") == "true":
                raise RuntimeError(f"Redis is required in CI but not reachable at {REDIS_URL}") from exc
            raise unittest.SkipTest(f"Redis is not reachable at {REDIS_URL}") from exc
        super().setUpClass()
        cls.logdir = tempfile.TemporaryDirectory()
        env = {
            **os.environ,
            "TESTING": "true",
            "DATABASE_URL": _database_url(),
            "TASKS_BACKEND": settings.REDIS_TASKS_BACKEND,
            "TASKS_REDIS_URL": REDIS_URL,
            "TASKS_REDIS_PREFIX": PREFIX,
            "ACTIONS_ALLOW_PRIVATE_NETWORKS": "true",
            "ACTIONS_RETRY_BASE_SECONDS": str(RETRY_BASE_SECONDS),
            "ACTIONS_MAX_ATTEMPTS": "3",
        }
        cls.workers, cls.logs = [], []
        for i in range(WORKERS):
            log = Path(cls.logdir.name) / f"worker{i}.log"
            cls.logs.append(log)
            with log.open("wb") as out:
                cls.workers.append(
                    subprocess.Popen(
                        [sys.executable, "manage.py", "run_worker", "--interval", "0.2"],
                        cwd=settings.BASE_DIR,
                        env=env,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                    )
                )
        deadline = time.monotonic() + 60
        while not all("Starting Redis task worker" in log.read_text() for log in cls.logs):
            if time.monotonic() > deadline or any(w.poll() is not None for w in cls.workers):
                cls._stop_workers()
                raise RuntimeError("Redis workers did not start:\n" + cls.worker_output())
            time.sleep(0.1)

    @classmethod
    def tearDownClass(cls) -> None:
        if getattr(cls, "workers", None):
            cls._stop_workers()
            client = redis.Redis.from_url(REDIS_URL)
            keys = list(client.scan_iter(match=f"{PREFIX}*", count=500))
            if keys:
                client.delete(*keys)
            cls.logdir.cleanup()
        super().tearDownClass()

    @classmethod
    def _stop_workers(cls) -> None:
        for worker in cls.workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)  # graceful: finishes its job, leaves the group
        for worker in cls.workers:
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()

    @classmethod
    def worker_output(cls) -> str:
        return "\n".join(log.read_text(errors="replace")[-3000:] for log in cls.logs)

    def setUp(self) -> None:
        self.server = LoopbackServer().start()
        self.addCleanup(self.server.stop)
        self.company = make_company()
        self.submitter = make_user(self.company, SystemRole.USER)

    def submit(self, workflow: Any, n: int = 1) -> list[Ticket]:
        tt = make_ticket_type(self.company, workflow, fields={"type": "object"})
        with company_scope(self.company):
            return [
                submit_ticket(user=self.submitter, ticket_type=tt, data={"title": f"T{i}"}) for i in range(n)
            ]

    def sync_workflow(self) -> Any:
        return make_workflow(
            self.company,
            [
                {
                    "key": "call",
                    "task_type": TaskType.SYNC_ACTION,
                    "action_url": self.server.url + "/hook",
                    "timeout_seconds": 10,
                    "output_transform": {"code": "response.status"},
                },
                {"key": "after"},
            ],
            [("call", "after", "", 0)],
        )

    def wait_for(self, what: str, done: Callable[[], bool], seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with scopes_disabled():
                if done():
                    return
            time.sleep(0.1)
        self.fail(f"Timed out waiting for {what}. Workers said:\n{self.worker_output()}")

    def keys(self, ticket: Ticket) -> list[str]:
        with scopes_disabled():
            return list(
                TaskInstance.objects.filter(workflow_instance_id=ticket.workflow_instance_id)
                .order_by("id")
                .values_list("task_definition__key", flat=True)
            )

    def test_sync_actions_run_once_each_on_two_concurrent_workers(self) -> None:
        lock, in_flight, most = threading.Lock(), [0], [0]

        def slow_ok(body: Any, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
            with lock:
                in_flight[0] += 1
                most[0] = max(most[0], in_flight[0])
            time.sleep(0.5)
            with lock:
                in_flight[0] -= 1
            return json_reply(200, {"ok": True})

        self.server.handler = slow_ok
        tickets = self.submit(self.sync_workflow(), n=8)
        self.wait_for(
            "every action to complete",
            lambda: all(self.keys(t) == ["call", "after"] for t in tickets),
        )
        keys = [headers["Idempotency-Key"] for _path, headers, _body in self.server.requests]
        self.assertEqual(len(keys), 8)
        self.assertEqual(len(set(keys)), 8, "an action was called twice")
        self.assertGreaterEqual(most[0], 2, "the two workers never called at the same time")
        with scopes_disabled():
            calls = TaskInstance.objects.filter(task_definition__key="call")
            self.assertEqual(sorted(calls.values_list("status", "attempts")), [(TaskStatus.COMPLETED, 1)] * 8)
            self.assertEqual({str(t.uuid) for t in calls}, set(keys))
            self.assertEqual([t.output_data for t in calls], [{"code": 200}] * 8)

    def test_async_action_then_callback(self) -> None:
        self.server.handler = lambda body, headers: json_reply(202, {"queued": True})
        wf = make_workflow(
            self.company,
            [
                {
                    "key": "provision",
                    "task_type": TaskType.ASYNC_ACTION,
                    "action_url": self.server.url + "/provision",
                    "output_transform": {"account": "response.body.account"},
                    "callback_timeout_seconds": 60,
                },
                {"key": "welcome"},
            ],
            [("provision", "welcome", "", 0)],
        )
        (ticket,) = self.submit(wf)
        self.wait_for(
            "the callback wait",
            lambda: TaskInstance.objects.filter(
                workflow_instance_id=ticket.workflow_instance_id, status=TaskStatus.PENDING
            ).exists(),
        )
        (_path, _headers, body) = self.server.requests[0]
        path = body["callback_url"].split("://", 1)[1].split("/", 1)[1]
        response = Client().post(
            "/" + path,
            data=json.dumps({"account": "jdoe"}),
            content_type="application/json",
            headers={"Authorization": f"Bearer {body['callback_token']}"},
        )
        self.assertEqual(response.status_code, 200)
        self.assertEqual(self.keys(ticket), ["provision", "welcome"])
        with scopes_disabled():
            task = TaskInstance.objects.get(task_definition__key="provision")
        self.assertEqual((task.status, task.output_data), (TaskStatus.COMPLETED, {"account": "jdoe"}))
        self.assertEqual(len(self.server.requests), 1)

    def test_transient_failures_retry_through_delayed_jobs(self) -> None:
        replies = [json_reply(503, {}), json_reply(500, {}), json_reply(200, {"fine": 1})]
        self.server.handler = lambda body, headers: replies.pop(0)
        (ticket,) = self.submit(self.sync_workflow())
        started = time.monotonic()
        self.wait_for("the third attempt to succeed", lambda: self.keys(ticket) == ["call", "after"])
        # The retries were deferred jobs (run_after): 0.5 s, then 1 s.
        self.assertGreaterEqual(time.monotonic() - started, RETRY_BASE_SECONDS * 3)
        self.assertEqual(len(self.server.requests), 3)
        self.assertEqual(len({r[1]["Idempotency-Key"] for r in self.server.requests}), 1)
        with scopes_disabled():
            self.assertEqual(ticket.timeline.filter(kind="action_retry").count(), 2)
            self.assertEqual(ticket.errors.count(), 0)

    def test_job_lost_before_the_queue_is_queued_again_by_the_sweeper(self) -> None:
        """A non-database queue cannot commit with the step: Redis down at that moment
        loses the job. The submit still succeeds and the sweeper queues it again."""
        self.server.handler = lambda body, headers: json_reply(200, {"ok": True})
        with (
            override_settings(TASKS=redis_tasks("redis://127.0.0.1:1/0")),  # nothing listens there
            self.assertLogs(level="ERROR") as logged,  # the action's job and the notice's
        ):
            (ticket,) = self.submit(self.sync_workflow())
        self.assertTrue(
            any("the sweeper will queue it again" in line for line in logged.output), logged.output
        )
        with scopes_disabled():
            task = TaskInstance.objects.get(workflow_instance_id=ticket.workflow_instance_id)
        self.assertEqual(task.status, TaskStatus.OPEN)
        time.sleep(1)
        self.assertEqual(self.server.requests, [])
        later = timezone.now() + timezone.timedelta(seconds=settings.ACTIONS_REQUEUE_AFTER_SECONDS + 1)
        self.assertEqual(background.sweep(now=later).requeued, 1)
        self.wait_for("the re-queued action", lambda: self.keys(ticket) == ["call", "after"])
        self.assertEqual(len(self.server.requests), 1)
        with scopes_disabled():
            self.assertEqual(
                WorkflowInstance.objects.get(pk=ticket.workflow_instance_id).status,
                WorkflowStatus.IN_PROGRESS,
            )
