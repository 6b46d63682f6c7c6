"""The queue side of actions (django.tasks; run by `manage.py db_worker`): the job, and
the receiver that enqueues it when the engine asks for an attempt (`action_ready`)."""

from datetime import timedelta
from typing import Any

from django.db import transaction
from django.dispatch import receiver
from django.tasks import task
from django.utils import timezone

from workflows import background
from workflows.signals import action_ready


@task()
def run_action_task(task_id: int) -> None:
    background.run_action(task_id=task_id)


@receiver(action_ready)
def enqueue_action(sender: Any, *, task_id: int, delay_seconds: float = 0, **kwargs: Any) -> None:
    """Enqueues the action call once the surrounding transaction commits."""

    def _enqueue() -> None:
        job = run_action_task
        if delay_seconds > 0:
            job = job.using(run_after=timezone.now() + timedelta(seconds=delay_seconds))
        job.enqueue(task_id)

    transaction.on_commit(_enqueue)
