"""Shared test helpers: factories, a real loopback HTTP server, and a way to run the
queued background tasks in-process (the same `Worker.run_task` the db_worker uses)."""

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import count
from typing import Any

from django_scopes import scopes_disabled
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult

from accounts.models import Company, CompanyRole, User
from accounts.services import set_roles
from tickets.models import TicketType
from workflows.models import TaskDefinition, TaskType, Transition, WorkflowDefinition

PASSWORD = "correct-horse-battery-staple"
_seq = count(1)


def make_company(name: str | None = None) -> Company:
    return Company.objects.create(name=name or f"Company {next(_seq)}")


def make_user(company: Company | None, *roles: str, email: str | None = None, **extra: Any) -> User:
    user = User.objects.create_user(
        email=email or f"user{next(_seq)}@example.com",
        password=PASSWORD,
        company=company,
        first_name=extra.pop("first_name", "Test"),
        last_name=extra.pop("last_name", f"User{next(_seq)}"),
        **extra,
    )
    set_roles(user=user, roles=roles)
    return user


def make_workflow(
    company: Company,
    tasks: list[dict[str, Any]],
    transitions: list[tuple[str, str, str, int]] | None = None,
    *,
    key: str | None = None,
    start: str | None = None,
) -> WorkflowDefinition:
    """tasks: dicts of TaskDefinition fields (with `key`); transitions: (from, to,
    condition, priority). The first task starts unless `start` says otherwise."""
    with scopes_disabled():
        wf = WorkflowDefinition.objects.create(
            company=company, key=key or f"wf-{next(_seq)}", title="Test workflow"
        )
        by_key: dict[str, TaskDefinition] = {}
        for spec in tasks:
            spec = {"title": spec["key"].title(), "task_type": TaskType.FORM, **spec}
            by_key[spec["key"]] = TaskDefinition.objects.create(company=company, workflow=wf, **spec)
        for src, dst, cond, prio in transitions or []:
            Transition.objects.create(
                company=company,
                workflow=wf,
                from_task=by_key[src],
                to_task=by_key[dst],
                condition=cond,
                priority=prio,
            )
        if tasks:
            wf.start_task = by_key[start or tasks[0]["key"]]
            wf.save()
    return wf


def make_ticket_type(
    company: Company,
    workflow: WorkflowDefinition,
    *,
    fields: dict[str, Any] | None = None,
    roles: list[CompanyRole] | None = None,
) -> TicketType:
    with scopes_disabled():
        tt = TicketType.objects.create(
            company=company,
            workflow=workflow,
            key=f"type-{next(_seq)}",
            title=f"Type {next(_seq)}",
            fields=fields
            or {"type": "object", "properties": {"title": {"type": "string"}}, "required": ["title"]},
        )
        if roles:
            tt.company_roles.set(roles)
    return tt


class TaskFailed(AssertionError):
    pass


def run_queued_tasks(*, limit: int = 100) -> int:
    """Runs every ready background task, including ones they enqueue; returns how many.
    Raises if one of them failed, so a crash cannot hide inside a test."""
    worker = Worker(
        queue_names=["default"],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id="test",
        excluded_queue_names=[],
    )
    ran = 0
    while ran < limit:
        result = DBTaskResult.objects.ready().order_by("enqueued_at").first()
        if result is None:
            return ran
        result.claim("test")
        worker.run_task(result)
        ran += 1
        result.refresh_from_db()
        if result.status == "FAILED":
            raise TaskFailed(f"Background task failed: {result.traceback}")
    return ran


Handler = Callable[[dict[str, Any], dict[str, str]], tuple[int, dict[str, str], bytes]]


class LoopbackServer:
    """A real threaded HTTP server on 127.0.0.1. Each test sets `handler`; every
    request is recorded as (path, headers, json body)."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], Any]] = []
        self.handler: Handler = lambda body, headers: (200, {}, b"{}")
        outer = self

        class _H(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw or b"null")
                except ValueError:
                    body = raw.decode(errors="replace")
                headers = {k: v for k, v in self.headers.items()}
                outer.requests.append((self.path, headers, body))
                status, extra_headers, payload = outer.handler(body, headers)
                try:
                    self.send_response(status)
                    for name, value in extra_headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _H)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> "LoopbackServer":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def json_reply(status: int, body: Any) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/json"}, json.dumps(body).encode()
