from django.test import SimpleTestCase

from tickets.forms import PREFIX, SchemaForm, TicketForm
from tickets.selectors import display_value, labelled_data

SCHEMA = {
    "type": "object",
    "properties": {
        "laptop": {"type": "boolean", "title": "Needs a laptop", "description": "Tick if they need one."},
        "decision": {
            "type": "string",
            "title": "Decision",
            "enum": ["approve", "reject"],
            "enumNames": ["Approve it", "Reject it"],
        },
        "size": {
            "title": "Size",
            "oneOf": [{"const": 1, "title": "Small"}, {"const": 2, "title": "Large"}],
        },
        "start": {"type": "string", "format": "date", "title": "Start date"},
        "amount": {"type": "number", "title": "Amount"},
        "notes": {"type": "string"},
    },
    "required": ["laptop", "decision"],
}


def post(**values: str) -> dict[str, str]:
    return {PREFIX + k: v for k, v in values.items()}


class SchemaFormTests(SimpleTestCase):
    def test_required_yes_no_answered_no_is_false(self) -> None:
        form = SchemaForm(post(laptop="false", decision="reject"), schema=SCHEMA, label="Answer")
        self.assertTrue(form.is_valid(), form.errors)
        self.assertEqual(form.cleaned_data["data"], {"laptop": False, "decision": "reject"})

    def test_required_yes_no_left_alone_is_required(self) -> None:
        form = SchemaForm(post(decision="approve"), schema=SCHEMA, label="Answer")
        self.assertFalse(form.is_valid())
        self.assertEqual(form.errors[PREFIX + "laptop"], ["This field is required."])

    def test_enum_titles_labels_and_help_texts(self) -> None:
        form = SchemaForm(schema=SCHEMA, label="Answer")
        decision = form.fields[PREFIX + "decision"]
        self.assertEqual(list(decision.choices), [("approve", "Approve it"), ("reject", "Reject it")])  # type: ignore[attr-defined]
        size = form.fields[PREFIX + "size"]
        self.assertEqual(list(size.choices), [("1", "Small"), ("2", "Large")])  # type: ignore[attr-defined]
        self.assertEqual(form.fields[PREFIX + "laptop"].label, "Needs a laptop")
        self.assertEqual(form.fields[PREFIX + "laptop"].help_text, "Tick if they need one.")
        self.assertEqual(form.fields[PREFIX + "notes"].label, "Notes")
        html = form.as_p()
        self.assertIn("Yes", html)
        self.assertIn("No", html)

    def test_values_keep_their_json_types(self) -> None:
        form = SchemaForm(
            post(laptop="true", decision="approve", size="2", start="2026-12-01", amount="12", notes=" "),
            schema=SCHEMA,
            label="Answer",
        )
        self.assertTrue(form.is_valid(), form.errors)
        self.assertEqual(
            form.cleaned_data["data"],
            {"laptop": True, "decision": "approve", "size": 2, "start": "2026-12-01", "amount": 12},
        )

    def test_a_choice_outside_the_enum_is_a_field_error(self) -> None:
        form = SchemaForm(post(laptop="maybe", decision="burn"), schema=SCHEMA, label="Answer")
        self.assertFalse(form.is_valid())
        self.assertIn(PREFIX + "laptop", form.errors)
        self.assertIn(PREFIX + "decision", form.errors)

    def test_server_errors_land_once_under_their_field(self) -> None:
        form = SchemaForm(post(laptop="true", decision="approve"), schema=SCHEMA, label="Answer")
        self.assertTrue(form.is_valid())
        form.add_field_errors({"notes": ["Too short.", "Too short."], "": ["Whole object wrong."]})
        self.assertEqual(form.errors[PREFIX + "notes"], ["Too short."])
        self.assertEqual(form.non_field_errors(), ["Whole object wrong."])

    def test_nested_schema_falls_back_to_the_json_editor(self) -> None:
        nested = {"type": "object", "properties": {"items": {"type": "array", "items": {"type": "object"}}}}
        form = SchemaForm(schema=nested, label="Answer")
        self.assertEqual(list(form.fields), ["data"])

    def test_no_questions(self) -> None:
        self.assertFalse(SchemaForm(schema={}, label="Answer").has_questions)
        self.assertTrue(SchemaForm(schema=SCHEMA, label="Answer").has_questions)

    def test_ticket_form_has_no_wrapper_label(self) -> None:
        # "Details" appeared twice: once for the wrapper, once for the field.
        schema = {"type": "object", "properties": {"details": {"type": "string", "title": "Details"}}}
        html = TicketForm(schema=schema, label="Details").as_p()
        self.assertEqual(html.count(">Details"), 1)


class DisplayTests(SimpleTestCase):
    def test_values_read_as_words(self) -> None:
        self.assertEqual(display_value(True), "Yes")
        self.assertEqual(display_value(False), "No")
        self.assertEqual(display_value(None), "—")
        self.assertEqual(display_value(["a", "b"]), "a, b")
        self.assertEqual(display_value("approve", SCHEMA["properties"]["decision"]), "Approve it")  # type: ignore[index]

    def test_labelled_data_uses_titles(self) -> None:
        rows = labelled_data(SCHEMA, {"laptop": True, "decision": "reject", "extra_key": 3})
        self.assertEqual(rows, [("Needs a laptop", "Yes"), ("Decision", "Reject it"), ("Extra key", "3")])
