"""`{% notification_preferences %}`: the email choices form, for the profile page
(a template tag, so the accounts app's view needs no import from tickets)."""

from typing import Any

from django import template

from tickets.notification_views import preferences_form

register = template.Library()


@register.inclusion_tag("notifications/_preferences_form.html", takes_context=True)
def notification_preferences(context: dict[str, Any]) -> dict[str, Any]:
    request = context["request"]
    return {"preferences_form": preferences_form(request.user), "csrf_token": context.get("csrf_token")}
