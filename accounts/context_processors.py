from typing import Any

from django.http import HttpRequest

from accounts.roles import SystemRole


def navigation(request: HttpRequest) -> dict[str, Any]:
    """Which navigation links the base template shows; no queries beyond the roles."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav": None}
    return {
        "nav": {
            "submit": user.has_role(SystemRole.USER),
            "tasks": user.has_role(SystemRole.TASK_WORKER),
            "backoffice": user.is_staff,
        }
    }
