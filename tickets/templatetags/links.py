"""Link helpers for templates."""

from functools import lru_cache
from typing import Any

from django import template
from django.urls import get_script_prefix, reverse

from workflows.validators import is_http_url

register = template.Library()


@register.filter
def http_url(value: Any) -> str:
    """`value` if it is an absolute http(s) URL, else "" (the template then shows plain
    text): a second line of defence behind model validation, for rows stored before it."""
    return value if is_http_url(value) else ""


# Digits no id has; a pattern's reversed path is split where they appear.
_MARK = 9_087_654_321_012_345


@lru_cache(maxsize=64)
def _around_id(name: str, prefix: str) -> tuple[str, str]:
    before, mark, after = reverse(name, args=[_MARK]).partition(str(_MARK))
    if not mark:
        raise ValueError(f"{name} does not take an id.")
    return before, after


@register.filter
def url_of(pk: Any, name: str) -> str:
    """`{% url name pk %}` for a view whose one argument is an integer id: the path is
    reversed once per process (and script prefix) and the id put in its place. A list
    row's links cost a tenth of the `{% url %}` tag's pattern walk."""
    before, after = _around_id(name, get_script_prefix())
    return f"{before}{int(pk)}{after}"


def paths_of(name: str) -> tuple[str, str]:
    """`url_of` for code that links many rows: the path of `name` before and after its
    id, as `f"{before}{pk}{after}"` makes it (the script prefix read once)."""
    return _around_id(name, get_script_prefix())
