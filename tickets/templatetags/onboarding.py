"""Lets the landing page (an accounts template) show the setup checklist without
accounts importing tickets."""

from typing import Any

from django import template

from tickets.onboarding import setup_checklist

register = template.Library()


@register.simple_tag
def checklist_for(user: Any) -> Any:
    return setup_checklist(user) if getattr(user, "is_authenticated", False) else None
