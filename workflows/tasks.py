"""The queue side of actions (django.tasks; run by `manage.py run_worker` whatever
the backend): the job, and the receiver that queues it when the engine asks for an
attempt (`signals.action_ready`)."""

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection, transaction
from django.db.models import Max
from django.dispatch import receiver
from django.tasks import Task, TaskResultStatus, task
from django.tasks.signals import task_finished, task_started
from django.utils import timezone
from django_scopes import scopes_disabled
from django_tasks_db import DatabaseBackend
from django_tasks_db.models import DBTaskResult
from django_tasks_redis import RedisTaskBackend

from workflows import background
from workflows.models import TaskDefinition
from workflows.signals import action_ready

logger = logging.getLogger(__name__)


@task()
def run_action_task(task_id: int) -> None:
    background.run_action(task_id=task_id)


@receiver(task_started, sender=RedisTaskBackend)
@receiver(task_finished, sender=RedisTaskBackend)
def fresh_connections(sender: type, **kwargs: Any) -> None:
    """Around each job of the Redis worker, drop a broken or expired database
    connection, as Django does around each request: otherwise one database restart
    would fail every later job on the dead connection. (The database queue's worker
    runs inside the database's own reconnect loop, `run_worker`.)"""
    if not connection.in_atomic_block:
        close_old_connections()


@receiver(action_ready)
def enqueue_action(sender: Any, *, task_id: int, delay_seconds: float = 0, **kwargs: Any) -> None:
    """Queues one attempt. The database queue takes the job inside the step's
    transaction, so both commit or neither does; any other queue gets it after the
    commit. Either way a failure to queue is logged, not raised: the step is stored,
    and the sweeper queues the task again once its deadline passes."""
    job: Task[[int], None] = run_action_task
    if delay_seconds > 0:
        job = job.using(run_after=timezone.now() + timedelta(seconds=delay_seconds))
    if isinstance(job.get_backend(), DatabaseBackend):
        queue_with_the_step(
            lambda: job.enqueue(task_id),
            failure=f"Could not queue action task {task_id}; the sweeper will queue it again.",
            log=logger,
        )
        return

    def _enqueue() -> None:
        try:
            job.enqueue(task_id)
        except Exception:  # the queue is down: the sweeper retries
            logger.exception("Could not queue action task %s; the sweeper will queue it again.", task_id)

    transaction.on_commit(_enqueue)


def queue_with_the_step(enqueue: Callable[[], object], *, failure: str, log: logging.Logger) -> None:
    """Inserts a database-queue job inside the caller's transaction, in a savepoint; an
    insert the database refuses is undone and logged (`failure`), and the step still
    commits. A lost connection cannot be undone by a savepoint: it dooms the whole
    transaction, so it is raised. Swallowed, Django would roll the step back silently
    at the end of the block, and the caller would answer as if it were stored."""
    try:
        with transaction.atomic():
            enqueue()
    except DatabaseError:
        if connection.needs_rollback or connection.closed_in_transaction:
            raise
        log.exception(failure)


def waiting_action_task_ids() -> set[int]:
    """Task ids whose job still waits in the database queue (READY): not lost, so the
    sweeper leaves them alone. Other queues cannot be asked cheaply; there the sweeper
    re-queues, which is harmless (claims compare-and-set), only wasted work."""
    if not isinstance(run_action_task.get_backend(), DatabaseBackend):
        return set()
    jobs = DBTaskResult.objects.filter(
        status=TaskResultStatus.READY, task_path=run_action_task.module_path
    ).values_list("args_kwargs", flat=True)
    return {int(job["args"][0]) for job in jobs if job.get("args")}


class WorkerLost(Exception):
    """Recorded on a job whose worker stopped before writing its result."""


def reclaim_lost_jobs(*, now: datetime | None = None) -> int:
    """Marks FAILED the database queue's RUNNING jobs older than any action can run
    (longest action timeout plus the stuck grace): their worker died (SIGKILL, crash,
    lost host). The task itself is recovered by its own deadline (`background.sweep`)."""
    if not isinstance(run_action_task.get_backend(), DatabaseBackend):
        return 0
    now = now or timezone.now()
    with scopes_disabled():
        longest = TaskDefinition.objects.aggregate(longest=Max("timeout_seconds"))["longest"] or 0
    lease = max(longest, settings.ACTIONS_DEFAULT_TIMEOUT_SECONDS) + background.STUCK_GRACE_SECONDS
    return (
        DBTaskResult.objects.running()
        .filter(started_at__lt=now - timedelta(seconds=lease))
        .update(
            status=TaskResultStatus.FAILED,
            finished_at=now,
            exception_class_path=f"{WorkerLost.__module__}.{WorkerLost.__qualname__}",
            traceback=f"The worker stopped before finishing this job (still running after {lease}s).",
        )
    )


def prune_finished_jobs(*, now: datetime | None = None, batch: int = 5000) -> int:
    """Deletes the database queue's finished jobs (done or failed) older than
    `JOBS_KEEP_DAYS`, at most `batch` per call, so the job table stays the size of a few
    days of work. The sweeper calls it once an hour; the timeline keeps the history."""
    if not isinstance(run_action_task.get_backend(), DatabaseBackend):
        return 0
    cutoff = (now or timezone.now()) - timedelta(days=settings.JOBS_KEEP_DAYS)
    old = DBTaskResult.objects.finished().filter(finished_at__lt=cutoff).values("pk")[:batch]
    deleted, _ = DBTaskResult.objects.filter(pk__in=list(old.values_list("pk", flat=True))).delete()
    return deleted
