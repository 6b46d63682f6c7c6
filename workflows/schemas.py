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

# Form and ticket field schemas are themselves JSON Schemas (type object).
OBJECT_SCHEMA_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "JSON Schema",
    "additionalProperties": True,
}
