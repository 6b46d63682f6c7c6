"""Engine benchmark (not a test): ticket starts/s and FORM completions/s with advance,
with N existing open tasks in the company. Run on PostgreSQL:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ticketflower_bench \
        .venv/bin/python bench/engine.py --existing 10000 100000 --ops 300

It creates (and then drops) its own database named by DATABASE_URL."""

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
os.environ.setdefault("TESTING", "true")

import django

django.setup()

from django.db import connection  # noqa: E402
from django.test.utils import setup_databases, teardown_databases  # noqa: E402
from django_scopes import scopes_disabled  # noqa: E402

from accounts.roles import SystemRole  # noqa: E402
from accounts.tenancy import company_scope  # noqa: E402
from project.testing import make_company, make_ticket_type, make_user, make_workflow  # noqa: E402
from tickets.access import may_complete_task  # noqa: E402
from tickets.services import submit_ticket  # noqa: E402
from workflows import services  # noqa: E402
from workflows.models import TaskInstance, TaskStatus, WorkflowInstance, WorkflowStatus  # noqa: E402


def seed_open_tasks(company, wf, workers, n: int) -> None:  # type: ignore[no-untyped-def]
    """Bulk-inserts n open FORM tasks spread over the workers (the assignment query's load)."""
    existing = TaskInstance._base_manager.filter(company=company).count()
    need = n - existing
    start = wf.start_task
    batch = 5000
    while need > 0:
        size = min(batch, need)
        instances = WorkflowInstance._base_manager.bulk_create(
            WorkflowInstance(company=company, workflow=wf, status=WorkflowStatus.IN_PROGRESS)
            for _ in range(size)
        )
        TaskInstance._base_manager.bulk_create(
            TaskInstance(
                company=company,
                workflow_instance=inst,
                task_definition=start,
                status=TaskStatus.OPEN,
                assigned_to=workers[i % len(workers)],
            )
            for i, inst in enumerate(instances)
        )
        need -= size
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")  # steady state: autovacuum keeps the visibility map fresh


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--existing", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--ops", type=int, default=300)
    args = parser.parse_args()
    old = setup_databases(verbosity=0, interactive=False)
    try:
        with scopes_disabled():
            company = make_company("Bench")
            submitter = make_user(company, SystemRole.USER)
            workers = [make_user(company, SystemRole.TASK_WORKER) for _ in range(10)]
            wf = make_workflow(company, [{"key": "a"}, {"key": "b"}], [("a", "b", "", 0)])
            tt = make_ticket_type(company, wf, fields={"type": "object"})
        print(f"database: {connection.vendor}; workers: {len(workers)}; ops per figure: {args.ops}")
        for existing in args.existing:
            with scopes_disabled():
                seed_open_tasks(company, wf, workers, existing)
            with company_scope(company):
                started = time.perf_counter()
                tickets = [
                    submit_ticket(user=submitter, ticket_type=tt, data={"n": i}) for i in range(args.ops)
                ]
                start_rate = args.ops / (time.perf_counter() - started)
                tasks = [t.workflow_instance.tasks.select_related("task_definition").get() for t in tickets]
                started = time.perf_counter()
                for task in tasks:
                    assert task.assigned_to is not None
                    services.complete_form_task(
                        task=task, output={"ok": True}, actor=task.assigned_to, permitted=may_complete_task
                    )
                complete_rate = args.ops / (time.perf_counter() - started)
            print(
                f"existing open tasks ~{existing:>7}: ticket starts {start_rate:7.1f}/s, "
                f"FORM completions with advance {complete_rate:7.1f}/s"
            )
    finally:
        teardown_databases(old, verbosity=0)


if __name__ == "__main__":
    main()
