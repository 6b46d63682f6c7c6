"""The admin index dashboard: live figures for ticket admins. A fixed number of
aggregate queries, whatever the number of rows."""

import json
from datetime import timedelta
from typing import Any

from django.db.models import Count
from django.db.models.functions import TruncDate
from django.http import HttpRequest
from django.utils import timezone

from tickets import access
from tickets.models import ErrorStatus, Ticket, TicketError
from workflows.models import (
    ACTIVE_WORKFLOW_STATUSES,
    OPEN_TASK_STATUSES,
    TaskInstance,
    TaskType,
    WorkflowStatus,
)

DAYS = 14


def dashboard_figures(request: HttpRequest) -> dict[str, Any]:
    user = request.user
    if not user.has_perm("tickets.view_ticket"):  # type: ignore[union-attr]
        return {}
    tickets = access.backoffice(request.user, Ticket.objects.all())
    tasks = access.backoffice(request.user, TaskInstance.objects.filter(status__in=OPEN_TASK_STATUSES))
    labels = dict(WorkflowStatus.choices)
    by_status = {
        row["workflow_instance__status"]: row["n"]
        for row in tickets.filter(workflow_instance__status__in=ACTIVE_WORKFLOW_STATUSES)
        .values("workflow_instance__status")
        .annotate(n=Count("id"))
    }
    per_worker = list(
        tasks.filter(assigned_to__isnull=False)
        .values("assigned_to__email", "assigned_to__first_name", "assigned_to__last_name")
        .annotate(n=Count("id"))
        .order_by("-n", "assigned_to__email")[:20]
    )
    today = timezone.localdate()
    start = today - timedelta(days=DAYS - 1)
    per_day = {
        row["day"]: row["n"]
        for row in tickets.filter(created_at__date__gte=start)
        .annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(n=Count("id"))
    }
    days = [start + timedelta(days=i) for i in range(DAYS)]
    chart = {
        "labels": [d.strftime("%b %d") for d in days],
        "datasets": [{"label": "Tickets created", "data": [per_day.get(d, 0) for d in days]}],
    }
    return {
        "tf_by_status": [(labels[s], by_status.get(s, 0)) for s in ACTIVE_WORKFLOW_STATUSES],
        "tf_per_worker": [
            (
                f"{r['assigned_to__first_name']} {r['assigned_to__last_name']}".strip()
                or r["assigned_to__email"],
                r["n"],
            )
            for r in per_worker
        ],
        "tf_unassigned": tasks.filter(
            assigned_to__isnull=True, task_definition__task_type=TaskType.FORM
        ).count(),
        "tf_new_errors": access.backoffice(
            request.user, TicketError.objects.filter(status=ErrorStatus.NEW)
        ).count(),
        "tf_chart": json.dumps(chart),
        "tf_days": DAYS,
    }


def dashboard_callback(request: HttpRequest, context: dict[str, Any]) -> dict[str, Any]:
    context.update(dashboard_figures(request))
    return context
