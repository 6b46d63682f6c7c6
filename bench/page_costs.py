"""Where a page's time goes, in-process: for each benchmark scenario, the median wall
time, CPU time of this process (Python: steadier than wall time on a shared machine),
SQL time, query count and HTML size over N requests, and with --cprofile the
functions that take the most cumulative time, with --templates the CPU time of each
template (its own, and with what it includes).

    .venv/bin/python -m bench.page_costs --db tf_bench [--only admin] [--cprofile] [--templates] [-n 20]

Uses the same seeded database and users as bench/pages.py, through Django's test client
(full middleware, DEBUG=false), so no server or network is involved."""

import argparse
import cProfile
import io
import pstats
import secrets
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.pages import prepare, scenarios, server_env  # noqa: E402


class TemplateTimer:
    """Time spent in each template's render, per request: its own (without the templates
    it includes or extends into) and inclusive, with how often it was rendered."""

    def __init__(self) -> None:
        self.own: dict[str, float] = {}
        self.total: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self.stack: list[list[float]] = []
        self.original: Any = None

    def install(self) -> None:
        from django.template.base import Template

        # _render is the private method every render and include goes through.
        original = getattr(Template, "_render")  # noqa: B009
        timer = self

        def timed(template: Any, context: Any) -> Any:
            name = template.origin.template_name or template.name or "<string>"
            timer.stack.append([0.0])
            started = time.process_time()
            try:
                return original(template, context)
            finally:
                spent = time.process_time() - started
                children = timer.stack.pop()[0]
                if timer.stack:
                    timer.stack[-1][0] += spent
                timer.own[name] = timer.own.get(name, 0.0) + spent - children
                # A template nested in itself counts twice inclusive; none of ours does.
                timer.total[name] = timer.total.get(name, 0.0) + spent
                timer.calls[name] = timer.calls.get(name, 0) + 1

        self.original = original
        setattr(Template, "_render", timed)  # noqa: B010

    def uninstall(self) -> None:
        from django.template.base import Template

        setattr(Template, "_render", self.original)  # noqa: B010

    def report(self, requests: int, top: int) -> str:
        rows = sorted(self.own.items(), key=lambda kv: -kv[1])[:top]
        lines = [f"  {'template':60} {'own ms':>7} {'incl ms':>8} {'renders':>8}"]
        for name, own in rows:
            lines.append(
                f"  {name[:60]:60} {own * 1000 / requests:7.2f} "
                f"{self.total[name] * 1000 / requests:8.2f} {self.calls[name] / requests:8.1f}"
            )
        return "\n".join(lines)


class SqlTimer:
    def __init__(self) -> None:
        self.seconds = 0.0
        self.count = 0
        self.each: list[tuple[float, str]] = []

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            spent = time.perf_counter() - started
            self.seconds += spent
            self.count += 1
            self.each.append((spent, sql))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", default="tf_bench")
    parser.add_argument("-n", type=int, default=20, help="requests per scenario")
    parser.add_argument("--only", default="")
    parser.add_argument("--cprofile", action="store_true")
    parser.add_argument("--sort", default="cumulative", help="cProfile order: cumulative or tottime")
    parser.add_argument("--top", type=int, default=35, help="functions to print")
    parser.add_argument("--dump", default="", help="with --cprofile: also write the stats to this file")
    parser.add_argument("--queries", action="store_true", help="each query's median ms and its SQL")
    parser.add_argument(
        "--templates", action="store_true", help="CPU ms per template, own and with its includes"
    )
    args = parser.parse_args()
    # DEBUG is off, so templates need the hashed static files' manifest, as the server does.
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=ROOT,
        env=server_env(args.db),
        check=True,
    )
    cookies, ids = prepare(args.db)
    from django.db import connection
    from django.test import Client

    csrf = secrets.token_hex(16)
    print(f"{'scenario':40} {'wall ms':>8} {'cpu ms':>7} {'sql ms':>7} {'queries':>7} {'KB':>5}")
    for s in scenarios(ids, csrf):
        if args.only not in s.name:
            continue
        client = Client(HTTP_HOST="127.0.0.1")
        client.cookies["sessionid"] = cookies[s.user or ""]
        client.cookies["csrftoken"] = csrf

        def call(s: Any = s, client: Client = client) -> Any:
            if s.method == "POST":
                return client.post(s.path, s.body, content_type="application/x-www-form-urlencoded")
            return client.get(s.path)

        call()  # warm caches (templates, content types)
        walls, cpus, sqls, counts = [], [], [], []
        each: list[list[tuple[float, str]]] = []
        profiler = cProfile.Profile() if args.cprofile else None
        templates = TemplateTimer() if args.templates else None
        if templates:
            templates.install()
        for _ in range(args.n):
            timer = SqlTimer()
            with connection.execute_wrapper(timer):
                started, cpu = time.perf_counter(), time.process_time()
                if profiler:
                    profiler.enable()
                response = call()
                if profiler:
                    profiler.disable()
                walls.append(time.perf_counter() - started)
                cpus.append(time.process_time() - cpu)
            assert response.status_code == s.expect, (s.path, response.status_code)
            sqls.append(timer.seconds)
            counts.append(timer.count)
            each.append(timer.each)
        print(
            f"{s.name:40} {statistics.median(walls) * 1000:8.1f} {statistics.median(cpus) * 1000:7.1f} "
            f"{statistics.median(sqls) * 1000:7.1f} "
            f"{statistics.median(counts):7.0f} {len(response.content) / 1024:5.0f}",
            flush=True,
        )
        if args.queries and each:
            # The queries of the last request, each with its median over the requests
            # that ran the same number of queries.
            alike = [e for e in each if len(e) == len(each[-1])]
            for i, (_, sql) in enumerate(each[-1]):
                spent = statistics.median(e[i][0] for e in alike)
                print(f"  {spent * 1000:6.2f} ms  {sql[:160]}")
        if templates:
            templates.uninstall()
            print(templates.report(args.n, args.top))
        if profiler:
            if args.dump:
                profiler.dump_stats(args.dump)
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats(args.sort).print_stats(args.top)
            print(out.getvalue())


if __name__ == "__main__":
    main()
