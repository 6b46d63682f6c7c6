"""Engine benchmark (not a test): ticket starts/s and FORM completions/s with advance, at
10k and 100k open tasks, each without and with 1M completed tasks of history, plus a bare
Django baseline (one-row insert transactions) measured in the same run. PostgreSQL only:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ticketflower_bench \\
        .venv/bin/python bench/engine.py --ops 300

`--clients N` runs N processes at once instead (each starts, then completes, tickets of
its own; `--companies M` spreads them over M companies, so over M least-loaded pools), with
the bare baseline run the same way. `--profile TOP` profiles completions.

It creates (and then drops) the test database of DATABASE_URL. Seeding is set-based SQL
(generate_series), so 1M history rows take seconds, not minutes. Per figure it also
reports SQL queries, SQL milliseconds and this process's CPU milliseconds per operation, to
show where the time goes (CPU time hardly moves with the machine's load; wall time does)."""

import argparse
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
# Production settings (no TESTING: under it, prepared queries compile twice to check
# themselves), with a throwaway key since the bench signs nothing that outlives it.
os.environ.setdefault("SECRET_KEY", "bench-engine-throwaway-key-not-for-any-deployment")

import django

django.setup()

from django.db import connection, transaction  # noqa: E402
from django.test.utils import setup_databases, teardown_databases  # noqa: E402
from django_scopes import scopes_disabled  # noqa: E402

from accounts.backends import UserBackend  # noqa: E402
from accounts.models import Company  # noqa: E402
from accounts.roles import SystemRole  # noqa: E402
from accounts.tenancy import company_scope  # noqa: E402
from project.testing import make_company, make_ticket_type, make_user, make_workflow  # noqa: E402
from tickets.access import may_complete_task, submittable_type  # noqa: E402
from tickets.services import submit_ticket  # noqa: E402
from workflows import services  # noqa: E402
from workflows.models import TaskInstance  # noqa: E402

WORKERS = 10
HISTORY_PER_INSTANCE = 10


class SqlMeter:
    """Counts queries and the time spent inside the database driver."""

    def __init__(self) -> None:
        self.queries = 0
        self.seconds = 0.0

    def __call__(self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - started
            self.queries += 1


@contextmanager
def metered() -> Iterator[SqlMeter]:
    meter = SqlMeter()
    with connection.execute_wrapper(meter):
        yield meter


def sql(statement: str, params: list[Any] | None = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params or [])


def seed_open(company: Company, wf_id: int, task_def_id: int, worker_ids: list[int], n: int) -> None:
    """n more open FORM tasks, each on its own in-progress instance, spread over the workers."""
    if n <= 0:
        return
    sql(
        """
        WITH inst AS (
            INSERT INTO workflows_workflowinstance
                (company_id, workflow_id, current_task_id, workflow_data, status, hold_reason,
                 automated_steps, created_at, updated_at)
            SELECT %s, %s, %s, '{}'::jsonb, 'IN_PROGRESS', '', 0, now(), now()
            FROM generate_series(1, %s)
            RETURNING id
        )
        INSERT INTO workflows_taskinstance
            (company_id, uuid, workflow_instance_id, task_definition_id, status, input_data,
             assigned_to_id, assigned_at, created_at, updated_at, attempts, callback_token_hash,
             completed_by_callback)
        SELECT %s, gen_random_uuid(), inst.id, %s, 'OPEN', '{}'::jsonb,
               (%s::bigint[])[1 + (inst.id %% %s)], now(), now(), now(), 0, '', false
        FROM inst
        """,
        [company.pk, wf_id, task_def_id, n, company.pk, task_def_id, worker_ids, len(worker_ids)],
    )


def seed_history(company: Company, wf_id: int, task_def_id: int, worker_ids: list[int], n: int) -> None:
    """n completed tasks on finished instances, assigned to and completed by the workers."""
    sql(
        """
        WITH inst AS (
            INSERT INTO workflows_workflowinstance
                (company_id, workflow_id, workflow_data, status, hold_reason, automated_steps,
                 created_at, updated_at)
            SELECT %s, %s, '{}'::jsonb, 'COMPLETED', '', 0, now(), now()
            FROM generate_series(1, %s)
            RETURNING id
        )
        INSERT INTO workflows_taskinstance
            (company_id, uuid, workflow_instance_id, task_definition_id, status, input_data,
             output_data, assigned_to_id, completed_by_id, assigned_at, created_at, completed_at,
             updated_at, attempts, callback_token_hash, completed_by_callback)
        SELECT %s, gen_random_uuid(), inst.id, %s, 'COMPLETED', '{}'::jsonb, '{"ok": true}'::jsonb,
               w, w, now(), now(), now(), now(), 0, '', false
        FROM inst, generate_series(1, %s) AS k,
             LATERAL (SELECT (%s::bigint[])[1 + ((inst.id + k) %% %s)] AS w) AS pick
        """,
        [
            company.pk,
            wf_id,
            n // HISTORY_PER_INSTANCE,
            company.pk,
            task_def_id,
            HISTORY_PER_INSTANCE,
            worker_ids,
            len(worker_ids),
        ],
    )


def trim_open(company: Company, keep: int) -> None:
    """Cancels all but `keep` open tasks (set-based), as if a backlog had been worked off."""
    sql(
        """
        UPDATE workflows_taskinstance SET status = 'CANCELLED', completed_at = now()
        WHERE id IN (
            SELECT id FROM workflows_taskinstance
            WHERE company_id = %s AND status = 'OPEN'
            ORDER BY id OFFSET %s
        )
        """,
        [company.pk, keep],
    )


def reconcile_counters() -> None:
    """The counters after set-based seeding (what reconcile_task_counts does, in one statement)."""
    sql(
        """
        UPDATE accounts_user u SET open_tasks = COALESCE(c.n, 0)
        FROM accounts_user u2 LEFT JOIN (
            SELECT assigned_to_id, count(*) AS n FROM workflows_taskinstance
            WHERE status IN ('OPEN', 'IN_PROGRESS', 'PENDING') AND assigned_to_id IS NOT NULL
            GROUP BY assigned_to_id
        ) c ON c.assigned_to_id = u2.id
        WHERE u.id = u2.id
        """
    )


def settle() -> None:
    reconcile_counters()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")  # steady state: autovacuum keeps stats and visibility map fresh


def bare_baseline(company: Company, ops: int) -> float:
    """A bare Django app's unit of work: one transaction inserting one row."""
    from accounts.models import CompanyRole

    started = time.perf_counter()
    for i in range(ops):
        with transaction.atomic():
            CompanyRole._base_manager.create(company=company, name=f"bench-{time.time_ns()}-{i}")
    return ops / (time.perf_counter() - started)


def request_users(ids: set[int | None]) -> dict[int, Any]:
    """The users as a request has them (the auth backend loads the role names with the
    user), so the access checks cost what they cost in a request."""
    backend = UserBackend()
    return {pk: backend.get_user(pk) for pk in ids if pk is not None}


def start(submitter: Any, tt: Any, n: int) -> Any:
    """One start as the submit view runs it: the type with its live version (the
    access check the service then trusts), then the service."""
    allowed = submittable_type(submitter, tt.pk)
    assert allowed is not None
    return submit_ticket(user=submitter, ticket_type=allowed, data={"n": n})


def measure(company: Company, submitter: Any, tt: Any, ops: int) -> dict[str, float]:
    submitter = request_users({submitter.pk})[submitter.pk]
    with company_scope(company):
        with metered() as start_sql:
            started, cpu = time.perf_counter(), time.process_time()
            tickets = [start(submitter, tt, i) for i in range(ops)]
            start_s, start_cpu = time.perf_counter() - started, time.process_time() - cpu
        tasks = [
            t.workflow_instance.tasks.select_related("task_definition", "assigned_to").get() for t in tickets
        ]
        actors = request_users({t.assigned_to_id for t in tasks})
        with metered() as done_sql:
            started, cpu = time.perf_counter(), time.process_time()
            for task in tasks:
                assert task.assigned_to_id is not None
                services.complete_form_task(
                    task=task,
                    output={"ok": True},
                    actor=actors[task.assigned_to_id],
                    permitted=may_complete_task,
                )
            done_s, done_cpu = time.perf_counter() - started, time.process_time() - cpu
    return {
        "starts": ops / start_s,
        "completions": ops / done_s,
        "start_q": start_sql.queries / ops,
        "start_sql_ms": 1000 * start_sql.seconds / ops,
        "start_ms": 1000 * start_s / ops,
        "start_cpu_ms": 1000 * start_cpu / ops,
        "done_cpu_ms": 1000 * done_cpu / ops,
        "done_q": done_sql.queries / ops,
        "done_sql_ms": 1000 * done_sql.seconds / ops,
        "done_ms": 1000 * done_s / ops,
    }


def profile(company: Company, submitter: Any, tt: Any, ops: int, top: int) -> None:
    """`--profile`: where one FORM completion's time goes (cProfile over `ops` of them,
    after as many warm-up completions), with the SQL share and the queries per completion."""
    import cProfile
    import pstats

    submitter = request_users({submitter.pk})[submitter.pk]

    def tasks(n: int) -> list[TaskInstance]:
        tickets = [start(submitter, tt, i) for i in range(n)]
        return [
            t.workflow_instance.tasks.select_related("task_definition", "assigned_to").get() for t in tickets
        ]

    actors: dict[int, Any] = {}

    def complete(task: TaskInstance) -> None:
        assert task.assigned_to_id is not None
        if task.assigned_to_id not in actors:
            actors.update(request_users({task.assigned_to_id}))
        services.complete_form_task(
            task=task, output={"ok": True}, actor=actors[task.assigned_to_id], permitted=may_complete_task
        )

    with company_scope(company):
        for task in tasks(ops):  # warm: caches, compiled schemas, connection
            complete(task)
        todo = tasks(ops)
        profiler = cProfile.Profile()
        with metered() as meter:
            started = time.perf_counter()
            profiler.enable()
            for task in todo:
                complete(task)
            profiler.disable()
            seconds = time.perf_counter() - started
    print(
        f"{ops} completions: {ops / seconds:.1f}/s, {1000 * seconds / ops:.2f} ms each "
        f"(profiler on), {meter.queries / ops:.1f} queries and {1000 * meter.seconds / ops:.2f} ms SQL each"
    )
    stats = pstats.Stats(profiler)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)


def _client(
    index: int, company_id: int, submitter_id: int, tt_id: int, ops: int, barrier: Any, out: Any
) -> None:
    """One `--clients` process: its own connection, starts then completes its own tickets,
    each phase starting together with the other clients."""
    from tickets.models import TicketType

    with scopes_disabled():
        tt = TicketType.objects.get(pk=tt_id)
        company = Company.objects.get(pk=company_id)
    submitter = request_users({submitter_id})[submitter_id]
    barrier.wait()
    bare = time.monotonic()
    bare_baseline(company, ops)
    bare_done = time.monotonic()
    with company_scope(company_id):
        barrier.wait()
        started = time.monotonic()
        tickets = [start(submitter, tt, index * ops + i) for i in range(ops)]
        started_done = time.monotonic()
        tasks = [
            t.workflow_instance.tasks.select_related("task_definition", "assigned_to").get() for t in tickets
        ]
        actors = request_users({t.assigned_to_id for t in tasks})
        barrier.wait()
        completing = time.monotonic()
        for task in tasks:
            assert task.assigned_to_id is not None
            services.complete_form_task(
                task=task, output={"ok": True}, actor=actors[task.assigned_to_id], permitted=may_complete_task
            )
        out.put((started, started_done, completing, time.monotonic(), bare, bare_done))
    connection.close()


def _prepared() -> str:
    """Whether statements are prepared on the server (DB_PREPARED_STATEMENTS)."""
    options = connection.settings_dict.get("OPTIONS", {})
    on = options.get("server_side_binding") and options.get("prepare_threshold") is not None
    return "prepared statements on" if on else "prepared statements off (DB_PREPARED_STATEMENTS=false)"


def clients(n: int, companies: int, ops: int) -> None:
    """`--clients N`: N processes at once, each starting then completing `ops` tickets of
    its own, spread over `companies` companies (1: every client in one least-loaded pool,
    so the pool lock serializes their picks; N: independent pools)."""
    import multiprocessing

    setups = []
    with scopes_disabled():
        for c in range(companies):
            company = make_company(f"Bench {c}")
            submitter = make_user(company, SystemRole.USER)
            for _ in range(WORKERS):
                make_user(company, SystemRole.TASK_WORKER)
            wf = make_workflow(company, [{"key": "a"}, {"key": "b"}], [("a", "b", "", 0)])
            tt = make_ticket_type(company, wf, fields={"type": "object"})
            setups.append((company.pk, submitter.pk, tt.pk))
    connection.close()  # the children open their own
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(n)
    out = context.Queue()
    procs = [
        context.Process(target=_client, args=(i, *setups[i % companies], ops, barrier, out)) for i in range(n)
    ]
    for proc in procs:
        proc.start()
    times = [out.get() for _ in procs]
    for proc in procs:
        proc.join()
    total = n * ops
    starts = total / (max(t[1] for t in times) - min(t[0] for t in times))
    done = total / (max(t[3] for t in times) - min(t[2] for t in times))
    bare = total / (max(t[5] for t in times) - min(t[4] for t in times))
    print(
        f"{n} clients over {companies} compan{'y' if companies == 1 else 'ies'}, {ops} each, {_prepared()}: "
        f"bare Django {bare:6.1f} one-row transactions/s, starts {starts:6.1f}/s, "
        f"completions with advance {done:6.1f}/s (completions / bare {done / bare:.2f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ops", type=int, default=300)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--history", type=int, default=1_000_000)
    parser.add_argument(
        "--profile", type=int, default=0, metavar="TOP", help="profile completions only; print TOP functions"
    )
    parser.add_argument(
        "--clients", type=int, default=0, metavar="N", help="N processes at once (starts, then completions)"
    )
    parser.add_argument("--companies", type=int, default=1, help="with --clients: spread them over companies")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        raise SystemExit("bench/engine.py needs PostgreSQL (set DATABASE_URL).")
    old = setup_databases(verbosity=0, interactive=False)
    try:
        if args.clients:
            clients(args.clients, args.companies, args.ops)
            return
        with scopes_disabled():
            company = make_company("Bench")
            submitter = make_user(company, SystemRole.USER)
            workers = [make_user(company, SystemRole.TASK_WORKER) for _ in range(WORKERS)]
            wf = make_workflow(company, [{"key": "a"}, {"key": "b"}], [("a", "b", "", 0)])
            tt = make_ticket_type(company, wf, fields={"type": "object"})
            task_b = wf.tasks.get(key="b")
        if args.profile:
            profile(company, submitter, tt, args.ops, args.profile)
            return
        ids = [w.pk for w in workers]
        print(f"database: PostgreSQL; {WORKERS} workers; {args.ops} ops per figure; {_prepared()}")
        print("CPU is shared with other processes on this machine: compare ratios within one run.")
        bare = bare_baseline(company, args.ops)
        print(f"bare Django baseline: {bare:7.1f} one-row transactions/s")
        results: dict[tuple[int, int], dict[str, float]] = {}

        def run(open_n: int, history: int) -> None:
            with scopes_disabled():
                have = TaskInstance._base_manager.filter(company=company, status="OPEN").count()
            if have > open_n:
                trim_open(company, open_n)
            seed_open(company, wf.pk, task_b.pk, ids, open_n - have)
            settle()
            r = measure(company, submitter, tt, args.ops)
            results[(open_n, history)] = r
            print(
                f"open ~{open_n:>7,} history {history:>9,}: starts {r['starts']:6.1f}/s "
                f"({r['start_q']:.1f} queries, {r['start_sql_ms']:.2f} ms SQL of {r['start_ms']:.2f} ms, "
                f"{r['start_cpu_ms']:.2f} ms CPU), completions with advance {r['completions']:6.1f}/s "
                f"({r['done_q']:.1f} queries, {r['done_sql_ms']:.2f} ms SQL of {r['done_ms']:.2f} ms, "
                f"{r['done_cpu_ms']:.2f} ms CPU)"
            )

        run(args.small, 0)
        run(args.large, 0)
        started = time.perf_counter()
        seed_history(company, wf.pk, task_b.pk, ids, args.history)
        print(f"seeded {args.history:,} completed tasks in {time.perf_counter() - started:.1f}s")
        run(args.large, args.history)
        run(args.small, args.history)
        base = results[(args.small, 0)]
        worst = results[(args.large, args.history)]
        print(
            f"large+history / small+none: starts {worst['starts'] / base['starts']:.2f}, "
            f"completions {worst['completions'] / base['completions']:.2f} (goal >= 0.80); "
            f"completions / bare baseline {base['completions'] / bare:.2f}"
        )
    finally:
        teardown_databases(old, verbosity=0)


if __name__ == "__main__":
    main()
