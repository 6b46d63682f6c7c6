"""The queue side of actions (django.tasks; run by `manage.py db_worker` or the
configured backend's workers): the job, and the receiver that queues it when the
engine asks for an attempt (`signals.action_ready`)."""

import logging
from datetime import timedelta
from typing import Any

from django.db import DatabaseError, transaction
from django.dispatch import receiver
from django.tasks import Task, task
from django.utils import timezone
from django_tasks_db import DatabaseBackend

from workflows import background
from workflows.signals import action_ready

logger = logging.getLogger(__name__)


@task()
def run_action_task(task_id: int) -> None:
    background.run_action(task_id=task_id)


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
        try:
            with transaction.atomic():
                job.enqueue(task_id)
        except DatabaseError:
            logger.exception("Could not queue action task %s; the sweeper will queue it again.", task_id)
        return

    def _enqueue() -> None:
        try:
            job.enqueue(task_id)
        except Exception:  # the queue is down: the sweeper retries
            logger.exception("Could not queue action task %s; the sweeper will queue it again.", task_id)

    transaction.on_commit(_enqueue)
