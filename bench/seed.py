"""Loads a consistent TicketFlower data set of a million tickets into its own database,
set-based (one INSERT ... SELECT per table), so it takes minutes, not hours:

    .venv/bin/python -m bench.seed                       # 1M tickets into tf_bench
    .venv/bin/python -m bench.seed --db tf_t15_bench --tickets 100000

It DROPS and recreates the database named by --db, migrates it, creates the small
things (companies, workflows, ticket types) with the ORM and the big tables with SQL:

- 10 companies; company 1 ("Measured") holds a fifth of the tickets (200k of 1M);
- about 11k users: in the measured company 2,020 task workers and 3,000 submitters;
- per ticket a workflow instance (on the workflow's published version 1, as a submit
  would start it), one or two tasks and up to five timeline events;
  old tickets are mostly finished, recent ones often active; held tickets carry an
  open error, a few finished ones a resolved error.

Named users the HTTP benchmark logs in as (all with password BENCH_PASSWORD):
  light@bench.example   submitter with about 30 active tickets (100 in all)
  heavy@bench.example   submitter with 10,000 tickets (1M scale)
  busy@bench.example    task worker with about 3,000 open tasks (1M scale)
  poster@bench.example  submitter used by the submit benchmark
  admin@bench.example   ticket admin (every role) of the measured company

Foreign keys are consistent by construction; the load runs with
session_replication_role=replica so PostgreSQL skips their per-row trigger checks."""

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BENCH_PASSWORD = "bench-password-123"
COMPANIES = 10
MEASURED_WORKERS = 2020
MEASURED_SUBMITTERS = 3000
OTHER_WORKERS = 60
OTHER_SUBMITTERS = 600


def database_url(db: str) -> str:
    return f"postgres://postgres@127.0.0.1:5432/{db}"


def recreate_database(db: str) -> None:
    import psycopg

    with psycopg.connect(database_url("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{db}"')


def migrate(db: str) -> None:
    env = {**os.environ, "DATABASE_URL": database_url(db), "TESTING": "true"}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v0", "--settings", "bench.bare.settings"],
        cwd=ROOT,
        env=env,
        check=True,
    )


def setup_django(db: str) -> None:
    os.environ["DATABASE_URL"] = database_url(db)
    os.environ.setdefault("TESTING", "true")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    import django

    django.setup()


def small_objects() -> dict[str, int]:
    """Companies, workflows (two FORM steps) and one ticket type each, via the ORM."""
    from django_scopes import scopes_disabled

    from project.testing import make_company, make_ticket_type, make_workflow
    from tickets.versions import publish
    from workflows.models import TaskDefinition

    ids: dict[str, int] = {}
    with scopes_disabled():
        for c in range(1, COMPANIES + 1):
            company = make_company("Measured" if c == 1 else f"Company {c}")
            wf = make_workflow(
                company,
                [{"key": "triage", "title": "Triage"}, {"key": "resolve", "title": "Resolve"}],
                [("triage", "resolve", "", 0)],
                key="support",
            )
            tt = make_ticket_type(
                company,
                wf,
                fields={
                    "type": "object",
                    "properties": {
                        "title": {"type": "string", "title": "Summary"},
                        "description": {"type": "string", "title": "Description"},
                    },
                    "required": ["title"],
                },
            )
            # Tickets run on a published version, as in the product (a submit starts on
            # the live version's snapshot), so per-process snapshot caches apply.
            version = publish(workflow=wf, actor=None)
            assert version is not None
            snapshot = version.snapshot
            triage = TaskDefinition.all_objects.get(workflow=snapshot, key="triage")
            resolve = TaskDefinition.all_objects.get(workflow=snapshot, key="resolve")
            ids[f"company{c}"] = company.pk
            ids[f"wf{c}"] = snapshot.pk
            ids[f"tt{c}"] = tt.pk
            ids[f"triage{c}"] = triage.pk
            ids[f"resolve{c}"] = resolve.pk
    return ids


# The plan: one row per ticket with every attribute the other tables derive from.
# g is the ticket id (and the workflow instance id); tasks are 2g-1 and 2g; events 5g-4..5g.
PLAN_SQL = """
CREATE UNLOGGED TABLE bench_plan AS
WITH t AS (
  SELECT g,
         CASE WHEN g %% 5 = 0 THEN 1 ELSE 2 + (g %% 9) END AS ci,
         abs(hashint8(g) %% 1000) AS r,
         abs(hashint8(g + 7777777) %% 1000000) AS r2,
         now() - make_interval(secs => (%(n)s - g) * 31536000.0 / %(n)s + 60) AS created_at
  FROM generate_series(1, %(n)s) AS g
), who AS (
  SELECT t.*,
    CASE
      WHEN ci = 1 AND (g / 5) %% 2000 = 3 THEN 'light'
      WHEN ci = 1 AND (g / 5) %% 20 = 0 THEN 'heavy'
      ELSE 'any'
    END AS kind
  FROM t
), st AS (
  SELECT who.*,
    CASE
      WHEN r < (CASE WHEN kind = 'light' THEN 300
                     WHEN created_at > now() - interval '30 days' THEN 400 ELSE 20 END)
        THEN CASE WHEN r2 %% 10 = 0 THEN 'ON_HOLD' ELSE 'IN_PROGRESS' END
      ELSE CASE WHEN r2 %% 20 = 0 THEN 'CANCELLED' ELSE 'COMPLETED' END
    END AS status
  FROM who
)
SELECT st.g, c.company_id, st.created_at, st.status, st.r, st.r2,
       (st.status IN ('COMPLETED', 'CANCELLED') OR st.r2 %% 2 = 0) AS has_b,
       CASE st.kind
         WHEN 'light' THEN %(light)s
         WHEN 'heavy' THEN %(heavy)s
         ELSE c.first_submitter + (st.r2 / 7) %% c.submitters
       END AS created_by,
       c.first_worker + (st.r2 / 11) %% c.workers AS worker_a,
       c.first_worker + (st.r2 / 13) %% c.workers AS worker_b,
       c.tt, c.wf, c.triage, c.resolve
FROM st JOIN bench_companies c ON c.ci = st.ci;
"""


def create_users(cur, ids: dict[str, int], password_hash: str) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Users per company in blocks (workers, then submitters), and the named users."""
    cur.execute("SELECT name, id FROM auth_group")
    groups = dict(cur.fetchall())
    cur.execute(
        "CREATE UNLOGGED TABLE bench_companies (ci int, company_id bigint, tt bigint, wf bigint, "
        "triage bigint, resolve bigint, first_worker bigint, workers int, first_submitter bigint, "
        "submitters int)"
    )
    next_id = 1000
    for c in range(1, COMPANIES + 1):
        workers = MEASURED_WORKERS if c == 1 else OTHER_WORKERS
        submitters = MEASURED_SUBMITTERS if c == 1 else OTHER_SUBMITTERS
        cur.execute(
            "INSERT INTO bench_companies VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [
                c,
                ids[f"company{c}"],
                ids[f"tt{c}"],
                ids[f"wf{c}"],
                ids[f"triage{c}"],
                ids[f"resolve{c}"],
                next_id,
                workers,
                next_id + workers,
                submitters,
            ],
        )
        for first, count, prefix, group in (
            (next_id, workers, "w", "task_worker"),
            (next_id + workers, submitters, "s", "user"),
        ):
            cur.execute(
                """INSERT INTO accounts_user (id, password, is_superuser, email, first_name, last_name,
                       is_active, is_available, created_at, company_id, open_tasks, is_task_worker)
                   SELECT i, %s, false, %s || %s || '-' || i || '@bench.example', 'Bench', %s || i,
                       true, true, now() - interval '400 days', %s, 0, false
                   FROM generate_series(%s::bigint, %s::bigint) AS i""",
                [password_hash, prefix, c, prefix.upper(), ids[f"company{c}"], first, first + count - 1],
            )
            cur.execute(
                "INSERT INTO accounts_user_groups (user_id, group_id) SELECT i, %s FROM generate_series(%s::bigint, %s::bigint) i",
                [groups[group], first, first + count - 1],
            )
        next_id += workers + submitters
    named: dict[str, int] = {}
    for name, roles in (
        ("light", ["user"]),
        ("heavy", ["user"]),
        ("poster", ["user"]),
        ("busy", ["task_worker"]),
        ("admin", ["admin", "user", "ticket_admin", "task_worker", "workflow_creator"]),
    ):
        cur.execute(
            """INSERT INTO accounts_user (id, password, is_superuser, email, first_name, last_name,
                   is_active, is_available, created_at, company_id, open_tasks, is_task_worker)
               VALUES (%s, %s, false, %s, %s, 'Bench', true, %s, now() - interval '400 days', %s, 0, false)""",
            [next_id, password_hash, f"{name}@bench.example", name.title(), name != "admin", ids["company1"]],
        )
        for role in roles:
            cur.execute(
                "INSERT INTO accounts_user_groups (user_id, group_id) VALUES (%s, %s)",
                [next_id, groups[role]],
            )
        named[name] = next_id
        next_id += 1
    return named


BIG_SQL = [
    (
        "workflow instances",
        """INSERT INTO workflows_workflowinstance (id, workflow_data, status, automated_steps, created_at,
               updated_at, company_id, current_task_id, workflow_id, hold_reason)
           SELECT g, jsonb_build_object('ticket', jsonb_build_object('title', 'Request ' || g), 'tasks',
                      CASE WHEN has_b THEN '{"triage": {"ok": true}}'::jsonb ELSE '{}'::jsonb END),
                  status, 0, created_at, created_at + interval '2 hours', company_id,
                  CASE WHEN has_b THEN resolve ELSE triage END, wf,
                  CASE WHEN status = 'ON_HOLD' THEN 'ERROR' ELSE '' END
           FROM bench_plan""",
    ),
    (
        "tickets",
        """INSERT INTO tickets_ticket (id, title, data, created_at, updated_at, company_id, created_by_id,
               workflow_instance_id, ticket_type_id, is_active)
           SELECT g, 'Request ' || g,
                  jsonb_build_object('title', 'Request ' || g, 'description', 'The printer on floor '
                      || (r %% 7) || ' jams on every second page.'),
                  created_at, created_at, company_id, created_by, g, tt,
                  status NOT IN ('COMPLETED', 'CANCELLED')
           FROM bench_plan""",
    ),
    (
        "tasks (first step)",
        """INSERT INTO workflows_taskinstance (id, uuid, status, input_data, output_data, assigned_at,
               created_at, started_at, completed_at, updated_at, attempts, callback_token_hash,
               completed_by_callback, assigned_to_id, company_id, task_definition_id, workflow_instance_id)
           SELECT 2 * g - 1, gen_random_uuid(),
                  CASE WHEN has_b THEN 'COMPLETED' ELSE 'OPEN' END, '{}', CASE WHEN has_b THEN '{"ok": true}'::jsonb END,
                  created_at, created_at, NULL, CASE WHEN has_b THEN created_at + interval '1 hour' END,
                  created_at + interval '1 hour', 0, '', false,
                  CASE WHEN NOT has_b AND company_id = %(measured)s AND r2 %% 3 = 0 THEN %(busy)s ELSE worker_a END,
                  company_id, triage, g
           FROM bench_plan""",
    ),
    (
        "tasks (second step)",
        """INSERT INTO workflows_taskinstance (id, uuid, status, input_data, output_data, assigned_at,
               created_at, started_at, completed_at, updated_at, attempts, callback_token_hash,
               completed_by_callback, assigned_to_id, company_id, task_definition_id, workflow_instance_id)
           SELECT 2 * g, gen_random_uuid(),
                  CASE status WHEN 'COMPLETED' THEN 'COMPLETED' WHEN 'CANCELLED' THEN 'CANCELLED' ELSE 'OPEN' END,
                  '{}', CASE WHEN status = 'COMPLETED' THEN '{"ok": true}'::jsonb END,
                  created_at + interval '1 hour', created_at + interval '1 hour', NULL,
                  CASE WHEN status IN ('COMPLETED', 'CANCELLED') THEN created_at + interval '2 hours' END,
                  created_at + interval '2 hours', 0, '', false,
                  CASE WHEN status NOT IN ('COMPLETED', 'CANCELLED') AND company_id = %(measured)s
                       AND r2 %% 3 = 0 THEN %(busy)s ELSE worker_b END,
                  company_id, resolve, g
           FROM bench_plan WHERE has_b""",
    ),
    (
        "timeline events",
        """INSERT INTO tickets_timelineevent (id, kind, message, data, created_at, actor_id, company_id,
               task_instance_id, ticket_id)
           SELECT 5 * g - 5 + e.n, e.kind, e.message, '{}', created_at + e.n * interval '20 minutes',
                  CASE WHEN e.n = 1 THEN created_by WHEN e.n = 3 THEN worker_a WHEN e.n = 5 THEN worker_b END,
                  company_id,
                  CASE WHEN e.n IN (2, 3) THEN 2 * g - 1 WHEN e.n = 4 THEN 2 * g END, g
           FROM bench_plan
           CROSS JOIN LATERAL (VALUES
               (1, 'started', 'Workflow ''Support'' started.'),
               (2, 'task_created', 'Task ''Triage'' created.'),
               (3, 'task_completed', 'Task ''Triage'' completed.'),
               (4, 'task_created', 'Task ''Resolve'' created.'),
               (5, CASE status WHEN 'CANCELLED' THEN 'cancelled' ELSE 'completed' END,
                   CASE status WHEN 'CANCELLED' THEN 'Ticket cancelled.' ELSE 'Workflow completed.' END)
           ) AS e(n, kind, message)
           WHERE e.n <= 2 OR (e.n <= 4 AND has_b) OR (e.n = 5 AND status IN ('COMPLETED', 'CANCELLED'))""",
    ),
    (
        "errors",
        """INSERT INTO tickets_ticketerror (error_type, message, stack_trace, status, resolution_notes,
               created_at, updated_at, company_id, task_instance_id, ticket_id)
           SELECT 'TASK_UPDATE', 'Action failed: HTTP 502 from the billing system.', '',
                  CASE WHEN status = 'ON_HOLD' THEN (CASE WHEN r2 %% 3 = 0 THEN 'REVIEWED' ELSE 'NEW' END)
                       ELSE 'RESOLVED' END,
                  CASE WHEN status = 'ON_HOLD' THEN '' ELSE 'Retried.' END,
                  created_at + interval '30 minutes', created_at + interval '30 minutes', company_id,
                  CASE WHEN has_b THEN 2 * g ELSE 2 * g - 1 END, g
           FROM bench_plan WHERE status = 'ON_HOLD' OR r2 %% 50 = 1""",
    ),
]


BIG_TABLES = (
    "workflows_workflowinstance",
    "tickets_ticket",
    "workflows_taskinstance",
    "tickets_timelineevent",
    "tickets_ticketerror",
)


def drop_secondary_indexes(cur) -> list[str]:  # type: ignore[no-untyped-def]
    """Drops every index but the primary keys on the big tables and returns the SQL
    that recreates them: building an index once is far cheaper than row by row."""
    cur.execute(
        """SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid)
           FROM pg_constraint c WHERE c.contype = 'u' AND c.conrelid::regclass::text = ANY(%s)""",
        [list(BIG_TABLES)],
    )
    constraints = cur.fetchall()
    recreate = [
        f'ALTER TABLE {t} ADD CONSTRAINT "{name}" {definition}' for t, name, definition in constraints
    ]
    for table, name, _ in constraints:
        cur.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    cur.execute(
        """SELECT i.indexname, i.indexdef FROM pg_indexes i
           WHERE i.tablename = ANY(%s) AND i.indexname NOT LIKE '%%_pkey'""",
        [list(BIG_TABLES)],
    )
    for name, definition in cur.fetchall():
        recreate.append(definition)
        cur.execute(f'DROP INDEX "{name}"')
    return recreate


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", default="tf_bench", help="database to DROP and recreate")
    parser.add_argument("--tickets", type=int, default=1_000_000)
    args = parser.parse_args()
    if args.tickets < 50_000 or args.tickets % 50_000:
        parser.error("--tickets must be a multiple of 50000")
    started = time.perf_counter()

    def step(label: str) -> None:
        print(f"{time.perf_counter() - started:7.1f}s  {label}", flush=True)

    recreate_database(args.db)
    migrate(args.db)
    step("migrated")
    setup_django(args.db)
    from django.contrib.auth.hashers import make_password
    from django.db import connection

    ids = small_objects()
    with connection.cursor() as cur:
        cur.execute("SET session_replication_role = replica")
        cur.execute("SET maintenance_work_mem = '256MB'")
        cur.execute("SET work_mem = '64MB'")
        named = create_users(cur, ids, make_password(BENCH_PASSWORD))
        step("users")
        cur.execute(PLAN_SQL, {"n": args.tickets, "light": named["light"], "heavy": named["heavy"]})
        step("plan")
        recreate = drop_secondary_indexes(cur)
        for label, sql in BIG_SQL:
            cur.execute(sql, {"measured": ids["company1"], "busy": named["busy"]})
            step(f"{label}: {cur.rowcount}")
        cur.execute("SET max_parallel_maintenance_workers = 2")
        for sql in recreate:
            cur.execute(sql)
        step(f"{len(recreate)} indexes rebuilt")
        for table in (
            "accounts_user",
            "accounts_user_groups",
            "workflows_workflowinstance",
            "tickets_ticket",
            "workflows_taskinstance",
            "tickets_timelineevent",
            "tickets_ticketerror",
        ):
            cur.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
            )
        # The least-loaded pool's flag (accounts.services.sync_task_worker_flags) from the roles.
        cur.execute(
            """UPDATE accounts_user u SET is_task_worker = true
               FROM accounts_user_groups ug JOIN auth_group g ON g.id = ug.group_id AND g.name = 'task_worker'
               WHERE ug.user_id = u.id"""
        )
        step(f"task-worker flags: {cur.rowcount} users")
        # The open-task counters (workflows.assignment), as reconcile_task_counts would set them.
        cur.execute(
            """UPDATE accounts_user u SET open_tasks = c.n
               FROM (SELECT assigned_to_id, count(*) AS n FROM workflows_taskinstance
                     WHERE status IN ('OPEN', 'IN_PROGRESS', 'PENDING') AND assigned_to_id IS NOT NULL
                     GROUP BY assigned_to_id) c
               WHERE u.id = c.assigned_to_id"""
        )
        step(f"open-task counters: {cur.rowcount} users")
        cur.execute("DROP TABLE bench_plan")
        cur.execute("DROP TABLE bench_companies")
        cur.execute("SET session_replication_role = DEFAULT")
    connection.close()
    # Steady state: autovacuum keeps statistics and the visibility map fresh.
    import psycopg

    with psycopg.connect(database_url(args.db), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    step("vacuum analyze; done")


if __name__ == "__main__":
    main()
