"""Shared test helpers: factories, a real loopback HTTP server, a real loopback SMTP
server, and a way to run the queued background tasks in-process (the same
`Worker.run_task` the db_worker uses)."""

import asyncio
import email
import email.policy
import json
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import count
from typing import Any, ClassVar

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from django.test.utils import override_settings
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


def mute_notification_emails(*users: User) -> None:
    """Switches every notification email off for `users`, for tests that count the
    queue's jobs and mean only the workflow's own (notices are still recorded)."""
    from tickets.models import EmailMode, NotificationKind, NotificationPreference

    with scopes_disabled():
        for user in users:
            for kind in NotificationKind:
                NotificationPreference.objects.update_or_create(
                    user=user, kind=kind, defaults={"email": EmailMode.OFF, "company_id": user.company_id}
                )


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
        result = DBTaskResult.objects.ready().first()  # the worker's order: priority, then age
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


@dataclass(frozen=True)
class DeliveredMail:
    """One message as the SMTP server received it."""

    mail_from: str
    recipients: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"] or "")

    @property
    def to(self) -> list[str]:
        return [a.strip() for a in str(self.message["To"] or "").split(",") if a.strip()]

    def part(self, content_type: str) -> str:
        """The decoded body of the text/plain or text/html part ('' if there is none)."""
        for part in self.message.walk():
            if part.get_content_type() == content_type and not part.is_multipart():
                return str(part.get_content())  # type: ignore[attr-defined]
        return ""

    @property
    def text(self) -> str:
        return self.part("text/plain")

    @property
    def html(self) -> str:
        return self.part("text/html")


class _Collector:
    def __init__(self, server: "SmtpServer") -> None:
        self.server = server

    async def handle_DATA(self, smtp: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self.server.lock:
            self.server.delivered.append(
                DeliveredMail(str(envelope.mail_from), list(envelope.rcpt_tos), message)
            )
        return "250 Message accepted for delivery"


class _Controller(Controller):
    """aiosmtpd's threaded controller on a free port chosen by the OS."""

    def _trigger_server(self) -> None:
        assert isinstance(self.server, asyncio.Server)
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class SmtpServer:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps every delivered message.
    With `username`/`password` it requires AUTH with exactly those."""

    def __init__(self, *, username: str = "", password: str = "") -> None:
        self.delivered: list[DeliveredMail] = []
        self.lock = threading.Lock()
        self.username, self.password = username, password
        kwargs: dict[str, Any] = {}
        if username:
            warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
            kwargs = {
                "authenticator": self._authenticate,
                "auth_required": True,
                "auth_require_tls": False,  # loopback test server: no certificate to offer
            }
        self.controller = _Controller(_Collector(self), hostname="127.0.0.1", port=0, **kwargs)

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == self.username
            and auth_data.password.decode() == self.password
        )
        return AuthResult(success=ok, handled=False)  # handled=False: the server answers 535

    @property
    def port(self) -> int:
        return int(self.controller.port)

    def start(self) -> "SmtpServer":
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def clear(self) -> None:
        with self.lock:
            self.delivered.clear()

    def messages(self) -> list[DeliveredMail]:
        with self.lock:
            return list(self.delivered)

    def mailers(self) -> dict[str, dict[str, Any]]:
        """A MAILERS setting that sends through this server (what the environment's
        EMAIL_HOST/EMAIL_PORT/... produce in project.settings)."""
        options: dict[str, Any] = {"host": "127.0.0.1", "port": self.port, "timeout": 10}
        if self.username:
            options |= {"username": self.username, "password": self.password}
        return {"default": {"BACKEND": "django.core.mail.backends.smtp.EmailBackend", "OPTIONS": options}}


class RealMailMixin:
    """For any TestCase (also live-server and browser tests): the project sends its
    mail through SMTP to a loopback aiosmtpd server started for the class. `self.mail()`
    returns what was delivered since the test began (cleared before each test)."""

    smtp: ClassVar[SmtpServer]

    @classmethod
    def setUpClass(cls) -> None:
        cls.smtp = SmtpServer().start()
        mail_settings = override_settings(MAILERS=cls.smtp.mailers())
        mail_settings.enable()
        cls.addClassCleanup(cls.smtp.stop)  # type: ignore[attr-defined]
        cls.addClassCleanup(mail_settings.disable)  # type: ignore[attr-defined]
        super().setUpClass()  # type: ignore[misc]

    def setUp(self) -> None:
        super().setUp()  # type: ignore[misc]
        self.smtp.clear()

    def mail(self, to: str | None = None) -> list[DeliveredMail]:
        """Delivered messages, optionally only those for one address."""
        return [m for m in self.smtp.messages() if to is None or to in m.recipients]
