from typing import Any

from django.http import HttpRequest

from tickets.selectors import landing_summary


def navigation(request: HttpRequest) -> dict[str, Any]:
    """Which navigation links the base template shows, with their counts."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav": None}
    # Live counts for the navigation: one COUNT per role that has a list.
    summary = landing_summary(user)
    return {
        "nav": {
            "submit": summary.can_submit,
            "tasks": summary.is_worker,
            "backoffice": summary.is_backoffice,
            "active_tickets": summary.active_tickets,
            "open_tasks": summary.open_tasks,
        }
    }
