"""Validators for the URLs definitions store. They run in the model layer (field
validators for forms and imports, and again in `save()`), so every entry point -- the
admin, CSV/JSON import, bundles, the API -- refuses anything but absolute http(s) URLs
(a stored `javascript:` or `data:` link would run in the browser of whoever clicks it)."""

from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

_http_only = URLValidator(schemes=["http", "https"])


def is_http_url(value: Any) -> bool:
    if not isinstance(value, str) or not value:
        return False
    try:
        _http_only(value)
    except ValidationError:
        return False
    return True


def validate_http_url(value: Any) -> None:
    if value and not is_http_url(value):
        raise ValidationError(
            "Enter an absolute http:// or https:// URL (other schemes are refused).", code="http_only"
        )


def validate_ext_refs(value: Any) -> None:
    """`ext_ref`: a list of {"label", "uri", optional "desc"}, every uri http(s)."""
    if value in (None, ""):
        return
    if not isinstance(value, list):
        raise ValidationError("External references must be a list of {label, uri} objects.")
    problems = []
    for i, ref in enumerate(value):
        if not isinstance(ref, dict):
            problems.append(f"ext_ref[{i}]: must be an object with label and uri.")
            continue
        if not isinstance(ref.get("label"), str) or not ref["label"].strip():
            problems.append(f"ext_ref[{i}].label: required.")
        if not is_http_url(ref.get("uri")):
            problems.append(f"ext_ref[{i}].uri: must be an absolute http:// or https:// URL.")
    if problems:
        raise ValidationError(problems, code="ext_ref")
