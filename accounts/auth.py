"""Login helpers."""

from typing import Any

from django.conf import settings
from django.http import HttpRequest


def normalised_email(value: Any) -> str:
    """The form an email is compared in: trimmed and lower-cased (login matches emails
    case-insensitively, so every count keyed on it must too)."""
    return str(value or "").strip().lower()


def axes_username(request: HttpRequest, credentials: dict[str, Any] | None = None) -> str:
    """django-axes' key for an attempt: the normalised email, so "Dora@x" and "dora@x"
    fail against one counter (AXES_USERNAME_CALLABLE)."""
    field = settings.AXES_USERNAME_FORM_FIELD
    if credentials:
        return normalised_email(credentials.get(field) or credentials.get("username"))
    data = getattr(request, "data", None) or request.POST
    return normalised_email(data.get(field))
