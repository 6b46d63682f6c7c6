"""Link helpers for templates."""

from typing import Any

from django import template

from workflows.validators import is_http_url

register = template.Library()


@register.filter
def http_url(value: Any) -> str:
    """`value` if it is an absolute http(s) URL, else "" (the template then shows plain
    text): a second line of defence behind model validation, for rows stored before it."""
    return value if is_http_url(value) else ""
