import datetime
from collections.abc import Callable
from typing import Any

from django import forms
from django.forms.fields import InvalidJSONInput
from django_jsonform.forms.fields import JSONFormField

from workflows import jsonsafe
from workflows.schemas import EditorInvalid, schema_errors

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
        self,
        *args: Any,
        prune_empty: bool = False,
        fill: Callable[[Any], Any] | None = None,
        unfill: Callable[[Any], Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self.prune = prune_empty
        self.fill = fill  # stored value -> what the widget shows
        self.unfill = unfill  # what the widget posts -> stored value
        super().__init__(*args, **kwargs)

    def prepare_value(self, value: Any) -> Any:
        # Fill the keys the widget needs; unsaved input (a string) is shown as typed.
        if self.fill is not None and not isinstance(value, str):
            value = self.fill(value)
        return super().prepare_value(value)

    def to_python(self, value: Any) -> Any:
        # Strict parsing (NaN, NUL, lone surrogates, deep nesting refused) instead of
        # json.loads, which accepts NaN and overflows the stack on deep nesting.
        if isinstance(value, str) and value.strip():
            try:
                return jsonsafe.loads(value)
            except jsonsafe.JSONRefused as exc:
                raise forms.ValidationError(str(exc), code="invalid") from exc
        return super().to_python(value)

    def bound_data(self, data: Any, initial: Any) -> Any:
        # Re-shown as typed when refused (Django's version re-parses with json.loads).
        if self.disabled or data is None or not isinstance(data, str):
            return super().bound_data(data, initial)
        try:
            return jsonsafe.loads(data)
        except jsonsafe.JSONRefused:
            return InvalidJSONInput(data)

    def clean(self, value: Any) -> Any:
        cleaned = super().clean(value)
        if self.prune:
            cleaned = prune_empty(cleaned)
        if self.unfill is not None:
            try:
                cleaned = self.unfill(cleaned)
            except EditorInvalid as exc:
                raise forms.ValidationError(str(exc), code="invalid") from exc
        return cleaned

    def validate(self, value: Any) -> None:
        forms.JSONField.validate(self, value)

    def run_validators(self, value: Any) -> None:
        forms.JSONField.run_validators(self, value)


PREFIX = "data__"
YES_NO = [("true", "Yes"), ("false", "No")]
_TEXTAREA_AT = 200  # a string allowed longer than this gets a text area


def choices_of(spec: dict[str, Any]) -> list[tuple[Any, str]] | None:
    """(value, title) pairs of an enumerated property: `enum` with `enumNames`, or
    `oneOf`/`anyOf` of `{"const", "title"}`. None when the property is not an enum."""
    if isinstance(spec.get("enum"), list):
        names = spec.get("enumNames")
        if isinstance(names, list) and len(names) == len(spec["enum"]):
            return [(v, str(n)) for v, n in zip(spec["enum"], names, strict=True)]
        return [(v, str(v)) for v in spec["enum"]]
    options = spec.get("oneOf") or spec.get("anyOf")
    if isinstance(options, list) and options and all(isinstance(o, dict) and "const" in o for o in options):
        return [(o["const"], str(o.get("title", o["const"]))) for o in options]
    return None


def _choice_field(spec: dict[str, Any], choices: list[tuple[Any, str]], **common: Any) -> forms.Field:
    # Values are matched back to their JSON value (a number enum stays a number).
    by_text = {str(v): v for v, _ in choices}
    widget = forms.RadioSelect if len(choices) <= 4 else forms.Select
    options = [(str(v), title) for v, title in choices]
    if widget is forms.Select:
        options = [("", "Choose…"), *options]
    return forms.TypedChoiceField(
        choices=options, coerce=lambda text: by_text[text], empty_value=None, widget=widget, **common
    )


def field_for(spec: Any, *, required: bool) -> forms.Field | None:
    """A Django form field for one property of a flat JSON Schema; None when the property
    needs the full JSON editor (nested objects, arrays of objects, ...)."""
    if not isinstance(spec, dict):
        return None
    common: dict[str, Any] = {
        "required": required,
        "label": spec.get("title") or "",
        "help_text": spec.get("description") or "",
    }
    if "default" in spec:
        common["initial"] = spec["default"]
    kind = spec.get("type")
    choices = choices_of(spec)
    if choices is not None and kind in (None, "string", "integer", "number"):
        return _choice_field(spec, choices, **common)
    if kind == "boolean":
        if "initial" in common:
            common["initial"] = "true" if common["initial"] else "false"
        return forms.TypedChoiceField(
            choices=YES_NO,
            coerce=lambda text: text == "true",
            empty_value=None,
            widget=forms.RadioSelect,
            **common,
        )
    if kind == "string":
        fmt = spec.get("format")
        if fmt == "date":
            return forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), **common)
        if fmt == "date-time":
            return forms.DateTimeField(widget=forms.DateTimeInput(attrs={"type": "datetime-local"}), **common)
        if fmt == "email":
            return forms.EmailField(**common)
        long_text = spec.get("widget") == "textarea" or (spec.get("maxLength") or 0) > _TEXTAREA_AT
        widget = forms.Textarea(attrs={"rows": 4}) if long_text else forms.TextInput
        return forms.CharField(
            widget=widget,
            strip=True,
            min_length=spec.get("minLength"),
            max_length=spec.get("maxLength"),
            **common,
        )
    if kind == "integer":
        return forms.IntegerField(min_value=spec.get("minimum"), max_value=spec.get("maximum"), **common)
    if kind == "number":
        return forms.FloatField(min_value=spec.get("minimum"), max_value=spec.get("maximum"), **common)
    if kind == "array" and isinstance(spec.get("items"), dict):
        item_choices = choices_of(spec["items"])
        if item_choices is not None:
            by_text = {str(v): v for v, _ in item_choices}
            return forms.TypedMultipleChoiceField(
                choices=[(str(v), t) for v, t in item_choices],
                coerce=lambda text: by_text[text],
                widget=forms.CheckboxSelectMultiple,
                **common,
            )
    return None


def flat_fields(schema: Any) -> dict[str, forms.Field] | None:
    """One form field per property of an object schema, in schema order; None when some
    property needs the JSON editor (then the whole form uses it)."""
    schema = schema or {}
    if not isinstance(schema, dict) or schema.get("type", "object") != "object":
        return None
    properties = schema.get("properties") or {}
    required = set(schema.get("required") or [])
    fields: dict[str, forms.Field] = {}
    for key, spec in properties.items():
        field = field_for(spec, required=key in required)
        if field is None:
            return None
        if not field.label:
            field.label = str(key).replace("_", " ").capitalize()
        fields[key] = field
    return fields


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


class SchemaForm(forms.Form):
    """A form generated from a JSON Schema. A flat schema (the common case) becomes one
    ordinary field per property: labels from `title`, help from `description`, required
    markers, Yes/No for booleans, enum titles. Anything richer falls back to the
    django-jsonform editor in one `data` field. Either way the collected object is
    `cleaned_data["data"]`; `jsonschema` in the service stays the judge, and its
    per-field errors come back through `add_field_errors`."""

    def __init__(self, *args: Any, schema: dict[str, Any], label: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.schema = schema
        self.schema_fields = flat_fields(schema)
        if self.is_bound and "data" in self.data and not any(k.startswith(PREFIX) for k in self.data):
            self.schema_fields = None  # a client posted the whole object as JSON in `data`
        if self.schema_fields is None:
            self.fields["data"] = SchemaField(
                schema=schema or EMPTY_OBJECT_SCHEMA, label=label, required=False
            )
            self.order_fields(["data"])
        else:
            for key, field in self.schema_fields.items():
                self.fields[PREFIX + key] = field
            self.order_fields([PREFIX + key for key in self.schema_fields])

    @property
    def has_questions(self) -> bool:
        return self.schema_fields is None or bool(self.schema_fields)

    def clean_data(self) -> Any:
        # The widget sends null, "" or [] for inputs left alone (an unticked checkbox is
        # null); those mean "not given", so optional fields validate and required ones
        # get "This field is required".
        value = self.cleaned_data.get("data")
        return {} if value in (None, "") else prune_empty(value)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.schema_fields is not None:
            data = {}
            for key in self.schema_fields:
                value = cleaned.get(PREFIX + key)
                if value not in (None, "", []):
                    data[key] = _json_value(value)
            cleaned["data"] = data
            if self.errors:
                # The service checks the schema only once the form is valid; show its
                # findings now too, so a person fixes everything in one round.
                self.add_field_errors(
                    {
                        path: messages
                        for path, messages in schema_errors(self.schema, data, what="The answer").items()
                        if PREFIX + path.split(".")[0] not in self.errors
                    }
                )
        return cleaned

    def add_field_errors(self, field_errors: dict[str, list[str]]) -> None:
        """Each message once: under its own field, or (JSON editor) under the editor,
        named by the field's title; what belongs to no field goes on top."""
        for path, messages in field_errors.items():
            top = path.split(".")[0] if path else ""
            name: str | None = None
            prefix = ""
            if self.schema_fields is not None:
                name = PREFIX + top if top in self.schema_fields else None
            elif path:
                name = "data"
                spec = ((self.schema or {}).get("properties") or {}).get(top)
                title = spec.get("title") if isinstance(spec, dict) else None
                prefix = f"{title or top.replace('_', ' ').capitalize()}: "
            for message in dict.fromkeys(messages):  # once each, in order
                text = prefix + message
                if text not in self.errors.get(name or "__all__", []):
                    self.add_error(name, text)


class TicketForm(SchemaForm):
    attachments = MultipleFileField(required=False, label="Attachments")


class CommentForm(forms.Form):
    body = forms.CharField(
        label="Message", widget=forms.Textarea(attrs={"rows": 4}), max_length=10_000, strip=True
    )
    internal = forms.BooleanField(
        label="Internal note (only ticket admins and the ticket's assignees see it)", required=False
    )
    attachments = MultipleFileField(required=False, label="Attachments")
    # Unbound, its fields render the same for every ticket (templatetags.form_cache).
    same_when_blank = True

    def __init__(self, *args: Any, team: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not team:  # a submitter only writes public replies
            del self.fields["internal"]


class NotificationPreferencesForm(forms.Form):
    """One choice per notification kind the person can receive: email or not (and a
    daily digest where offered)."""

    def __init__(
        self,
        *args: Any,
        groups: list[tuple[str, list[tuple[str, str]]]],
        digest_kinds: tuple[str, ...],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.groups = groups
        for _title, kinds in groups:
            for kind, label in kinds:
                choices = [("on", "Email"), ("off", "No email")]
                if kind in digest_kinds:
                    choices.insert(1, ("daily", "Daily digest"))
                self.fields[kind] = forms.ChoiceField(label=label, choices=choices, initial="on")

    def grouped(self) -> list[tuple[str, list[forms.BoundField]]]:
        return [(title, [self[kind] for kind, _label in kinds]) for title, kinds in self.groups]
