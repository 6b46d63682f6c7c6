"""JSON Schemas for the JSON columns whose shape is known. Used by the django-jsonform
widgets in the admin and by server-side validation (bundles, forms)."""

import copy
import json
import re
from typing import Any

import jsonschema

from workflows import jsonsafe

EXT_REF_SCHEMA: dict[str, Any] = {
    "type": "array",
    "title": "External references",
    "items": {
        "type": "object",
        "properties": {
            "label": {"type": "string", "minLength": 1},
            "desc": {"type": "string"},
            "uri": {"type": "string", "format": "uri", "pattern": "^https?://"},
        },
        "required": ["label", "uri"],
        "additionalProperties": False,
    },
}

WORKFLOW_FIELDS_SCHEMA: dict[str, Any] = {
    "type": "array",
    "title": "Fields",
    "items": {
        "type": "object",
        "properties": {
            "name": {"type": "string", "minLength": 1},
            "type": {
                "type": "string",
                "enum": ["string", "number", "integer", "boolean", "object", "array"],
            },
        },
        "required": ["name", "type"],
        "additionalProperties": False,
    },
}


class EditorInvalid(ValueError):
    """What an editor's rows cannot become (a field without a key, a key twice)."""


# The editors list named things (form fields, transform outputs) as rows whose name is
# an input of the row. An object keyed by name would make the widget ask for each new
# name in a native prompt() (blocking, unstyled, outside the page's form and its errors).

# A transform maps output keys to JMESPath expressions.
TRANSFORM_SCHEMA: dict[str, Any] = {
    "type": "array",
    "title": "Transform",
    "items": {
        "type": "object",
        "keys": {
            "key": {"type": "string", "title": "Output key"},
            "expression": {"type": "string", "title": "JMESPath expression"},
        },
    },
}


def fits_transform_editor(value: Any) -> bool:
    return value in (None, {}) or (
        isinstance(value, dict) and all(isinstance(v, str) for v in value.values())
    )


def fill_transform(value: Any) -> list[dict[str, Any]]:
    """{"who": "ticket.title"} -> [{"key": "who", "expression": "ticket.title"}]; rows
    posted back (a form shown again with its errors) stay as they are."""
    if isinstance(value, list):
        return value
    return [{"key": k, "expression": v} for k, v in (value or {}).items()]


def unfill_transform(rows: Any) -> Any:
    """The editor's rows back to the stored object (the inverse of `fill_transform`)."""
    if not isinstance(rows, list):
        return rows
    out: dict[str, Any] = {}
    for row in rows:
        row = row if isinstance(row, dict) else {}
        key = str(row.get("key") or "").strip()
        if not key:
            raise EditorInvalid("Each row needs an output key.")
        if key in out:
            raise EditorInvalid(f"Two rows have the output key '{key}'.")
        if not str(row.get("expression") or "").strip():
            raise EditorInvalid(f"The output key '{key}' needs an expression.")
        out[key] = row["expression"]
    return out


# An editor for the JSON Schemas of forms (ticket fields, task input/output): the
# subset the product's forms use, one row per field with its key and a Required box.
# The widget needs every key present, so values are filled in for display
# (`fill_form_schema`) and pruned again on save (`unfill_form_schema`); a schema that
# uses anything else is edited as JSON instead (`fits_form_schema_editor`).
_PROPERTY_KEYS: dict[str, Any] = {  # key -> (editor schema, empty value)
    "type": (
        {
            "type": "string",
            "choices": ["string", "number", "integer", "boolean", "array", "object"],
            "default": "string",  # a new row is a text field unless changed
        },
        "string",
    ),
    "title": ({"type": "string"}, ""),
    "description": ({"type": "string"}, ""),
    "enum": ({"type": "array", "items": {"type": "string"}}, []),
    "format": ({"type": "string", "choices": ["", "date", "date-time", "email", "uri"]}, ""),
    "minLength": ({"type": "integer"}, None),
    "maxLength": ({"type": "integer"}, None),
    "minimum": ({"type": "number"}, None),
    "maximum": ({"type": "number"}, None),
    "widget": ({"type": "string", "choices": ["", "textarea"]}, ""),
}
_ROW_KEYS: dict[str, Any] = {
    "key": {
        "type": "string",
        "title": "Key",
        "helpText": "The field's name in the data, e.g. laptop_model.",
    },
    "required": {"type": "boolean", "title": "Required"},
}
JSON_SCHEMA_EDITOR: dict[str, Any] = {
    "type": "array",
    "title": "Fields",
    "items": {
        "type": "object",
        "keys": {**_ROW_KEYS, **{key: spec for key, (spec, _) in _PROPERTY_KEYS.items()}},
    },
}


def fits_form_schema_editor(schema: Any) -> bool:
    """True when the editor can show `schema` without losing anything."""
    if schema in (None, {}):
        return True
    if not isinstance(schema, dict) or set(schema) - {"type", "properties", "required"}:
        return False
    if schema.get("type", "object") != "object":
        return False
    properties = schema.get("properties", {})
    required = schema.get("required", [])
    if not isinstance(properties, dict) or not isinstance(required, list):
        return False
    if not all(isinstance(r, str) and r in properties for r in required):
        return False
    for spec in properties.values():
        if not isinstance(spec, dict) or set(spec) - set(_PROPERTY_KEYS):
            return False
        if "enum" in spec and not all(isinstance(v, str) for v in spec["enum"]):
            return False
    return True


def fill_form_schema(schema: Any) -> list[dict[str, Any]]:
    """`schema` as the editor's rows, every key present (the widget fails on missing
    ones); rows posted back (a form shown again with its errors) are only completed."""
    if isinstance(schema, list):
        return [_filled_row(row if isinstance(row, dict) else {}) for row in schema]
    schema = schema or {}
    required = set(schema.get("required") or [])
    return [
        _filled_row({**spec, "key": name, "required": name in required})
        for name, spec in (schema.get("properties") or {}).items()
    ]


def _filled_row(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "key": row.get("key", ""),
        "required": row.get("required") is True,
        **{key: row.get(key, empty) for key, (_, empty) in _PROPERTY_KEYS.items()},
    }


# Building a validator costs about twice the validation of a small form; schemas repeat
# (a task definition's output schema, once per completion), so a process keeps them by
# their canonical text (a schema is a mutable dict, and an edited one has another text).
_VALIDATORS: dict[str, Any] = {}
_VALIDATORS_MAX = 1024


def _validator(schema: dict[str, Any]) -> Any:
    key = json.dumps(schema, sort_keys=True, separators=(",", ":"))
    validator = _VALIDATORS.get(key)
    if validator is None:
        if len(_VALIDATORS) >= _VALIDATORS_MAX:
            _VALIDATORS.clear()
        validator = _VALIDATORS[key] = jsonschema.validators.validator_for(schema)(copy.deepcopy(schema))
    return validator


def schema_errors(schema: dict[str, Any] | None, data: Any, *, what: str) -> dict[str, list[str]]:
    """`data` checked against the JSON Schema `schema`: messages per field path ("" for
    the whole object), empty when valid. `what` names the data in the top-level message.
    The one mapping of jsonschema errors, for ticket data and task outputs alike."""
    if not isinstance(data, dict):
        return {"": [f"{what} must be a JSON object."]}
    refused = jsonsafe.problem(data)
    if refused is not None:  # before jsonschema: it recurses, and the database would refuse it
        return {field_path(refused.path): [refused.message]}
    if not schema:
        return {}
    errors: dict[str, list[str]] = {}
    for error in _validator(schema).iter_errors(data):
        path = ".".join(str(p) for p in error.absolute_path)
        if error.validator == "required" and not path and "'" in error.message:
            # Attach "x is a required property" to the missing field itself.
            errors.setdefault(error.message.split("'")[1], []).append("This field is required.")
        else:
            errors.setdefault(path, []).append(_sentence(error))
    return errors


_TYPE_WORDS = {
    "string": "text",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false (a boolean)",
    "array": "a list",
    "object": "an object",
    "null": "nothing (null)",
}


def _sentence(error: Any) -> str:
    """jsonschema's message in the words the form fields use ("'ab' is too short" tells a
    person neither the limit nor the field's rule); anything rarer keeps its own wording."""
    rule, limit, value = error.validator, error.validator_value, error.instance
    if rule == "minLength" and isinstance(value, str):
        return f"Ensure this value has at least {limit} characters (it has {len(value)})."
    if rule == "maxLength" and isinstance(value, str):
        return f"Ensure this value has at most {limit} characters (it has {len(value)})."
    if rule == "minimum":
        return f"Ensure this value is greater than or equal to {limit}."
    if rule == "maximum":
        return f"Ensure this value is less than or equal to {limit}."
    if rule == "exclusiveMinimum":
        return f"Ensure this value is greater than {limit}."
    if rule == "exclusiveMaximum":
        return f"Ensure this value is less than {limit}."
    if rule == "pattern":
        return f"Enter a value in the form {limit}."
    if rule == "enum" and isinstance(limit, list):
        return "Select one of: " + ", ".join(repr(v) for v in limit) + "."
    if rule == "type" and isinstance(limit, str) and limit in _TYPE_WORDS:
        return f"Enter {_TYPE_WORDS[limit]}."
    if rule == "minItems":
        return f"Choose at least {limit}."
    if rule == "maxItems":
        return f"Choose at most {limit}."
    return str(error.message)


def unfill_form_schema(schema: Any) -> Any:
    """The inverse of `fill_form_schema`: the editor's rows (empty values already
    pruned) back to a JSON Schema. No rows is "no schema" ({}), not an empty object
    schema stored and exported. Raises EditorInvalid for a row without a key or a key
    used twice."""
    if isinstance(schema, dict):  # posted as JSON: an empty object schema is still "no schema"
        empty = not schema.get("properties") and not schema.get("required")
        plain = set(schema) <= {"type", "properties", "required"} and schema.get("type", "object") == "object"
        return {} if empty and plain else schema
    if not isinstance(schema, list):
        return schema
    properties: dict[str, Any] = {}
    required: list[str] = []
    for row in schema:
        spec = dict(row) if isinstance(row, dict) else {}
        key = str(spec.pop("key", "") or "").strip()
        if not key:
            raise EditorInvalid("Each field needs a key (its name in the data).")
        if key in properties:
            raise EditorInvalid(f"Two fields have the key '{key}'.")
        if spec.pop("required", False) is True:
            required.append(key)
        properties[key] = spec
    if not properties:
        return {}
    return {"type": "object", "properties": properties, **({"required": required} if required else {})}


def field_path(json_path: str) -> str:
    """ "$.items[0].name" -> "items.0.name" (the form's field paths; "" for the whole)."""
    return re.sub(r"\[(\d+)\]", r".\1", json_path).removeprefix("$").removeprefix(".")


# The `assign` rule of a FORM task (workflows.assignment checks it). Every key is shown
# (filled with "" by `fill_assign`) and empty ones are pruned on save.
ASSIGN_KEYS = ("rule", "role", "email", "task", "expr")
ASSIGN_EDITOR: dict[str, Any] = {
    "type": "object",
    "title": "Who does it",
    "keys": {
        "rule": {
            "type": "string",
            "choices": [
                {"title": "(default: least loaded task worker)", "value": ""},
                {"title": "Least loaded (optionally of a role)", "value": "least_loaded"},
                {"title": "Queue: members of a role claim it", "value": "queue"},
                {"title": "The ticket's submitter", "value": "submitter"},
                {"title": "A named user (email)", "value": "user"},
                {"title": "Whoever completed an earlier task", "value": "same_as"},
                {"title": "Expression giving an email", "value": "expression"},
            ],
        },
        "role": {"type": "string", "helpText": "Company role name (least loaded, queue)."},
        "email": {"type": "string", "helpText": "A user of the company (named user)."},
        "task": {"type": "string", "helpText": "Key of an earlier FORM task (same as)."},
        "expr": {"type": "string", "helpText": "JMESPath over {ticket, tasks} (expression)."},
    },
}


def fill_assign(value: Any) -> dict[str, Any]:
    value = value if isinstance(value, dict) else {}
    return {key: value.get(key, "") for key in ASSIGN_KEYS}
