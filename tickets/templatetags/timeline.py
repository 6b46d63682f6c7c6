"""How the timeline reads: the actor named once, automatic steps credited to
TicketFlower, and "just now" instead of "0 minutes ago"."""

import re
from datetime import datetime
from typing import Any

from django import template
from django.utils import timezone
from django.utils.timesince import TIME_STRINGS
from django.utils.timezone import is_aware
from django.utils.translation import get_language

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


_CHUNKS = (("week", 604_800), ("day", 86_400), ("hour", 3_600), ("minute", 60))


def _largest_unit(moment: datetime, now: datetime) -> tuple[str, int]:
    """timesince's first unit and its number (depth=1): whole calendar years or
    months, else weeks, days, hours or minutes."""
    months = (now.year - moment.year) * 12 + now.month - moment.month
    if moment.day > now.day or (moment.day == now.day and moment.time() > now.time()):
        months -= 1
    if months >= 12:
        return "year", months // 12
    if months > 0:
        return "month", months
    seconds = (now - moment).total_seconds()
    for name, chunk in _CHUNKS:
        if seconds >= chunk:
            return name, int(seconds // chunk)
    return "minute", 0


_WORDS: dict[tuple[str | None, str, int], str] = {}


@register.filter
def ago(moment: datetime | None) -> str:
    """ "3 days ago": Django's `timesince(moment, depth=1)`, the largest unit only, with
    its words kept per language, unit and number (translating them on each call was
    most of a 25-row list's `ago` time)."""
    if moment is None:
        return ""
    now = timezone.now()
    if (now - moment).total_seconds() < 60:
        return "just now"
    if is_aware(moment):
        now = now.astimezone(moment.tzinfo)  # calendar months in the moment's zone, as timesince
    unit, count = _largest_unit(moment, now)
    key = (get_language(), unit, count)
    words = _WORDS.get(key)
    if words is None:
        words = f"{TIME_STRINGS[unit] % {'num': count}} ago".replace("\xa0", " ")
        if len(_WORDS) < 2_000:  # numbers stay small: minutes < 60, years few
            _WORDS[key] = words
    return words
