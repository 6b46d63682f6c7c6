"""The admin index dashboard: figures for ticket admins, at most CACHE_SECONDS old. A
fixed number of aggregate queries, whatever the number of rows."""

import json
from datetime import datetime, time, timedelta
from time import monotonic
from typing import Any

from django.db.models import Count
from django.db.models.functions import TruncDate
from django.http import HttpRequest
from django.utils import timezone

from accounts.models import User
from tickets import access
from tickets.models import ErrorStatus, Ticket, TicketError
from workflows.models import (
    ACTIVE_WORKFLOW_STATUSES,
    OPEN_TASK_STATUSES,
    TaskInstance,
    TaskType,
    WorkflowInstance,
    WorkflowStatus,
)

DAYS = 14
# The figures are an overview whose every number links to the live list, and they are the
# dashboard's whole SQL time (about 8 ms at 1M tickets): each process keeps them per
# company this long. The page says when they were read.
CACHE_SECONDS = 30
LIMIT = 1024  # companies; cleared when full
_figures: dict[tuple[Any, ...], tuple[float, dict[str, Any]]] = {}


def dashboard_figures(request: HttpRequest) -> dict[str, Any]:
    user: Any = request.user
    if not user.has_perm("tickets.view_ticket"):
        return {}
    # The company's creation time too: on SQLite a rolled-back company's id comes back.
    company = user.company if user.company_id is not None else None
    key = (user.is_superuser, user.company_id, company.created_at if company else None)
    now = monotonic()
    kept = _figures.get(key)
    if kept is not None and now - kept[0] < CACHE_SECONDS:
        return kept[1]
    figures = read_figures(request)
    if len(_figures) >= LIMIT:
        _figures.clear()
    _figures[key] = (now, figures)
    return figures


def read_figures(request: HttpRequest) -> dict[str, Any]:
    """Every figure is an index range read (see ARCHITECTURE.md "Performance"): counts over
    open work or a 14-day window, never over the company's whole history."""
    labels = dict(WorkflowStatus.choices)
    # wfi_company_status: an index-only count of the active statuses (every instance
    # belongs to one ticket).
    by_status = dict(
        access.backoffice(request.user, WorkflowInstance.objects.filter(status__in=ACTIVE_WORKFLOW_STATUSES))
        .order_by()
        .values("status")
        .annotate(n=Count("*"))
        .values_list("status", "n")
    )
    # task_open_per_company: open tasks grouped by assignee, names fetched for the top 20.
    tasks = access.backoffice(
        request.user, TaskInstance.objects.filter(status__in=OPEN_TASK_STATUSES)
    ).order_by()
    top = list(
        tasks.filter(assigned_to__isnull=False)
        .values("assigned_to")
        .annotate(n=Count("*"))
        .order_by("-n", "assigned_to")
        .values_list("assigned_to", "n")[:20]
    )
    names = {u.pk: str(u) for u in User.objects.filter(pk__in=[pk for pk, _ in top])}
    # ticket_company_date: a range from local midnight DAYS-1 days ago; the day of each
    # ticket is computed only for the rows in that range.
    today = timezone.localdate()
    start = today - timedelta(days=DAYS - 1)
    since = timezone.make_aware(datetime.combine(start, time.min))
    per_day = dict(
        access.backoffice(request.user, Ticket.objects.filter(created_at__gte=since))
        .order_by()
        .annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(n=Count("*"))
        .values_list("day", "n")
    )
    days = [start + timedelta(days=i) for i in range(DAYS)]
    chart = {
        "labels": [d.strftime("%b %d") for d in days],
        # displayYAxis: unfold hides the y-axis ticks unless a dataset asks for them.
        "datasets": [
            {
                "label": "Tickets created",
                "data": [per_day.get(d, 0) for d in days],
                "displayYAxis": True,
                "displayXAxis": True,
            }
        ],
    }
    return {
        "tf_by_status": [(str(s), labels[s], by_status.get(s, 0)) for s in ACTIVE_WORKFLOW_STATUSES],
        "tf_per_worker": [(pk, names.get(pk, f"#{pk}"), n) for pk, n in top],
        "tf_unassigned": tasks.filter(
            assigned_to__isnull=True, task_definition__task_type=TaskType.FORM
        ).count(),
        "tf_new_errors": access.backoffice(
            request.user, TicketError.objects.filter(status=ErrorStatus.NEW)
        ).count(),
        "tf_chart": json.dumps(chart),
        "tf_days": DAYS,
        "tf_as_of": timezone.now(),
        "tf_cache_seconds": CACHE_SECONDS,
    }


def dashboard_callback(request: HttpRequest, context: dict[str, Any]) -> dict[str, Any]:
    context.update(dashboard_figures(request))
    return context
