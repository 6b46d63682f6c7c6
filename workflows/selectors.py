"""Workflow-side reads: worker task lists and counts."""

from datetime import timedelta

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.models import User
from accounts.tenancy import company_id_of
from workflows.models import OPEN_TASK_STATUSES, TaskInstance, TaskType


def open_tasks_for(user: User) -> QuerySet[TaskInstance]:
    return (
        TaskInstance.objects.filter(assigned_to=user, status__in=OPEN_TASK_STATUSES)
        .select_related("task_definition", "workflow_instance__ticket__ticket_type")
        .order_by("created_at", "id")
    )


def open_task_count(user: User) -> int:
    return TaskInstance.objects.filter(assigned_to=user, status__in=OPEN_TASK_STATUSES).count()


def visible_tasks(user: User) -> QuerySet[TaskInstance]:
    """Workers see tasks assigned to them; ticket admins every task of the company."""
    from accounts.roles import SystemRole

    qs = TaskInstance.objects.filter(company_id=company_id_of(user)).select_related(
        "task_definition", "workflow_instance__ticket__ticket_type", "assigned_to"
    )
    if not user.has_role(SystemRole.TICKET_ADMIN):
        qs = qs.filter(assigned_to=user)
    return qs


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
