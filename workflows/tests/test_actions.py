import hashlib
import hmac
import json
import time
from typing import Any

from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext

from project.testing import LoopbackServer, json_reply, make_workflow
from workflows import background, services
from workflows.actions import SIGNATURE_HEADER
from workflows.models import TaskStatus, TaskType, WorkflowStatus
from workflows.tests.base import EngineTestCase


@override_settings(ACTIONS_ALLOW_PRIVATE_NETWORKS=True, ACTIONS_RETRY_BASE_SECONDS=0, ACTIONS_MAX_ATTEMPTS=3)
class SyncActionTests(EngineTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.server = LoopbackServer().start()
        self.addCleanup(self.server.stop)

    def workflow(self, **task: Any):  # type: ignore[no-untyped-def]
        spec = {
            "key": "call",
            "task_type": TaskType.SYNC_ACTION,
            "action_url": self.server.url + "/hook",
            "timeout_seconds": 2,
            "input_transform": {"subject": "ticket.title"},
            **task,
        }
        return make_workflow(self.company, [spec, {"key": "after"}], [("call", "after", "", 0)])

    def test_success_posts_signed_json_and_advances(self) -> None:
        self.server.handler = lambda body, headers: json_reply(200, {"id": 42, "ok": True})
        ticket = self.submit(
            self.workflow(output_transform={"ref": "response.body.id", "code": "response.status"}),
            {"title": "Laptop"},
        )
        self.drain()
        self.assertEqual(self.keys(ticket), ["call", "after"])
        call = ticket.workflow_instance.tasks.get(task_definition__key="call")
        self.assertEqual(call.status, TaskStatus.COMPLETED)
        self.assertEqual(call.output_data, {"ref": 42, "code": 200})
        _path, headers, body = self.server.requests[0]
        self.assertEqual(body, {"subject": "Laptop"})
        self.assertEqual(headers["Idempotency-Key"], str(call.uuid))
        raw = json.dumps(body, separators=(",", ":"), sort_keys=True).encode()
        expected = "sha256=" + hmac.new(self.company.action_secret.encode(), raw, hashlib.sha256).hexdigest()
        self.assertEqual(headers[SIGNATURE_HEADER], expected)

    def test_an_action_step_writes_its_events_together(self) -> None:
        # The step that records the answer, routes and enters the next task (completed,
        # routed, task_created, assigned) looks the ticket up once and writes one INSERT.
        self.server.handler = lambda body, headers: json_reply(200, {"ok": True})
        ticket = self.submit(self.workflow(), {"title": "Laptop"})
        with CaptureQueriesContext(connection) as ctx:
            self.drain()
        self.assertEqual(self.keys(ticket), ["call", "after"])
        sql = [q["sql"] for q in ctx.captured_queries]
        lookups = [q for q in sql if q.startswith('SELECT "tickets_ticket"."id"')]
        # Alone, or in a WITH with the step's notices (one statement either way).
        inserts = [q for q in sql if 'INSERT INTO "tickets_timelineevent"' in q]
        self.assertEqual((len(lookups), len(inserts)), (2, 2), "claim step, then answer step")
        kinds = list(ticket.timeline.order_by("created_at", "id").values_list("kind", flat=True))
        self.assertEqual(kinds[-4:], ["task_completed", "routed", "task_created", "assigned"])

    def test_4xx_fails_at_once(self) -> None:
        self.server.handler = lambda body, headers: json_reply(400, {"error": "bad"})
        ticket = self.submit(self.workflow())
        self.drain()
        self.assertEqual(len(self.server.requests), 1)
        self.assertEqual(self.current_task(ticket).status, TaskStatus.ERROR)
        self.assertEqual(self.status(ticket), WorkflowStatus.ON_HOLD)
        error_type, message = self.errors(ticket)[0]
        self.assertEqual(error_type, "TASK_UPDATE")
        self.assertIn("HTTP 400", message)

    def test_5xx_twice_then_success_on_retry_with_same_idempotency_key(self) -> None:
        replies = [json_reply(503, {}), json_reply(500, {}), json_reply(200, {"fine": 1})]
        self.server.handler = lambda body, headers: replies.pop(0)
        ticket = self.submit(self.workflow())
        self.drain()
        self.assertEqual(len(self.server.requests), 3)
        self.assertEqual(len({r[1]["Idempotency-Key"] for r in self.server.requests}), 1)
        self.assertEqual(self.keys(ticket), ["call", "after"])
        self.assertEqual(ticket.timeline.filter(kind="action_retry").count(), 2)
        self.assertEqual(self.errors(ticket), [])

    def test_retries_run_out(self) -> None:
        self.server.handler = lambda body, headers: json_reply(502, {})
        ticket = self.submit(self.workflow())
        self.drain()
        self.assertEqual(len(self.server.requests), 3)
        self.assertEqual(self.status(ticket), WorkflowStatus.ON_HOLD)
        self.assertIn("HTTP 502", self.errors(ticket)[0][1])

    @override_settings(ACTIONS_MAX_ATTEMPTS=1)
    def test_timeout(self) -> None:
        def slow(body: Any, headers: Any) -> tuple[int, dict[str, str], bytes]:
            time.sleep(8)
            return json_reply(200, {})

        self.server.handler = slow
        ticket = self.submit(self.workflow(timeout_seconds=1))
        started = time.monotonic()
        self.drain()
        # Far below the server's 8 s, with room for a loaded CI machine.
        self.assertLess(time.monotonic() - started, 5)
        self.assertEqual(self.current_task(ticket).status, TaskStatus.ERROR)
        self.assertIn("within 1s", self.errors(ticket)[0][1])

    @override_settings(ACTIONS_MAX_ATTEMPTS=1)
    def test_timeout_bounds_the_whole_call_even_when_bytes_drip(self) -> None:
        import socket
        import threading

        # A raw server that answers headers at once, then one body byte every 0.3 s.
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        self.addCleanup(listener.close)

        def drip() -> None:
            conn, _ = listener.accept()
            with conn:
                conn.recv(65536)
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n"
                )
                for _ in range(40):
                    try:
                        conn.sendall(b" ")
                    except OSError:
                        return
                    time.sleep(0.3)

        threading.Thread(target=drip, daemon=True).start()
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/drip"
        ticket = self.submit(self.workflow(timeout_seconds=1, action_url=url))
        started = time.monotonic()
        self.drain()
        self.assertLess(time.monotonic() - started, 2.5)
        self.assertEqual(self.current_task(ticket).status, TaskStatus.ERROR)
        self.assertIn("No complete response within 1s", self.errors(ticket)[0][1])

    def test_redirect_is_not_followed(self) -> None:
        self.server.handler = lambda body, headers: (302, {"Location": self.server.url + "/elsewhere"}, b"")
        ticket = self.submit(self.workflow())
        self.drain()
        self.assertEqual([r[0] for r in self.server.requests], ["/hook"])
        self.assertIn("redirect", self.errors(ticket)[0][1])

    @override_settings(ACTIONS_MAX_RESPONSE_BYTES=1000)
    def test_body_over_the_cap(self) -> None:
        self.server.handler = lambda body, headers: json_reply(200, {"blob": "x" * 5000})
        ticket = self.submit(self.workflow())
        self.drain()
        self.assertEqual(self.current_task(ticket).status, TaskStatus.ERROR)
        self.assertIn("1000 byte cap", self.errors(ticket)[0][1])

    def test_non_json_response_is_an_error(self) -> None:
        self.server.handler = lambda body, headers: (200, {"Content-Type": "text/html"}, b"<html>")
        ticket = self.submit(self.workflow())
        self.drain()
        self.assertIn("not JSON", self.errors(ticket)[0][1])

    def test_answer_arriving_during_a_manual_hold_does_not_lift_it(self) -> None:
        from workflows.actions import ActionResponse

        self.server.handler = lambda body, headers: json_reply(200, {"ok": 1})
        ticket = self.submit(self.workflow())
        task = self.current_task(ticket)
        claim = background._claim_action(task.pk)
        assert claim is not None
        services.hold(instance=ticket.workflow_instance, actor=self.admin)
        background._action_succeeded(claim, ActionResponse(status=200, headers={}, body={"ok": 1}))
        task.refresh_from_db()
        self.assertEqual(task.status, TaskStatus.COMPLETED)
        self.assertEqual(self.status(ticket), WorkflowStatus.ON_HOLD)
        self.assertEqual(self.keys(ticket), ["call"])
        services.resume(instance=ticket.workflow_instance, actor=self.admin)
        self.assertEqual(self.keys(ticket), ["call", "after"])
        self.assertEqual(self.status(ticket), WorkflowStatus.IN_PROGRESS)

    def test_admin_retry_calls_again(self) -> None:
        replies = [json_reply(400, {}), json_reply(200, {"ok": 1})]
        self.server.handler = lambda body, headers: replies.pop(0)
        ticket = self.submit(self.workflow())
        self.drain()
        self.assertEqual(self.status(ticket), WorkflowStatus.ON_HOLD)
        with self.captureOnCommitCallbacks(execute=True):
            services.retry(instance=ticket.workflow_instance, actor=self.admin)
        self.drain()
        self.assertEqual(self.keys(ticket), ["call", "after"])
        from tickets.models import ErrorStatus

        self.assertEqual(set(ticket.errors.values_list("status", flat=True)), {ErrorStatus.RESOLVED})


@override_settings(ACTIONS_ALLOW_PRIVATE_NETWORKS=False)
class PrivateNetworkTests(EngineTestCase):
    def test_private_targets_are_refused_and_recorded(self) -> None:
        for url in ("http://127.0.0.1:9/x", "http://10.0.0.1/x", "http://169.254.169.254/latest"):
            with self.subTest(url=url):
                wf = make_workflow(
                    self.company,
                    [
                        {
                            "key": "call",
                            "task_type": TaskType.SYNC_ACTION,
                            "action_url": url,
                            "timeout_seconds": 2,
                        }
                    ],
                )
                ticket = self.submit(wf)
                self.drain()
                self.assertEqual(self.current_task(ticket).status, TaskStatus.ERROR)
                self.assertIn("Refused to call this URL", self.errors(ticket)[0][1])


@override_settings(ACTIONS_ALLOW_PRIVATE_NETWORKS=True, ACTIONS_RETRY_BASE_SECONDS=0)
class AsyncActionTests(EngineTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.server = LoopbackServer().start()
        self.addCleanup(self.server.stop)
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
        self.ticket = self.submit(wf)
        self.drain()
        self.task = self.current_task(self.ticket)
        _, _, body = self.server.requests[0]
        self.callback_url = body["callback_url"]
        self.token = body["callback_token"]
        self.client = Client()

    def post(self, token: str, payload: Any, url: str | None = None) -> Any:
        path = (url or self.callback_url).split("127.0.0.1:8000", 1)[-1]
        return self.client.post(
            path,
            data=json.dumps(payload),
            content_type="application/json",
            headers={"Authorization": f"Bearer {token}"},
        )

    def test_waits_pending_with_hashed_token(self) -> None:
        self.assertEqual(self.task.status, TaskStatus.PENDING)
        self.assertIn(str(self.task.uuid), self.callback_url)
        self.assertNotIn(self.token, self.task.callback_token_hash)
        self.assertEqual(len(self.task.callback_token_hash), 64)

    def test_callback_success_advances(self) -> None:
        response = self.post(self.token, {"account": "jdoe"})
        self.assertEqual(response.status_code, 200)
        self.task.refresh_from_db()
        self.assertEqual(self.task.status, TaskStatus.COMPLETED)
        self.assertEqual(self.task.output_data, {"account": "jdoe"})
        self.assertEqual(self.keys(self.ticket), ["provision", "welcome"])

    def test_wrong_token_and_unknown_task_are_404(self) -> None:
        self.assertEqual(self.post("wrong", {"account": "x"}).status_code, 404)
        unknown = self.callback_url.replace(str(self.task.uuid), "00000000-0000-0000-0000-000000000000")
        self.assertEqual(self.post(self.token, {}, url=unknown).status_code, 404)
        self.task.refresh_from_db()
        self.assertEqual(self.task.status, TaskStatus.PENDING)

    def test_duplicate_callback_changes_nothing(self) -> None:
        self.assertEqual(self.post(self.token, {"account": "a"}).status_code, 200)
        second = self.post(self.token, {"account": "b"})
        self.assertEqual(second.status_code, 200)
        self.assertEqual(second.json()["status"], "duplicate")
        self.task.refresh_from_db()
        self.assertEqual(self.task.output_data, {"account": "a"})
        self.assertEqual(self.keys(self.ticket), ["provision", "welcome"])

    def test_late_callback_after_deadline_is_409(self) -> None:
        from datetime import timedelta

        from django.utils import timezone

        report = background.sweep(now=timezone.now() + timedelta(seconds=61))
        self.assertEqual(report.expired, 1)
        self.task.refresh_from_db()
        self.assertEqual(self.task.status, TaskStatus.ERROR)
        self.assertIn("callback did not arrive", self.errors(self.ticket)[0][1])
        self.assertEqual(self.post(self.token, {"account": "late"}).status_code, 409)

    def test_deadline_not_reached_changes_nothing(self) -> None:
        self.assertEqual(background.sweep().expired, 0)
        self.task.refresh_from_db()
        self.assertEqual(self.task.status, TaskStatus.PENDING)

    def test_callback_while_held_is_kept_and_routing_waits_for_resume(self) -> None:
        services.hold(instance=self.ticket.workflow_instance, actor=self.admin)
        self.assertEqual(self.post(self.token, {"account": "held"}).status_code, 200)
        self.task.refresh_from_db()
        self.assertEqual(self.task.status, TaskStatus.COMPLETED)
        self.assertEqual(self.keys(self.ticket), ["provision"])
        self.assertEqual(self.status(self.ticket), WorkflowStatus.ON_HOLD)
        services.resume(instance=self.ticket.workflow_instance, actor=self.admin)
        self.assertEqual(self.keys(self.ticket), ["provision", "welcome"])

    def test_resume_refuses_a_ticket_stopped_by_an_error(self) -> None:
        from datetime import timedelta

        from django.utils import timezone

        background.sweep(now=timezone.now() + timedelta(seconds=61))
        with self.assertRaises(services.StateConflict):
            services.resume(instance=self.ticket.workflow_instance, actor=self.admin)

    def test_bad_body_is_400(self) -> None:
        response = self.client.post(
            self.callback_url.split("127.0.0.1:8000", 1)[-1],
            data="[1]",
            content_type="application/json",
            headers={"Authorization": f"Bearer {self.token}"},
        )
        self.assertEqual(response.status_code, 400)


@override_settings(ACTIONS_ALLOW_PRIVATE_NETWORKS=True, ACTIONS_RETRY_BASE_SECONDS=0)
class SweeperRecoveryTests(EngineTestCase):
    def test_stuck_in_progress_action_is_requeued(self) -> None:
        from datetime import timedelta

        from django.utils import timezone

        server = LoopbackServer().start()
        self.addCleanup(server.stop)
        server.handler = lambda body, headers: json_reply(200, {"ok": 1})
        wf = make_workflow(
            self.company, [{"key": "call", "task_type": TaskType.SYNC_ACTION, "action_url": server.url}]
        )
        ticket = self.submit(wf)
        task = self.current_task(ticket)
        # Simulate a worker that claimed the task and died.
        from django_tasks_db.models import DBTaskResult

        DBTaskResult.objects.all().delete()
        task.status = TaskStatus.IN_PROGRESS
        task.attempts = 1
        task.deadline_at = timezone.now() - timedelta(seconds=1)
        task.save()
        with self.captureOnCommitCallbacks(execute=True):
            self.assertEqual(background.sweep().recovered, 1)
        self.drain()
        self.assertEqual(self.status(ticket), WorkflowStatus.COMPLETED)
