"""Bundle entry points (admin upload, import_bundle and validate_bundle commands) never
answer 500 or a traceback: every problem is reported with its JSON path, nothing is
written, one size limit, non-UTF-8 refused. One test per case and entry point."""

import json
import tempfile
from collections.abc import Callable
from io import StringIO
from pathlib import Path
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import TestCase
from django.urls import reverse
from django_scopes import scopes_disabled

from accounts.roles import SystemRole
from project.testing import make_company, make_user
from tickets.bundles import MAX_BUNDLE_BYTES
from tickets.models import TicketType
from tickets.tests.test_bundles import base
from workflows.jsonsafe import MAX_DEPTH
from workflows.models import TaskDefinition, Transition, WorkflowDefinition


def edited(fn: Callable[[dict[str, Any]], Any]) -> bytes:
    bundle = base()
    fn(bundle)
    return json.dumps(bundle).encode()


def with_text(replace: str, by: str) -> bytes:
    raw = json.dumps(base())
    assert replace in raw
    return raw.replace(replace, by, 1).encode()


WF = "$.workflows[0]"
# name -> (file bytes, JSON path of the problem, message fragment)
BAD_BUNDLES: dict[str, tuple[bytes, str, str]] = {
    "workflows_as_object": (
        edited(lambda b: b.update(workflows={"key": "wf"})),
        "$.workflows",
        "not of type 'array'",
    ),
    "workflow_without_key": (
        edited(lambda b: b["workflows"][0].pop("key")),
        WF,
        "'key' is a required property",
    ),
    "workflow_without_tasks": (edited(lambda b: b["workflows"][0].pop("tasks")), WF, "'tasks' is a required"),
    "tasks_as_object": (
        edited(lambda b: b["workflows"][0].update(tasks={})),
        f"{WF}.tasks",
        "not of type 'array'",
    ),
    "nul_in_title": (
        edited(lambda b: b["workflows"][0].update(title="A\x00B")),
        f"{WF}.title",
        "NUL character",
    ),
    "lone_surrogate_in_title": (with_text('"Flow"', '"\\ud800"'), f"{WF}.title", "lone surrogate"),
    "priority_2_63": (
        edited(lambda b: b["workflows"][0]["transitions"][0].update(priority=2**63)),
        f"{WF}.transitions[0].priority",
        "Integer out of range",
    ),
    "priority_beyond_the_column": (
        edited(lambda b: b["workflows"][0]["transitions"][0].update(priority=2**31)),
        f"{WF}.transitions[0].priority",
        "is greater than the maximum",
    ),
    "version_nan": (with_text('"format": 1', '"format": 1, "x": NaN'), "$", "NaN is not a JSON number"),
    "infinity": (with_text('"format": 1', '"format": Infinity'), "$", "Infinity is not a JSON number"),
    "overflowing_number": (with_text('"format": 1', '"format": 1e400'), "$.format", "Number out of range"),
    "nested_1000": (
        with_text('"format": 1', '"format": 1, "x": ' + "[" * 1000 + "]" * 1000),
        "$.x" + "[0]" * (MAX_DEPTH - 1),
        f"Nested deeper than {MAX_DEPTH}",
    ),
    "nested_100000": (
        with_text('"format": 1', '"format": 1, "x": ' + "[" * 100_000 + "]" * 100_000),
        "$",
        f"Nested deeper than {MAX_DEPTH}",
    ),
    "not_utf8": (with_text('"Flow"', '"Fl\xffow"').decode().encode("latin-1"), "$", "not UTF-8"),
    "not_json": (b"{not json", "$", "Not valid JSON"),
    "top_level_array": (b"[]", "$", "A bundle is a JSON object"),
    "too_large": (
        with_text('"format": 1', '"format": 1, "pad": "' + "x" * MAX_BUNDLE_BYTES + '"'),
        "$",
        "larger than 2 MiB",
    ),
}


def per_case[C](check: str) -> Callable[[C], C]:
    def decorate(cls: C) -> C:
        for name, args in BAD_BUNDLES.items():

            def test(self: Any, args: Any = args) -> None:
                getattr(self, check)(*args)

            setattr(cls, f"test_{check}_{name}", test)
        return cls

    return decorate


def definition_counts() -> tuple[int, ...]:
    with scopes_disabled():
        return tuple(m.objects.count() for m in (WorkflowDefinition, TaskDefinition, Transition, TicketType))


@per_case("upload")
@per_case("import_command")
@per_case("validate_command")
class BadBundleTests(TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        cls.company = make_company("Bundle Co")
        cls.creator = make_user(cls.company, SystemRole.WORKFLOW_CREATOR)

    def upload(self, raw: bytes, path: str, message: str) -> None:
        self.client.force_login(self.creator)
        before = definition_counts()
        url = reverse("admin:workflows_workflowdefinition_upload_bundle")
        response = self.client.post(url, {"file": SimpleUploadedFile("b.json", raw), "confirm": "1"})
        self.assertEqual(response.status_code, 200)
        content = response.content.decode()
        if path == "$" and "problems" not in response.context:  # refused before parsing (form error)
            self.assertIn(message, content)
        else:
            problems = [(p.path, p.message) for p in response.context["problems"]]
            self.assertTrue(any(p == path and message in m for p, m in problems), problems)
        self.assertEqual(definition_counts(), before)

    def write(self, raw: bytes) -> str:
        with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
            handle.write(raw)
        self.addCleanup(Path(handle.name).unlink)
        return handle.name

    def import_command(self, raw: bytes, path: str, message: str) -> None:
        before = definition_counts()
        err = StringIO()
        with self.assertRaises(CommandError):
            call_command("import_bundle", self.write(raw), company="Bundle Co", stdout=StringIO(), stderr=err)
        self.assertTrue(
            any(line.startswith(f"{path}: ") and message in line for line in err.getvalue().splitlines()),
            err.getvalue()[:500],
        )
        self.assertEqual(definition_counts(), before)

    def validate_command(self, raw: bytes, path: str, message: str) -> None:
        err = StringIO()
        with self.assertRaises(CommandError):
            call_command("validate_bundle", self.write(raw), stdout=StringIO(), stderr=err)
        self.assertIn(f"{path}: ", err.getvalue())
        self.assertIn(message, err.getvalue())
