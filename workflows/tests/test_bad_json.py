"""JSON the database cannot store (or the code cannot walk) is refused with a clear
message and nothing written, at every entry point: ticket submit, task form, the
services behind them (the API path), callbacks and action answers. One test per case."""

import json
from collections.abc import Callable
from typing import Any

from django.test import override_settings
from django.urls import reverse
from django_scopes import scopes_disabled

from project.testing import LoopbackServer, json_reply, make_ticket_type, make_workflow
from tickets.access import may_complete_task
from tickets.models import Ticket, TimelineEvent
from tickets.services import TicketDataInvalid, submit_ticket
from workflows import jsonsafe, services
from workflows.models import TaskStatus, TaskType
from workflows.tests.base import EngineTestCase

DEEP = 1_000
VERY_DEEP = 100_000

# name -> (raw JSON text of an object, message fragment)
BAD_TEXT: dict[str, tuple[str, str]] = {
    "nul": ('{"title": "a\\u0000b"}', "NUL character"),
    "nan": ('{"n": NaN}', "NaN is not a JSON number"),
    "infinity": ('{"n": Infinity}', "Infinity is not a JSON number"),
    "minus_infinity": ('{"n": -Infinity}', "-Infinity is not a JSON number"),
    "overflowing_float": ('{"n": 1e400}', "Number out of range"),
    "huge_integer": ('{"n": 9223372036854775808}', "Integer out of range"),
    "lone_surrogate": ('{"title": "\\ud800"}', "lone surrogate"),
    "nested_1000": ('{"n": ' + "[" * DEEP + "]" * DEEP + "}", f"Nested deeper than {jsonsafe.MAX_DEPTH}"),
    "nested_100000": (
        '{"n": ' + "[" * VERY_DEEP + "]" * VERY_DEEP + "}",
        f"Nested deeper than {jsonsafe.MAX_DEPTH}",
    ),
}


def deep(levels: int) -> Any:
    value: Any = []
    for _ in range(levels - 1):
        value = [value]
    return value


# name -> (parsed value of an object, as the API would pass it; message fragment)
BAD_VALUES: dict[str, tuple[dict[str, Any], str]] = {
    "nul": ({"title": "a\x00b"}, "NUL character"),
    "nan": ({"n": float("nan")}, "Number out of range"),
    "infinity": ({"n": float("inf")}, "Number out of range"),
    "huge_integer": ({"n": 2**63}, "Integer out of range"),
    "lone_surrogate": ({"title": "\ud800"}, "lone surrogate"),
    "nested_1000": ({"n": deep(DEEP)}, f"Nested deeper than {jsonsafe.MAX_DEPTH}"),
}


def per_case[C](cases: dict[str, Any], check: str) -> Callable[[C], C]:
    """Adds `test_<check>_<case>` calling `self.<check>(*case)` for each case."""

    def decorate(cls: C) -> C:
        for name, args in cases.items():

            def test(self: Any, args: Any = args) -> None:
                getattr(self, check)(*args)

            setattr(cls, f"test_{check}_{name}", test)
        return cls

    return decorate


class CheckerTests(EngineTestCase):
    def test_good_json_passes_unchanged(self) -> None:
        raw = '{"a": [1, 2.5, -3, true, null, "h\\ud83d\\ude00", {"b": "x"}], "c": 9223372036854775807}'
        self.assertEqual(jsonsafe.loads(raw), json.loads(raw))
        self.assertIsNone(jsonsafe.problem({"n": deep(jsonsafe.MAX_DEPTH - 1)}))  # 64 levels

    def test_paths_point_at_the_value(self) -> None:
        refused = jsonsafe.problem({"a": {"b": [1, "ok", "x\x00"]}})
        assert refused is not None
        self.assertEqual(refused.path, "$.a.b[2]")


@per_case(BAD_TEXT, "submit_page")
@per_case(BAD_TEXT, "task_page")
@per_case(BAD_VALUES, "submit_service")
@per_case(BAD_VALUES, "complete_service")
class EntryPointTests(EngineTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.wf = make_workflow(self.company, [{"key": "a"}, {"key": "b"}], [("a", "b", "", 0)])
        self.tt = make_ticket_type(self.company, self.wf, fields={"type": "object"})

    def counts(self) -> tuple[int, int]:
        with scopes_disabled():
            return Ticket.objects.count(), TimelineEvent.objects.count()

    def submit_page(self, raw: str, message: str) -> None:
        self.client.force_login(self.submitter)
        before = self.counts()
        response = self.client.post(reverse("ticket_submit", args=[self.tt.pk]), {"data": raw})
        self.assertEqual(response.status_code, 200)
        self.assertIn(message, " ".join(response.context["form"].errors["data"]))
        self.assertEqual(self.counts(), before)

    def task_page(self, raw: str, message: str) -> None:
        ticket = self.submit(self.wf)
        task = self.current_task(ticket)
        self.client.force_login(self.admin)
        before = self.counts()
        response = self.client.post(reverse("task_detail", args=[task.pk]), {"data": raw})
        self.assertEqual(response.status_code, 200)
        self.assertIn(message, " ".join(response.context["form"].errors["data"]))
        self.assertEqual(self.counts(), before)
        task.refresh_from_db()
        self.assertEqual(task.status, TaskStatus.OPEN)

    def submit_service(self, value: dict[str, Any], message: str) -> None:
        before = self.counts()
        with self.assertRaises(TicketDataInvalid) as raised:
            submit_ticket(user=self.submitter, ticket_type=self.tt, data=value)
        self.assertIn(message, str(raised.exception))
        self.assertEqual(self.counts(), before)

    def complete_service(self, value: dict[str, Any], message: str) -> None:
        ticket = self.submit(self.wf)
        task = self.current_task(ticket)
        before = self.counts()
        with self.assertRaises(services.OutputInvalid) as raised:
            services.complete_form_task(
                task=task, output=value, actor=self.admin, permitted=may_complete_task
            )
        self.assertIn(message, str(raised.exception))
        self.assertEqual(self.counts(), before)


@per_case(BAD_TEXT, "callback")
@per_case(BAD_TEXT, "action_answer")
@override_settings(ACTIONS_ALLOW_PRIVATE_NETWORKS=True)
class CallbackTests(EngineTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.server = LoopbackServer().start()
        self.addCleanup(self.server.stop)
        self.server.handler = lambda body, headers: json_reply(202, {})

    def pending_task(self, task_type: str = TaskType.ASYNC_ACTION) -> tuple[str, str]:
        wf = make_workflow(
            self.company,
            [{"key": "ext", "task_type": task_type, "action_url": self.server.url}, {"key": "b"}],
            [("ext", "b", "", 0)],
        )
        self.ticket = self.submit(wf)
        self.drain()
        body = self.server.requests[-1][2]
        return body["callback_url"].split("127.0.0.1:8000", 1)[1], body["callback_token"]

    def post(self, path: str, raw: bytes | str, token: str) -> Any:
        return self.client.post(
            path, data=raw, content_type="application/json", headers={"Authorization": f"Bearer {token}"}
        )

    def callback(self, raw: str, message: str) -> None:
        path, token = self.pending_task()
        before = TimelineEvent.objects.count()
        response = self.post(path, raw, token)
        self.assertEqual(response.status_code, 400)
        self.assertIn(message, response.json()["error"])
        self.assertEqual(TimelineEvent.objects.count(), before)
        self.assertEqual(self.current_task(self.ticket).status, TaskStatus.PENDING)
        self.assertEqual(self.post(path, '{"ok": true}', token).status_code, 200)  # a good one still lands

    def action_answer(self, raw: str, message: str) -> None:
        """A SYNC action answering such JSON fails its step with the reason (no 500, no retry loop)."""
        self.server.handler = lambda body, headers: (200, {"Content-Type": "application/json"}, raw.encode())
        wf = make_workflow(
            self.company, [{"key": "call", "task_type": TaskType.SYNC_ACTION, "action_url": self.server.url}]
        )
        ticket = self.submit(wf)
        self.drain()
        self.assertEqual(self.current_task(ticket).status, TaskStatus.ERROR)
        self.assertIn(message, self.errors(ticket)[0][1])

    def test_callback_authenticates_before_parsing(self) -> None:
        path, token = self.pending_task()
        deep_raw = "[" * VERY_DEEP + "]" * VERY_DEEP
        self.assertEqual(self.post(path, deep_raw, "wrong").status_code, 404)
        self.assertEqual(self.post(path, deep_raw, "").status_code, 404)
        self.assertEqual(self.post(path, deep_raw, token).status_code, 400)

    def test_callback_oversized_body_is_413_once_authenticated(self) -> None:
        path, token = self.pending_task()
        big = json.dumps({"pad": "x" * (1024 * 1024)})
        self.assertEqual(self.post(path, big, "wrong").status_code, 404)
        response = self.post(path, big, token)
        self.assertEqual(response.status_code, 413)
        self.assertEqual(self.current_task(self.ticket).status, TaskStatus.PENDING)

    def test_callback_not_utf8_is_400(self) -> None:
        path, token = self.pending_task()
        response = self.post(path, b'{"a": "\xff"}', token)
        self.assertEqual(response.status_code, 400)
        self.assertIn("Not UTF-8", response.json()["error"])
