import copy
import json
import tempfile
from io import StringIO
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import CommandError, call_command
from django.test import TestCase
from django_scopes import scopes_disabled

from accounts.models import CompanyRole
from accounts.tenancy import company_scope
from project.testing import make_company, make_workflow
from tickets.bundles import BundleInvalid, export_bundle, import_bundle, validate
from tickets.models import TicketType
from workflows.models import TaskDefinition, Transition, WorkflowDefinition

SAMPLES = Path(settings.BASE_DIR) / "fixtures" / "bundles"


def base() -> dict[str, Any]:
    return {
        "format": 1,
        "company_roles": [{"name": "Staff"}],
        "workflows": [
            {
                "key": "wf",
                "title": "Flow",
                "tasks": [
                    {"key": "a", "title": "A", "type": "FORM", "start": True},
                    {
                        "key": "b",
                        "title": "B",
                        "type": "SYNC_ACTION",
                        "action_url": "https://example.com/hook",
                    },
                ],
                "transitions": [{"from": "a", "to": "b"}],
            }
        ],
        "ticket_types": [{"key": "tt", "title": "Type", "workflow": "wf", "company_roles": ["Staff"]}],
    }


def mutate(fn: Any) -> dict[str, Any]:
    bundle = base()
    fn(bundle)
    return bundle


WF = lambda b: b["workflows"][0]  # noqa: E731
TASKS = lambda b: b["workflows"][0]["tasks"]  # noqa: E731

# (name, mutation, expected path, expected message fragment)
INVALID: list[tuple[str, Any, str, str]] = [
    ("no format", lambda b: b.pop("format"), "$", "'format' is a required property"),
    ("wrong format", lambda b: b.update(format=2), "$.format", "1 was expected"),
    ("unknown top-level key", lambda b: b.update(extra=1), "$", "Additional properties are not allowed"),
    ("workflows not a list", lambda b: b.update(workflows={}), "$.workflows", "is not of type 'array'"),
    (
        "task type wrong",
        lambda b: TASKS(b)[0].update(type="MANUAL"),
        "$.workflows[0].tasks[0].type",
        "is not one of",
    ),
    ("title wrong type", lambda b: WF(b).update(title=5), "$.workflows[0].title", "is not of type 'string'"),
    ("bad key characters", lambda b: WF(b).update(key="has space"), "$.workflows[0].key", "does not match"),
    (
        "priority wrong type",
        lambda b: WF(b)["transitions"][0].update(priority="high"),
        "$.workflows[0].transitions[0].priority",
        "is not of type 'integer'",
    ),
    ("empty tasks", lambda b: WF(b).update(tasks=[]), "$.workflows[0].tasks", "should be non-empty"),
    (
        "timeout too large",
        lambda b: TASKS(b)[1].update(timeout_seconds=100000),
        "$.workflows[0].tasks[1].timeout_seconds",
        "is greater than the maximum",
    ),
    (
        "ext_ref bad uri",
        lambda b: WF(b).update(ext_ref=[{"label": "x", "uri": "ftp://x"}]),
        "$.workflows[0].ext_ref[0].uri",
        "does not match",
    ),
    (
        "unknown task key from",
        lambda b: WF(b)["transitions"].append({"from": "zz", "to": "b"}),
        "$.workflows[0].transitions[1].from",
        "Unknown task key 'zz'",
    ),
    (
        "unknown task key to",
        lambda b: WF(b)["transitions"].append({"from": "a", "to": "nope", "condition": "x"}),
        "$.workflows[0].transitions[1].to",
        "Unknown task key 'nope'",
    ),
    ("missing start", lambda b: TASKS(b)[0].pop("start"), "$.workflows[0].tasks", "No start task"),
    (
        "two starts",
        lambda b: TASKS(b)[1].update(start=True),
        "$.workflows[0].tasks",
        "More than one start task: a, b",
    ),
    (
        "two defaults",
        lambda b: (
            TASKS(b).append({"key": "c", "title": "C", "type": "FORM"}),
            WF(b)["transitions"].append({"from": "a", "to": "c"}),
        ),
        "$.workflows[0].transitions[1]",
        "Two default transitions",
    ),
    (
        "bad JMESPath condition",
        lambda b: WF(b)["transitions"][0].update(condition="output.["),
        "$.workflows[0].transitions[0].condition",
        "Invalid JMESPath 'output.['",
    ),
    (
        "bad JMESPath transform",
        lambda b: TASKS(b)[1].update(input_transform={"x": "ticket..a"}),
        "$.workflows[0].tasks[1].input_transform.x",
        "Invalid JMESPath",
    ),
    (
        "bad output schema",
        lambda b: TASKS(b)[0].update(output_schema={"type": "nonsense"}),
        "$.workflows[0].tasks[0].output_schema",
        "Invalid JSON Schema",
    ),
    (
        "bad fields schema",
        lambda b: b["ticket_types"][0].update(fields={"type": "object", "required": "title"}),
        "$.ticket_types[0].fields",
        "Invalid JSON Schema",
    ),
    (
        "fields not an object schema",
        lambda b: b["ticket_types"][0].update(fields={"type": "array"}),
        "$.ticket_types[0].fields.type",
        "must have type 'object'",
    ),
    (
        "non-http action url",
        lambda b: TASKS(b)[1].update(action_url="ftp://example.com/x"),
        "$.workflows[0].tasks[1].action_url",
        "absolute http(s) URL",
    ),
    (
        "relative action url",
        lambda b: TASKS(b)[1].update(action_url="/hook"),
        "$.workflows[0].tasks[1].action_url",
        "absolute http(s) URL",
    ),
    (
        "action without url",
        lambda b: TASKS(b)[1].pop("action_url"),
        "$.workflows[0].tasks[1].action_url",
        "needs an action URL",
    ),
    (
        "form with url",
        lambda b: TASKS(b)[0].update(action_url="https://x.test"),
        "$.workflows[0].tasks[0].action_url",
        "A FORM task has no action URL",
    ),
    (
        "duplicate task key",
        lambda b: TASKS(b).append({"key": "a", "title": "A2", "type": "FORM"}),
        "$.workflows[0].tasks[2].key",
        "Duplicate task key 'a'",
    ),
    (
        "duplicate workflow key",
        lambda b: b["workflows"].append(copy.deepcopy(WF(b))),
        "$.workflows[1].key",
        "Duplicate workflow key 'wf'",
    ),
    (
        "duplicate ticket type key",
        lambda b: b["ticket_types"].append(dict(b["ticket_types"][0])),
        "$.ticket_types[1].key",
        "Duplicate ticket type key 'tt'",
    ),
    (
        "duplicate role",
        lambda b: b["company_roles"].append({"name": "Staff"}),
        "$.company_roles[1].name",
        "Duplicate company role 'Staff'",
    ),
    (
        "unknown company role",
        lambda b: b["ticket_types"][0].update(company_roles=["Ghosts"]),
        "$.ticket_types[0].company_roles[0]",
        "Unknown company role 'Ghosts'",
    ),
    (
        "unknown workflow",
        lambda b: b["ticket_types"][0].update(workflow="nope"),
        "$.ticket_types[0].workflow",
        "Unknown workflow 'nope'",
    ),
    (
        "transform value not a string",
        lambda b: TASKS(b)[1].update(output_transform={"x": 1}),
        "$.workflows[0].tasks[1].output_transform.x",
        "is not of type 'string'",
    ),
]


class ValidatorTests(TestCase):
    def test_base_and_samples_are_valid(self) -> None:
        self.assertEqual(validate(base()), [])
        for path in SAMPLES.glob("*.json"):
            with self.subTest(sample=path.name):
                self.assertEqual(validate(json.loads(path.read_text())), [])

    def test_invalid_bundles_report_path_and_message_and_write_nothing(self) -> None:
        self.assertGreaterEqual(len(INVALID), 25)
        company = make_company()
        for name, fn, path, message in INVALID:
            with self.subTest(name):
                bundle = mutate(fn)
                problems = validate(bundle)
                self.assertTrue(
                    any(p.path == path and message in p.message for p in problems),
                    f"expected {path}: {message}; got {[str(p) for p in problems]}",
                )
                with company_scope(company), self.assertRaises(BundleInvalid):
                    import_bundle(company=company, bundle=bundle)
        with scopes_disabled():
            for model in (WorkflowDefinition, TaskDefinition, Transition, TicketType, CompanyRole):
                self.assertEqual(model.objects.filter(company=company).count(), 0, model)


class ImportExportTests(TestCase):
    def test_round_trip_of_every_sample(self) -> None:
        for path in SAMPLES.glob("*.json"):
            with self.subTest(sample=path.name):
                company = make_company()
                bundle = json.loads(path.read_text())
                with company_scope(company):
                    import_bundle(company=company, bundle=bundle)
                    exported = export_bundle(company=company)
                    self.assertEqual(exported, bundle)
                    # Re-importing the export changes nothing.
                    import_bundle(company=company, bundle=exported)
                    self.assertEqual(export_bundle(company=company), bundle)

    def test_import_updates_by_key_and_is_all_or_nothing(self) -> None:
        company = make_company()
        with company_scope(company):
            import_bundle(company=company, bundle=base())
            changed = base()
            WF(changed)["title"] = "Renamed"
            changed["ticket_types"][0]["workflow"] = "missing"
            with self.assertRaises(BundleInvalid):
                import_bundle(company=company, bundle=changed)
            self.assertEqual(WorkflowDefinition.objects.get(key="wf").title, "Flow")
            good = base()
            WF(good)["title"] = "Renamed"
            report = import_bundle(company=company, bundle=good)
            self.assertEqual(report.updated["workflows"], 1)
            self.assertEqual(WorkflowDefinition.objects.get(key="wf").title, "Renamed")
            self.assertEqual(TaskDefinition.objects.filter(workflow__key="wf").count(), 2)

    def test_companies_are_isolated(self) -> None:
        one, two = make_company(), make_company()
        make_workflow(two, [{"key": "secret"}], key="theirs")
        with company_scope(one):
            # A bundle naming another company's workflow cannot use it.
            bundle = base()
            bundle["ticket_types"][0]["workflow"] = "theirs"
            with self.assertRaises(BundleInvalid) as ctx:
                import_bundle(company=one, bundle=bundle)
            self.assertIn("Unknown workflow 'theirs'", str(ctx.exception))
            # Exporting another company's workflow: unknown here.
            with self.assertRaises(BundleInvalid):
                export_bundle(company=one, workflow_keys=["theirs"])
            import_bundle(company=one, bundle=base())
        with company_scope(two):
            self.assertEqual(export_bundle(company=two)["workflows"][0]["key"], "theirs")
            self.assertFalse(WorkflowDefinition.objects.filter(key="wf").exists())


class CommandTests(TestCase):
    def write(self, data: Any) -> str:
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
            handle.write(data if isinstance(data, str) else json.dumps(data))
        self.addCleanup(Path(handle.name).unlink)
        return handle.name

    def test_validate_import_export(self) -> None:
        company = make_company("Cmd Co")
        good = self.write(base())
        out = StringIO()
        call_command("validate_bundle", good, stdout=out)
        self.assertIn("valid", out.getvalue())
        bad = self.write(mutate(lambda b: TASKS(b)[0].pop("start")))
        err = StringIO()
        with self.assertRaises(CommandError):
            call_command("validate_bundle", bad, stderr=err)
        self.assertIn("$.workflows[0].tasks: No start task", err.getvalue())
        with self.assertRaises(CommandError):
            call_command("validate_bundle", self.write("{not json"), stderr=StringIO())
        call_command("import_bundle", good, company="Cmd Co", stdout=StringIO())
        out = StringIO()
        call_command("export_bundle", company=str(company.pk), workflows=["wf"], stdout=out)
        self.assertEqual(json.loads(out.getvalue()), base())
        with self.assertRaises(CommandError):
            call_command("import_bundle", good, company="No Such Co", stdout=StringIO())

    def test_import_command_prints_the_lints_it_let_through(self) -> None:
        make_company("Lint Co")
        linted = self.write(
            mutate(lambda b: TASKS(b).append({"key": "orphan", "title": "O", "type": "FORM"}))
        )
        out, err = StringIO(), StringIO()
        call_command("import_bundle", linted, company="Lint Co", stdout=out, stderr=err)
        self.assertIn("Imported into Lint Co", out.getvalue())
        self.assertIn("warning: $.workflows[0].tasks[2]", err.getvalue())
        self.assertIn("'orphan' cannot be reached", err.getvalue())
