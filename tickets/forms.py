from collections.abc import Callable
from typing import Any

from django import forms
from django_jsonform.forms.fields import JSONFormField
from django_jsonform.utils import ErrorMap

EMPTY_OBJECT_SCHEMA = {"type": "object", "properties": {}}


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        single = super().clean
        if isinstance(data, (list, tuple)):
            return [single(d, initial) for d in data if d]
        return [single(data, initial)] if data else []


def prune_empty(value: Any) -> Any:
    """Drops None, "" and [] that the widget fills in for untouched inputs, so a
    saved JSON Schema holds only what the author set."""
    if isinstance(value, dict):
        pruned = {k: prune_empty(v) for k, v in value.items()}
        return {k: v for k, v in pruned.items() if v not in (None, "", [])}
    if isinstance(value, list):
        return [prune_empty(v) for v in value]
    return value


class SchemaField(JSONFormField):
    """The django-jsonform widget, with validation left to `jsonschema` on the server
    (django-jsonform's own validator treats every property as required)."""

    def __init__(
        self, *args: Any, prune_empty: bool = False, fill: Callable[[Any], Any] | None = None, **kwargs: Any
    ) -> None:
        self.prune = prune_empty
        self.fill = fill
        super().__init__(*args, **kwargs)

    def prepare_value(self, value: Any) -> Any:
        # Fill the keys the widget needs; unsaved input (a string) is shown as typed.
        if self.fill is not None and not isinstance(value, str):
            value = self.fill(value)
        return super().prepare_value(value)

    def clean(self, value: Any) -> Any:
        cleaned = super().clean(value)
        return prune_empty(cleaned) if self.prune else cleaned

    def validate(self, value: Any) -> None:
        forms.JSONField.validate(self, value)

    def run_validators(self, value: Any) -> None:
        forms.JSONField.run_validators(self, value)


class SchemaForm(forms.Form):
    """A form whose `data` field is generated from a JSON Schema (django-jsonform).
    Server-side validation with `jsonschema` happens in the service; its per-field
    errors are shown through `add_field_errors`."""

    def __init__(self, *args: Any, schema: dict[str, Any], label: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["data"] = SchemaField(schema=schema or EMPTY_OBJECT_SCHEMA, label=label, required=False)
        self.order_fields(["data"])

    def clean_data(self) -> Any:
        # The widget sends null, "" or [] for inputs left alone (an unticked checkbox is
        # null); those mean "not given", so optional fields validate and required ones
        # get "This field is required".
        value = self.cleaned_data.get("data")
        return {} if value in (None, "") else prune_empty(value)

    def add_field_errors(self, field_errors: dict[str, list[str]]) -> None:
        """Shows each error next to its input in the widget, and as text under it."""
        error_map = ErrorMap()
        for path, messages in field_errors.items():
            error_map.set(coords=path.split(".") if path else [""], msg=messages)
        self.fields["data"].widget.add_error(error_map)
        for path, messages in field_errors.items():
            for message in messages:
                self.add_error("data", f"{path}: {message}" if path else message)


class TicketForm(SchemaForm):
    attachments = MultipleFileField(required=False, label="Attachments")
