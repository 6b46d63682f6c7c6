"""Issue 9, Deliver 4: the CSV/JSON import of definitions refuses what PostgreSQL cannot
store (NUL, NaN/Infinity, numbers out of range, lone surrogates, nesting too deep,
non-UTF-8) with a form error naming the row, the column and the JSON path, and writes
no row."""

import json

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django_scopes import scopes_disabled

from tickets.models import TicketType
from tickets.tests.test_admin import BackOfficeTestCase
from workflows.jsonsafe import MAX_DEPTH
from workflows.models import TaskDefinition, Transition, WorkflowDefinition

TASKS = "workflows_taskdefinition"
TRANSITIONS = "workflows_transition"
DEEP = "[" * 1000 + "]" * 1000


class ImportRefusesBadJsonTests(BackOfficeTestCase):
    def setUp(self) -> None:
        self.client.force_login(self.creator)
        self.before = self.counts()

    def counts(self) -> tuple[int, ...]:
        with scopes_disabled():
            return (
                WorkflowDefinition.objects.count(),
                TaskDefinition.objects.count(),
                Transition.objects.count(),
                TicketType.objects.count(),
            )

    def format_index(self, model: str, name: str) -> str:
        form = self.client.get(reverse(f"admin:{model}_import")).context["form"]
        (index,) = [value for value, label in form.fields["format"].choices if str(label).lower() == name]
        return str(index)

    def refused(self, model: str, body: bytes, *, fmt: str, says: str) -> None:
        response = self.client.post(
            reverse(f"admin:{model}_import"),
            {
                "format": self.format_index(model, fmt),
                "resource": "0",
                "import_file": SimpleUploadedFile(f"rows.{fmt}", body),
            },
        )
        self.assertEqual(response.status_code, 200)
        errors = response.context["form"].errors.get("import_file", [])
        self.assertTrue(any(says in e for e in errors), f"{says!r} not in the form errors {errors}")
        self.assertContains(response, says.replace("'", "&#x27;"))
        self.assertNotIn("confirm_form", response.context)
        self.assertEqual(self.counts(), self.before)
        with scopes_disabled():
            self.assertEqual(sorted(self.wf.tasks.values_list("key", flat=True)), ["a", "b"])
            self.assertEqual(self.wf.transitions.get().priority, 0)

    def csv_task(self, title: str, input_transform: str) -> bytes:
        cell = '"' + input_transform.replace('"', '""') + '"'
        return f"workflow,key,title,task_type,input_transform\nflow,c,{title},FORM,{cell}\n".encode()

    def json_rows(self, raw: str) -> bytes:
        return raw.encode()

    # CSV

    def test_csv_nul_in_a_text_cell(self) -> None:
        self.refused(TASKS, self.csv_task("Bad\x00title", "{}"), fmt="csv", says="Row 1, column 'title'")

    def test_csv_nan_in_a_json_cell(self) -> None:
        self.refused(TASKS, self.csv_task("T", '{"x": NaN}'), fmt="csv", says="NaN is not a JSON number")

    def test_csv_infinity_in_a_json_cell(self) -> None:
        self.refused(
            TASKS, self.csv_task("T", '{"x": -Infinity}'), fmt="csv", says="-Infinity is not a JSON number"
        )

    def test_csv_number_overflowing_to_infinity(self) -> None:
        self.refused(TASKS, self.csv_task("T", '{"x": 1e400}'), fmt="csv", says="$.x: Number out of range")

    def test_csv_integer_out_of_the_columns_range(self) -> None:
        body = f"workflow,from_task,to_task,condition,priority\nflow,a,b,,{2**63}\n".encode()
        self.refused(TRANSITIONS, body, fmt="csv", says="Row 1, column 'priority': out of range")

    def test_csv_lone_surrogate_in_a_json_cell(self) -> None:
        self.refused(TASKS, self.csv_task("T", '{"x": "\\ud800"}'), fmt="csv", says="lone surrogate")

    def test_csv_nesting_too_deep(self) -> None:
        self.refused(TASKS, self.csv_task("T", DEEP), fmt="csv", says=f"Nested deeper than {MAX_DEPTH}")

    def test_csv_not_utf8(self) -> None:
        self.refused(TASKS, self.csv_task("T", "{}").replace(b"T,", b"\xff,"), fmt="csv", says="Not UTF-8")

    # JSON

    def test_json_nul(self) -> None:
        raw = '[{"workflow": "flow", "key": "c", "title": "Bad\\u0000", "task_type": "FORM"}]'
        self.refused(TASKS, self.json_rows(raw), fmt="json", says="NUL character")

    def test_json_nan(self) -> None:
        raw = '[{"workflow": "flow", "key": "c", "title": "T", "input_transform": {"x": NaN}}]'
        self.refused(TASKS, self.json_rows(raw), fmt="json", says="NaN is not a JSON number")

    def test_json_infinity(self) -> None:
        raw = '[{"workflow": "flow", "key": "c", "title": "T", "input_transform": {"x": Infinity}}]'
        self.refused(TASKS, self.json_rows(raw), fmt="json", says="Infinity is not a JSON number")

    def test_json_number_overflowing_to_infinity(self) -> None:
        raw = '[{"workflow": "flow", "key": "c", "title": "T", "input_transform": {"x": 1e400}}]'
        self.refused(TASKS, self.json_rows(raw), fmt="json", says="Number out of range")

    def test_json_integer_out_of_64_bits(self) -> None:
        raw = json.dumps([{"workflow": "flow", "from_task": "a", "to_task": "b", "priority": 2**63}])
        self.refused(TRANSITIONS, self.json_rows(raw), fmt="json", says="Integer out of range")

    def test_json_integer_out_of_the_columns_range(self) -> None:
        raw = json.dumps([{"workflow": "flow", "from_task": "a", "to_task": "b", "priority": 2**40}])
        self.refused(
            TRANSITIONS, self.json_rows(raw), fmt="json", says="Row 1, column 'priority': out of range"
        )

    def test_json_lone_surrogate(self) -> None:
        raw = '[{"workflow": "flow", "key": "c", "title": "\\udc00"}]'
        self.refused(TASKS, self.json_rows(raw), fmt="json", says="lone surrogate")

    def test_json_nesting_too_deep(self) -> None:
        raw = '[{"workflow": "flow", "key": "c", "title": "T", "input_transform": ' + DEEP + "}]"
        self.refused(TASKS, self.json_rows(raw), fmt="json", says=f"Nested deeper than {MAX_DEPTH}")

    def test_json_nesting_too_deep_inside_a_string_cell(self) -> None:
        raw = json.dumps([{"workflow": "flow", "key": "c", "title": "T", "input_transform": DEEP}])
        self.refused(TASKS, self.json_rows(raw), fmt="json", says=f"Nested deeper than {MAX_DEPTH}")

    def test_a_clean_file_still_imports(self) -> None:
        body = self.csv_task("Third", '{"x": "ticket.title"}')
        response = self.client.post(
            reverse(f"admin:{TASKS}_import"),
            {
                "format": self.format_index(TASKS, "csv"),
                "resource": "0",
                "import_file": SimpleUploadedFile("r.csv", body),
            },
        )
        self.assertIn("confirm_form", response.context, response.context["form"].errors)
        self.client.post(
            reverse(f"admin:{TASKS}_process_import"), response.context["confirm_form"].initial, follow=True
        )
        with scopes_disabled():
            self.assertEqual(self.wf.tasks.get(key="c").input_transform, {"x": "ticket.title"})
