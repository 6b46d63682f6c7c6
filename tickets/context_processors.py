from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from tickets.selectors import COUNT_CAP, landing_summary


def _count_label(n: int | None) -> str:
    return "" if n is None else f"{COUNT_CAP - 1}+" if n >= COUNT_CAP else str(n)


def _navigation(request: HttpRequest) -> dict[str, Any]:
    # Template renders call context processors once each (the admin renders several per
    # page): the figures are computed at most once per request, and only when shown.
    cached: dict[str, Any] | None = getattr(request, "_tf_navigation", None)
    if cached is None:
        summary = landing_summary(request.user)  # type: ignore[arg-type]
        cached = {
            "submit": summary.can_submit,
            "tasks": summary.is_worker,
            "backoffice": summary.is_backoffice,
            "active_tickets": summary.active_tickets,
            "open_tasks": summary.open_tasks,
            "active_tickets_label": _count_label(summary.active_tickets),
            "open_tasks_label": _count_label(summary.open_tasks),
            "unread_notices": summary.unread_notices,
            "unread_notices_label": _count_label(summary.unread_notices),
        }
        request._tf_navigation = cached  # type: ignore[attr-defined]
    return cached


def navigation(request: HttpRequest) -> dict[str, Any]:
    """Which navigation links the base template shows, with their (bounded) counts."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav": None}
    return {"nav": SimpleLazyObject(lambda: _navigation(request))}
