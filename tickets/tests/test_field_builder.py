"""The field builder and the transform editor list named rows (the name is an input of
the row), so adding one needs no prompt(); the rows become the stored JSON again."""

from django.test import SimpleTestCase

from tickets.forms import SchemaField, prune_empty
from workflows.schemas import (
    JSON_SCHEMA_EDITOR,
    TRANSFORM_SCHEMA,
    EditorInvalid,
    fill_form_schema,
    fill_transform,
    fits_form_schema_editor,
    unfill_form_schema,
    unfill_transform,
)

SCHEMA = {
    "type": "object",
    "properties": {
        "model": {"type": "string", "title": "Model", "enum": ["a", "b"]},
        "count": {"type": "integer", "minimum": 1},
    },
    "required": ["count"],
}


class FieldBuilderTests(SimpleTestCase):
    def test_rows_round_trip_in_order_with_required(self) -> None:
        rows = fill_form_schema(SCHEMA)
        self.assertEqual([(r["key"], r["required"]) for r in rows], [("model", False), ("count", True)])
        self.assertEqual(unfill_form_schema(prune_empty(rows)), SCHEMA)
        # Rows posted back (a page shown again with errors) are completed, not re-read as a schema.
        self.assertEqual(fill_form_schema(prune_empty(rows)), rows)

    def test_no_rows_is_no_schema_and_bad_rows_are_refused(self) -> None:
        self.assertEqual(unfill_form_schema([]), {})
        with self.assertRaisesMessage(EditorInvalid, "Each field needs a key"):
            unfill_form_schema([{"type": "string", "required": True}])
        with self.assertRaisesMessage(EditorInvalid, "Two fields have the key 'a'"):
            unfill_form_schema([{"key": "a"}, {"key": " a "}])

    def test_required_names_outside_the_fields_are_edited_as_json(self) -> None:
        self.assertFalse(fits_form_schema_editor({"type": "object", "properties": {}, "required": ["x"]}))
        self.assertTrue(fits_form_schema_editor(SCHEMA))

    def test_form_field_turns_editor_errors_into_form_errors(self) -> None:
        field = SchemaField(
            schema=JSON_SCHEMA_EDITOR,
            required=False,
            prune_empty=True,
            fill=fill_form_schema,
            unfill=unfill_form_schema,
        )
        self.assertEqual(
            field.clean('[{"key": "a", "type": "string", "title": ""}]'),
            {"type": "object", "properties": {"a": {"type": "string"}}},
        )
        with self.assertRaisesMessage(Exception, "Each field needs a key"):
            field.clean('[{"key": "", "type": "string"}]')

    def test_transform_rows(self) -> None:
        self.assertEqual(
            fill_transform({"who": "ticket.title"}), [{"key": "who", "expression": "ticket.title"}]
        )
        self.assertEqual(
            unfill_transform([{"key": "who", "expression": "ticket.title"}]), {"who": "ticket.title"}
        )
        with self.assertRaisesMessage(EditorInvalid, "needs an expression"):
            unfill_transform([{"key": "who"}])
        with self.assertRaisesMessage(EditorInvalid, "Two rows"):
            unfill_transform([{"key": "w", "expression": "a"}, {"key": "w", "expression": "b"}])
        field = SchemaField(
            schema=TRANSFORM_SCHEMA,
            required=False,
            prune_empty=True,
            fill=fill_transform,
            unfill=unfill_transform,
        )
        self.assertEqual(field.clean("[]"), {})
