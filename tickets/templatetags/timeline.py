"""How the timeline reads: the actor named once, automatic steps credited to
TicketFlower, and "just now" instead of "0 minutes ago"."""

import re
from datetime import datetime
from typing import Any

from django import template
from django.utils import timezone
from django.utils.timesince import timesince

register = template.Library()

SYSTEM_NAME = "TicketFlower"
# Events a person causes; everything else (routing, assignment, actions, the workflow
# finishing) is the engine's work, even when it runs inside a person's request.
PERSON_KINDS = frozenset(
    {
        "started",
        "task_completed",
        "retried",
        "held",
        "resumed",
        "cancelled",
        "completed_by_hand",
        "reassigned",
        "comment",
    }
)
_BY = re.compile(r"\s*\((?:by|completed by) [^)]*\)")


@register.filter
def event_who(event: Any) -> str:
    if event.kind in PERSON_KINDS and event.actor_id:
        return str(event.actor)
    return SYSTEM_NAME


@register.filter
def event_text(event: Any) -> str:
    """The message without a "(by Someone)" the actor column already says."""
    return _BY.sub("", event.message)


@register.filter
def ago(moment: datetime | None) -> str:
    if moment is None:
        return ""
    if (timezone.now() - moment).total_seconds() < 60:
        return "just now"
    # The largest unit only ("3 days", not "3 days, 2 hours"): depth=1 skips formatting
    # the second (a third of the filter's time on a list of 25 rows).
    return f"{timesince(moment, depth=1)} ago".replace("\xa0", " ")
