"""Workflow-side reads: task counts and back-office task views. Which tasks a user may
see is `tickets.access`."""

from datetime import timedelta

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.models import User
from workflows.models import OPEN_TASK_STATUSES, TaskInstance, TaskType


def open_task_count(user: User, *, cap: int | None = None) -> int:
    """The counter kept by workflows.assignment (no query beyond loading the user),
    bounded by `cap` when given so callers that show "99+" keep working."""
    n = max(user.open_tasks, 0)
    return min(n, cap) if cap is not None else n


def unassigned_tasks(queryset: QuerySet[TaskInstance]) -> QuerySet[TaskInstance]:
    return queryset.filter(
        status__in=OPEN_TASK_STATUSES, assigned_to__isnull=True, task_definition__task_type=TaskType.FORM
    )


def overdue_tasks(queryset: QuerySet[TaskInstance]) -> QuerySet[TaskInstance]:
    """Open tasks past their deadline, or form tasks open longer than TASK_OVERDUE_HOURS."""
    now = timezone.now()
    stale = now - timedelta(hours=settings.TASK_OVERDUE_HOURS)
    return queryset.filter(status__in=OPEN_TASK_STATUSES).filter(
        Q(deadline_at__lt=now) | Q(task_definition__task_type=TaskType.FORM, created_at__lt=stale)
    )
