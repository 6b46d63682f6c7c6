"""HTTP benchmark: TicketFlower's pages and submit against the bare reference app
(bench/bare), on the database bench/seed.py loaded, interleaved, with wrk.

    make bench-deps                                   # installs wrk (Debian package)
    .venv/bin/python -m bench.seed --db tf_bench      # once: 1M tickets
    .venv/bin/python -m bench.pages --db tf_bench      # prints the table

Both apps run under gunicorn (2 sync workers, DEBUG=false, DB_CONN_MAX_AGE=600) on loopback
ports. For every scenario and round it runs wrk against the bare app, then against
TicketFlower, for --duration seconds each (8 connections), and reports TicketFlower's
requests/s as a ratio of the bare app's measured right before it: reads against the bare
read (newest 25 rows through a template), submit against the bare insert (one row).

Before measuring, each scenario is requested once and must answer as expected (200, or
the submit's redirect to the new ticket), so a login redirect cannot pass as speed."""

import argparse
import http.client
import json
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SECRET_KEY = "bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"
LUA_DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\\n@@{"requests": %d, "duration_us": %d, "errors": %d, "status_errors": %d, ' ..
    '"p50_us": %d, "p95_us": %d, "p99_us": %d}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
"""


@dataclass
class Scenario:
    name: str
    path: str
    user: str | None  # email of the seeded user, or None for the bare app
    reference: str  # "read" or "insert"
    method: str = "GET"
    body: str = ""
    expect: int = 200
    p95_target_ms: float = 50.0
    ratio_target: float | None = 0.25
    results: list[dict[str, float]] = field(default_factory=list)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_env(db: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("TESTING", "DEBUG")}
    env.update(
        DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{db}",
        DEBUG="false",
        SECRET_KEY=SECRET_KEY,
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="false",
        DB_CONN_MAX_AGE="600",
        LOG_LEVEL="ERROR",
    )
    return env


def start_server(app: str, port: int, env: dict[str, str], workers: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/gunicorn"),
            app,
            "--workers",
            str(workers),
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"{app} did not start on port {port}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def prepare(db: str) -> tuple[dict[str, str], dict[str, int]]:
    """Sessions for the seeded users (in the bench database) and the ids the scenarios
    need. Runs Django in this process with the server's settings."""
    os.environ.update(server_env(db))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    import django

    django.setup()
    from django.test import Client
    from django_scopes import scopes_disabled

    from accounts.models import User
    from tickets.models import Ticket, TicketType

    cookies: dict[str, str] = {}
    with scopes_disabled():
        for name in ("light", "heavy", "busy", "poster", "admin"):
            user = User.objects.get(email=f"{name}@bench.example")
            client = Client()
            client.force_login(user)
            cookies[name] = client.cookies["sessionid"].value
        light = User.objects.get(email="light@bench.example")
        ticket = Ticket.objects.filter(created_by=light).order_by("-id").first()
        measured = light.company_id
        assert ticket is not None
        ids = {
            "ticket": ticket.pk,
            "type": TicketType.objects.get(company_id=measured).pk,
            "admin_ticket": Ticket.objects.filter(company_id=measured)
            .order_by("-id")
            .values_list("pk", flat=True)[500],
        }
    from django.db import connection

    connection.close()
    return cookies, ids


def scenarios(ids: dict[str, int], csrf: str) -> list[Scenario]:
    body = urlencode({"csrfmiddlewaretoken": csrf, "data": json.dumps({"title": "Bench ticket"})})
    admin = {"p95_target_ms": 150.0, "ratio_target": None}
    return [
        Scenario("/tickets/ (submitter, ~30 active)", "/tickets/", "light", "read"),
        Scenario("/tickets/ (submitter, 10k tickets)", "/tickets/", "heavy", "read"),
        Scenario("/tasks/ (worker, ~3k open tasks)", "/tasks/", "busy", "read"),
        Scenario("/tickets/<id>/", f"/tickets/{ids['ticket']}/", "light", "read"),
        Scenario("admin tickets list", "/admin/tickets/ticket/", "admin", "read", **admin),  # type: ignore[arg-type]
        Scenario("admin tasks list", "/admin/workflows/taskinstance/", "admin", "read", **admin),  # type: ignore[arg-type]
        Scenario("admin errors list", "/admin/tickets/ticketerror/", "admin", "read", **admin),  # type: ignore[arg-type]
        Scenario(
            "admin ticket page",
            f"/admin/tickets/ticket/{ids['admin_ticket']}/change/",
            "admin",
            "read",
            **admin,  # type: ignore[arg-type]
        ),
        Scenario("dashboard (admin index)", "/admin/", "admin", "read", **admin),  # type: ignore[arg-type]
        Scenario(
            "submit a ticket",
            f"/tickets/new/{ids['type']}/",
            "poster",
            "insert",
            method="POST",
            body=body,
            expect=302,
            p95_target_ms=float("inf"),
            ratio_target=0.1,
        ),
    ]


def headers_for(cookie: str | None, csrf: str, method: str) -> dict[str, str]:
    headers = {}
    if cookie:
        headers["Cookie"] = f"sessionid={cookie}; csrftoken={csrf}"
    if method == "POST":
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    return headers


def check(port: int, path: str, method: str, body: str, headers: dict[str, str], expect: int) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request(method, path, body=body or None, headers=headers)
    response = conn.getresponse()
    content = response.read()
    conn.close()
    if response.status != expect:
        raise RuntimeError(f"{method} {path} answered {response.status}, expected {expect}")
    if expect == 302 and not (response.getheader("Location") or "").startswith(("/tickets/", "/read/")):
        raise RuntimeError(f"{method} {path} redirected to {response.getheader('Location')}")
    return len(content)


def wrk(
    port: int, path: str, method: str, body: str, headers: dict[str, str], args: argparse.Namespace
) -> dict[str, float]:
    lua = f"wrk.method = {json.dumps(method)}\n"
    if body:
        lua += f"wrk.body = {json.dumps(body)}\n"
    for key, value in headers.items():
        lua += f"wrk.headers[{json.dumps(key)}] = {json.dumps(value)}\n"
    lua += LUA_DONE
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(lua)
        script = f.name
    try:
        out = subprocess.run(
            [
                "wrk",
                "-t",
                str(args.threads),
                "-c",
                str(args.connections),
                "-d",
                f"{args.duration}s",
                "--timeout",
                "10s",
                "-s",
                script,
                f"http://127.0.0.1:{port}{path}",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        os.unlink(script)
    data = json.loads(out.split("@@", 1)[1])
    seconds = data["duration_us"] / 1e6
    return {
        "rps": data["requests"] / seconds,
        "p50": data["p50_us"] / 1000,
        "p95": data["p95_us"] / 1000,
        "errors": data["errors"] + data["status_errors"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", default="tf_bench")
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per app")
    parser.add_argument("--only", default="", help="run scenarios whose name contains this")
    args = parser.parse_args()

    env = server_env(args.db)
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=env, check=True
    )
    cookies, ids = prepare(args.db)
    csrf = secrets.token_hex(16)  # 32 characters: a valid unmasked CSRF secret
    chosen = [s for s in scenarios(ids, csrf) if args.only in s.name]
    tf_port, bare_port = free_port(), free_port()
    tf = start_server("project.wsgi:application", tf_port, env, args.workers)
    bare = start_server(
        "bench.bare.wsgi:application",
        bare_port,
        {**env, "DJANGO_SETTINGS_MODULE": "bench.bare.settings"},
        args.workers,
    )
    sizes: dict[str, int] = {}
    try:
        check(bare_port, "/insert/", "POST", "title=warm", headers_for(None, csrf, "POST"), 302)
        for _ in range(30):  # the bare read has rows to show
            check(bare_port, "/insert/", "POST", "title=row", headers_for(None, csrf, "POST"), 302)
        for s in chosen:
            hdrs = headers_for(cookies[s.user or ""], csrf, s.method)
            sizes[s.name] = check(tf_port, s.path, s.method, s.body, hdrs, s.expect)
        print(
            f"wrk: {args.connections} connections, {args.threads} threads, {args.duration}s per run, "
            f"{args.rounds} round(s); gunicorn {args.workers} sync workers per app",
            flush=True,
        )
        for r in range(args.rounds):
            for s in chosen:
                ref_path, ref_method = ("/read/", "GET") if s.reference == "read" else ("/insert/", "POST")
                ref_body = "title=bench" if ref_method == "POST" else ""
                ref = wrk(
                    bare_port, ref_path, ref_method, ref_body, headers_for(None, csrf, ref_method), args
                )
                hdrs = headers_for(cookies[s.user or ""], csrf, s.method)
                got = wrk(tf_port, s.path, s.method, s.body, hdrs, args)
                got["ratio"] = got["rps"] / ref["rps"]
                got["ref_rps"] = ref["rps"]
                s.results.append(got)
                print(
                    f"round {r + 1} {s.name:38} {got['rps']:8.1f}/s  bare {ref['rps']:8.1f}/s  "
                    f"ratio {got['ratio']:.3f}  p50 {got['p50']:6.1f} ms  p95 {got['p95']:6.1f} ms"
                    + (f"  ERRORS {got['errors']:.0f}" if got["errors"] or ref["errors"] else ""),
                    flush=True,
                )
    finally:
        stop(tf)
        stop(bare)

    print()
    print("| request | TF req/s | bare req/s | ratio | p50 ms | p95 ms | HTML KB | target | met |")
    print("|---|---|---|---|---|---|---|---|---|")
    for s in chosen:
        med = {k: statistics.median(r[k] for r in s.results) for k in s.results[0]}
        target = []
        met = med["p95"] < s.p95_target_ms
        if s.ratio_target is not None:
            target.append(f">= {s.ratio_target}x")
            met = met and med["ratio"] >= s.ratio_target
        if s.p95_target_ms != float("inf"):
            target.append(f"p95 < {s.p95_target_ms:.0f} ms")
        print(
            f"| {s.name} | {med['rps']:.1f} | {med['ref_rps']:.1f} | {med['ratio']:.3f}x | {med['p50']:.1f} | "
            f"{med['p95']:.1f} | {sizes[s.name] / 1024:.0f} | {', '.join(target)} | {'yes' if met else 'NO'} |"
        )


if __name__ == "__main__":
    main()
