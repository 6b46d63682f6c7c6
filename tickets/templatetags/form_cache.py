"""An unbound form's fields rendered once per process (issue 15, ARCHITECTURE
"Performance")."""

from typing import Any

from django import forms, template
from django.template.loader import render_to_string
from django.utils.safestring import SafeString
from django.utils.translation import get_language

from tickets.rendered import remember

register = template.Library()

LIMIT = 64
_html: dict[tuple[Any, ...], SafeString] = {}


@register.simple_tag
def blank_form_fields(form: forms.Form) -> SafeString:
    """`{% include "form_fields.html" %}` for `form`. A form class that says its unbound
    fields are the same for everyone (`same_when_blank`) is rendered once per set of
    fields and language (initial values make it render each time): the widget templates
    cost 0.5 ms of the ticket page's CPU."""
    if form.is_bound or form.initial or not getattr(form, "same_when_blank", False):
        return render_to_string("form_fields.html", {"form": form})
    key = (type(form), tuple(form.fields), form.prefix, form.auto_id, get_language())
    return remember(_html, LIMIT, key, lambda: render_to_string("form_fields.html", {"form": form}))
