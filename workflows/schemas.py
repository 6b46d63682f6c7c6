"""JSON Schemas for the JSON columns whose shape is known. Used by the django-jsonform
widgets in the admin and by server-side validation (bundles, forms)."""

from typing import Any

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

# A transform maps output keys to JMESPath expressions.
TRANSFORM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Transform (key -> JMESPath)",
    "additionalProperties": {"type": "string", "minLength": 1},
}

# An editor for the JSON Schemas of forms (ticket fields, task input/output): the
# subset the product's forms use. Empty values the widget fills in are pruned on save.
_PROPERTY_EDITOR: dict[str, Any] = {
    "type": "object",
    "keys": {
        "type": {"type": "string", "choices": ["string", "number", "integer", "boolean", "array", "object"]},
        "title": {"type": "string"},
        "description": {"type": "string"},
        "enum": {"type": "array", "items": {"type": "string"}},
        "format": {"type": "string", "choices": ["", "date", "date-time", "email", "uri"]},
        "minLength": {"type": "integer"},
        "maxLength": {"type": "integer"},
        "minimum": {"type": "number"},
        "maximum": {"type": "number"},
        "widget": {"type": "string", "choices": ["", "textarea"]},
    },
}
JSON_SCHEMA_EDITOR: dict[str, Any] = {
    "type": "object",
    "title": "Form schema",
    "keys": {
        "type": {"type": "string", "choices": ["object"], "default": "object"},
        "properties": {
            "type": "object",
            "title": "Fields",
            "keys": {},
            "additionalProperties": _PROPERTY_EDITOR,
        },
        "required": {"type": "array", "title": "Required fields", "items": {"type": "string"}},
    },
}
