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


LIMITED = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "title": "Name", "minLength": 3, "maxLength": 10},
        "code": {"type": "string", "title": "Code", "pattern": "^[A-Z]{2}[0-9]+$"},
        "reason": {"type": "string", "title": "Reason"},
    },
    "required": ["reason"],
}


class OneRoundOfErrorsTests(SimpleTestCase):
    """Every problem a flat form can show is shown on the first submit, in words a person
    reads, not in two rounds (the form's, then the schema's) with jsonschema's wording."""

    def test_all_field_problems_come_in_one_round(self) -> None:
        form = SchemaForm(post(name="ab", code="x1"), schema=LIMITED, label="Answer")
        self.assertFalse(form.is_valid())
        self.assertEqual(form.errors[PREFIX + "reason"], ["This field is required."])
        self.assertEqual(
            form.errors[PREFIX + "name"], ["Ensure this value has at least 3 characters (it has 2)."]
        )
        self.assertEqual(form.errors[PREFIX + "code"], ["Enter a value in the form ^[A-Z]{2}[0-9]+$."])

    def test_a_too_long_value_is_refused_by_the_form(self) -> None:
        form = SchemaForm(post(name="a" * 11, reason="r"), schema=LIMITED, label="Answer")
        self.assertFalse(form.is_valid())
        self.assertEqual(
            form.errors[PREFIX + "name"], ["Ensure this value has at most 10 characters (it has 11)."]
        )

    def test_a_valid_answer_passes(self) -> None:
        form = SchemaForm(post(name="abc", code="AB12", reason="r"), schema=LIMITED, label="Answer")
        self.assertTrue(form.is_valid(), form.errors)


class SchemaMessageTests(SimpleTestCase):
    """The service's messages (API, MCP, JSON editor) read as sentences too."""

    def test_messages_read_as_sentences(self) -> None:
        from workflows.schemas import schema_errors

        schema = {
            "type": "object",
            "properties": {
                "name": {"type": "string", "minLength": 3},
                "n": {"type": "integer", "minimum": 1, "maximum": 5},
                "m": {"type": "integer", "maximum": 5},
                "kind": {"enum": ["a", "b"]},
                "flag": {"type": "boolean"},
            },
        }
        errors = schema_errors(
            schema, {"name": "ab", "n": 0, "m": 9, "kind": "c", "flag": "yes"}, what="Data"
        )
        self.assertEqual(errors["name"], ["Ensure this value has at least 3 characters (it has 2)."])
        self.assertEqual(errors["n"], ["Ensure this value is greater than or equal to 1."])
        self.assertEqual(errors["m"], ["Ensure this value is less than or equal to 5."])
        self.assertEqual(errors["kind"], ["Select one of: 'a', 'b'."])
        self.assertEqual(errors["flag"], ["Enter true or false (a boolean)."])
