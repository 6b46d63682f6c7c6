"""Load benchmark (not a test): N clients for T seconds of mixed traffic against a
running server: ticket submits, ticket and task lists, form completions, and the
callbacks of an asynchronous action. Then it checks that every accepted submission
exists and progressed, that no action was called twice, and counts deadlocks.

    dropdb tf_bench; createdb tf_bench   # a fresh database: no earlier run's backlog
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tf_bench \\
        .venv/bin/python bench/load.py --clients 16 --seconds 300

It starts the server it measures (gunicorn 2 workers x 8 threads, DEBUG off, two
`run_worker`s and `sweep_workflows --loop 5`) on a free loopback port, on the database
named by DATABASE_URL (migrated, then a bench company is added), and stops them at the
end. The workflow: form `triage` (assigned to 4 workers) -> SYNC action -> ASYNC action
(its callback comes from this script 0.2 s later) -> done. Actions call this script's
own loopback server, which records every call by idempotency key. Exits 1 if a check
fails (5xx, deadlocks, an action called twice, a submission lost or without a task)."""

import argparse
import json
import os
import random
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.cookiejar import DefaultCookiePolicy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
# The server's settings, so session and CSRF cookies (names, signing key) match it.
os.environ.setdefault("SECRET_KEY", "bench-" + secrets.token_hex(24))
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1")
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY  # noqa: E402
from django.contrib.sessions.backends.db import SessionStore  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django_scopes import scopes_disabled  # noqa: E402

from accounts.roles import SystemRole  # noqa: E402
from project.testing import (  # noqa: E402
    SmtpServer,
    make_company,
    make_ticket_type,
    make_user,
    make_workflow,
)
from tickets.models import Ticket  # noqa: E402
from workflows.models import TaskInstance, TaskType  # noqa: E402

PYTHON = str(ROOT / ".venv" / "bin" / "python")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ActionServer:
    """The actions' far end: records calls per idempotency key; the async action's
    callback is posted back after `callback_delay` seconds."""

    def __init__(self, *, callback_delay: float = 0.2, call_seconds: float = 0.0) -> None:
        self.calls: Counter[tuple[str, str]] = Counter()
        self.callback_status: Counter[int] = Counter()
        self.callback_latency: list[float] = []
        self.call_seconds = call_seconds
        self.in_flight = 0  # calls being answered right now (a worker is mid-call)
        self.pool = ThreadPoolExecutor(max_workers=8)
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                key = self.headers.get("Idempotency-Key", "")
                with outer.lock:
                    outer.calls[(self.path, key)] += 1
                    outer.in_flight += 1
                try:
                    if outer.call_seconds:
                        time.sleep(outer.call_seconds)
                finally:
                    with outer.lock:
                        outer.in_flight -= 1
                if "callback_url" in body:
                    outer.pool.submit(
                        outer.callback, body["callback_url"], body["callback_token"], callback_delay
                    )
                    status, answer = 202, b"{}"
                else:
                    status, answer = 200, b'{"checked": true}'
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the caller was killed mid-call (bench/faults.py)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def callback(self, url: str, token: str, delay: float) -> None:
        time.sleep(delay)
        started = time.monotonic()
        try:
            status = requests.post(
                url, json={"done": True}, headers={"Authorization": f"Bearer {token}"}, timeout=30
            ).status_code
        except requests.RequestException:
            status = 0
        with self.lock:
            self.callback_status[status] += 1
            self.callback_latency.append(time.monotonic() - started)

    def repeated_calls(self) -> int:
        return sum(1 for n in self.calls.values() if n > 1)


@dataclass
class Seed:
    type_id: int
    submitters: list[Any]
    workers: list[Any]
    company_id: int


def seed(action_url: str) -> Seed:
    call_command("migrate", verbosity=0)
    tag = secrets.token_hex(3)
    with scopes_disabled():
        company = make_company(f"Load bench {tag}")
        submitters = [
            make_user(company, SystemRole.USER, email=f"sub{i}-{tag}@load.example") for i in range(4)
        ]
        workers = [
            make_user(company, SystemRole.TASK_WORKER, email=f"work{i}-{tag}@load.example") for i in range(4)
        ]
        wf = make_workflow(
            company,
            [
                {"key": "triage"},
                {"key": "check", "task_type": TaskType.SYNC_ACTION, "action_url": f"{action_url}/sync"},
                {
                    "key": "provision",
                    "task_type": TaskType.ASYNC_ACTION,
                    "action_url": f"{action_url}/async",
                    "callback_timeout_seconds": 600,
                },
            ],
            [("triage", "check", "", 0), ("check", "provision", "", 0)],
            key=f"load-{tag}",
        )
        tt = make_ticket_type(company, wf)
    return Seed(type_id=tt.pk, submitters=submitters, workers=workers, company_id=company.pk)


def session_for(user: Any, base: str) -> requests.Session:
    """A logged-in session without the login form (no lockout noise): a server-side
    session row and a CSRF cookie the client echoes in X-CSRFToken."""
    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = next(b for b in settings.AUTHENTICATION_BACKENDS if "axes" not in b.lower())
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    assert store.session_key is not None
    csrf = secrets.token_hex(16)
    http = requests.Session()
    # The same two cookies on every request; cookies the server sets are ignored (its
    # CSRF cookie is Secure, which a plain-HTTP client would otherwise mishandle).
    http.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
    http.headers.update(
        {
            "X-CSRFToken": csrf,
            "Referer": base + "/",
            "Cookie": f"{settings.SESSION_COOKIE_NAME}={store.session_key}; {settings.CSRF_COOKIE_NAME}={csrf}",
        }
    )
    return http


@dataclass
class Results:
    latency: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    status: dict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    submitted: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    count: int = 0
    budget: int = 0  # stop after this many requests (0: only the clock stops)

    def record(self, kind: str, started: float, status: int) -> None:
        with self.lock:
            self.latency[kind].append(time.monotonic() - started)
            self.status[kind][status] += 1
            self.count += 1

    def done(self) -> bool:
        return bool(self.budget) and self.count >= self.budget


def client_loop(base: str, seed_: Seed, index: int, until: float, results: Results) -> None:
    rng = random.Random(index)
    submitter = session_for(seed_.submitters[index % len(seed_.submitters)], base)
    worker = session_for(seed_.workers[index % len(seed_.workers)], base)
    n = 0
    while time.monotonic() < until and not results.done():
        kind = rng.choices(["submit", "tickets", "tasks", "complete"], [35, 20, 15, 30])[0]
        started = time.monotonic()
        try:
            if kind == "submit":
                n += 1
                r = submitter.post(
                    f"{base}/tickets/new/{seed_.type_id}/",
                    data={"data__title": f"load {index}-{n}"},
                    allow_redirects=False,
                    timeout=60,
                )
                match = re.search(r"/tickets/(\d+)/", r.headers.get("Location", ""))
                if r.status_code == 302 and match:
                    with results.lock:
                        results.submitted.append(int(match.group(1)))
            elif kind == "tickets":
                r = submitter.get(f"{base}/tickets/", timeout=60)
            elif kind == "tasks":
                r = worker.get(f"{base}/tasks/", timeout=60)
            else:
                listing = worker.get(f"{base}/tasks/", timeout=60)
                ids = re.findall(r'href="/tasks/(\d+)/"', listing.text)
                if not ids:
                    results.record("tasks", started, listing.status_code)
                    continue
                started = time.monotonic()
                r = worker.post(
                    f"{base}/tasks/{rng.choice(ids)}/", data={}, allow_redirects=False, timeout=60
                )
            results.record(kind, started, r.status_code)
        except requests.RequestException:
            results.record(kind, started, 0)


class Cluster:
    """gunicorn + workers + sweeper, each with its own log file."""

    def __init__(
        self, *, port: int, workers: int, sweep_every: float, logs: Path, env: dict[str, str]
    ) -> None:
        self.logs = logs
        self.env = env
        self.port = port
        logs.mkdir(parents=True, exist_ok=True)
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        gunicorn = str(ROOT / ".venv" / "bin" / "gunicorn")
        self.commands: dict[str, list[str]] = {
            "web": [
                gunicorn,
                "project.wsgi",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
                "--threads",
                "8",
            ],
            "sweeper": [PYTHON, "manage.py", "sweep_workflows", "--loop", str(sweep_every)],
        }
        # As `make run`: the actions' workers, and one for the emails' own queue.
        for i in range(workers):
            self.commands[f"worker{i}"] = [
                PYTHON,
                "manage.py",
                "run_worker",
                "--queue-name",
                "default",
                "--interval",
                "0.2",
            ]
        self.commands["mailer"] = [
            PYTHON,
            "manage.py",
            "run_worker",
            "--queue-name",
            "mail",
            "--interval",
            "0.2",
        ]

    def start(self, name: str) -> None:
        out = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115  (kept open for the child)
        self.procs[name] = subprocess.Popen(
            self.commands[name], cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT
        )

    def start_all(self) -> None:
        subprocess.run(  # DEBUG off serves static files from the manifest
            [PYTHON, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=self.env, check=True
        )
        for name in self.commands:
            self.start(name)
        for _ in range(100):
            try:
                requests.get(f"http://127.0.0.1:{self.port}/accounts/login/", timeout=2)
                return
            except requests.RequestException:
                time.sleep(0.2)
        raise SystemExit("the server did not start; see " + str(self.logs))

    def alive(self) -> dict[str, bool]:
        return {name: proc.poll() is None for name, proc in self.procs.items()}

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()

    def grep(self, pattern: str) -> int:
        return sum(p.read_text(errors="replace").count(pattern) for p in self.logs.glob("*.log"))


_smtp: SmtpServer | None = None


def smtp_port() -> int:
    """A real SMTP server on loopback that accepts every notice email (the app sends
    them through the queue; without a server each one fails and is retried)."""
    global _smtp
    if _smtp is None:
        _smtp = SmtpServer().start()
    return _smtp.port


def server_env(port: int) -> dict[str, str]:
    return {
        **os.environ,
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp_port()),
        "EMAIL_USE_TLS": "false",
        "DEBUG": "false",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "ACTIONS_ALLOW_PRIVATE_NETWORKS": "true",
        "ACTIONS_REQUEUE_AFTER_SECONDS": os.environ.get("ACTIONS_REQUEUE_AFTER_SECONDS", "20"),
        "ACTIONS_RETRY_BASE_SECONDS": "0.5",
        "TASKS_LOG_LEVEL": "ERROR",
    }


def db_deadlocks() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
        return int(cursor.fetchone()[0])


def settle(ids: list[int], *, seconds: float) -> dict[str, int]:
    """Waits until no action of these tickets is still moving (or time runs out); then
    counts where each ticket's workflow stands."""
    deadline = time.monotonic() + seconds
    while True:
        with scopes_disabled():
            moving = TaskInstance.objects.filter(
                workflow_instance__ticket__in=ids,
                task_definition__task_type__in=[TaskType.SYNC_ACTION, TaskType.ASYNC_ACTION],
                status__in=["OPEN", "IN_PROGRESS", "PENDING"],
            ).count()
        if not moving or time.monotonic() > deadline:
            break
        time.sleep(1)
    with scopes_disabled():
        found = set(Ticket.objects.filter(pk__in=ids).values_list("pk", flat=True))
        states = Counter(
            Ticket.objects.filter(pk__in=ids).values_list("workflow_instance__status", flat=True)
        )
        no_task = Ticket.objects.filter(pk__in=ids, workflow_instance__tasks__isnull=True).count()
        errors = Ticket.objects.filter(pk__in=ids, errors__isnull=False).values("pk").distinct().count()
    return {
        "accepted": len(ids),
        "missing": len(set(ids) - found),
        "without a task": no_task,
        "with a ticket error": errors,
        "actions still moving": moving,
        **{f"workflow {k}": v for k, v in sorted(states.items())},
    }


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def report(results: Results, seconds: float) -> dict[str, Any]:
    everything = [x for v in results.latency.values() for x in v]
    statuses: Counter[int] = Counter()
    for c in results.status.values():
        statuses.update(c)
    rows = {
        kind: {
            "n": len(v),
            "p50_ms": round(statistics.median(v) * 1000),
            "p95_ms": round(percentile(v, 95) * 1000),
            "status": dict(results.status[kind]),
        }
        for kind, v in sorted(results.latency.items())
    }
    return {
        "requests": len(everything),
        "req_per_s": round(len(everything) / seconds, 1),
        "p50_ms": round(statistics.median(everything) * 1000) if everything else 0,
        "p95_ms": round(percentile(everything, 95) * 1000),
        "status": dict(sorted(statuses.items())),
        "by_kind": rows,
    }


def run_load(
    base: str,
    seed_: Seed,
    clients: int,
    seconds: float,
    side: Callable[[Callable[[], bool]], None] | None = None,
    requests_budget: int = 0,
) -> Results:
    """Runs the clients for `seconds`, or until `requests_budget` requests are done;
    `side` runs meanwhile and gets a function telling whether the load is over."""
    results = Results(budget=requests_budget)
    until = time.monotonic() + seconds
    threads = [
        threading.Thread(target=client_loop, args=(base, seed_, i, until, results)) for i in range(clients)
    ]
    for t in threads:
        t.start()
    if side is not None:
        side(lambda: results.done() or time.monotonic() >= until)
    for t in threads:
        t.join()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--workers", type=int, default=2, help="run_worker processes")
    parser.add_argument(
        "--settle", type=float, default=60, help="seconds to let actions finish after the load"
    )
    args = parser.parse_args()

    actions = ActionServer()
    port = free_port()
    seed_ = seed(actions.url)
    cluster = Cluster(
        port=port,
        workers=args.workers,
        sweep_every=5,
        logs=ROOT / "bench" / "logs" / "load",
        env=server_env(port),
    )
    for log in cluster.logs.glob("*.log"):
        log.unlink()
    deadlocks_before = db_deadlocks()
    cluster.start_all()
    try:
        results = run_load(f"http://127.0.0.1:{port}", seed_, args.clients, args.seconds)
        outcome = settle(results.submitted, seconds=args.settle)
        alive = cluster.alive()
    finally:
        cluster.stop()
    summary = {
        "conditions": {
            "clients": args.clients,
            "seconds": args.seconds,
            "cpus": os.cpu_count(),
            "load_average_at_end": os.getloadavg(),
            "server": "gunicorn 2x8 threads, DEBUG off",
            "workers": args.workers,
        },
        **report(results, args.seconds),
        "callbacks": dict(actions.callback_status),
        "actions_called_twice": actions.repeated_calls(),
        "deadlocks_in_logs": cluster.grep("deadlock detected"),
        "deadlocks_in_postgres": db_deadlocks() - deadlocks_before,
        "server_errors_in_logs": cluster.grep("Internal Server Error") + cluster.grep("Traceback"),
        "submissions": outcome,
        "processes_alive_at_end": alive,
    }
    summary["checks"] = {
        "0 responses 5xx": not any(status >= 500 for status in summary["status"]),
        "0 deadlocks": summary["deadlocks_in_logs"] == 0 and summary["deadlocks_in_postgres"] == 0,
        "no action called twice": summary["actions_called_twice"] == 0,
        "every submission progressed": outcome["missing"] == 0 and outcome["without a task"] == 0,
        "processes running": all(alive.values()),
    }
    print(json.dumps(summary, indent=2))
    sys.exit(0 if all(summary["checks"].values()) else 1)


if __name__ == "__main__":
    main()
