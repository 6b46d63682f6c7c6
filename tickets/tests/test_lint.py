"""Issue 14, "wrong names pass validation": the validator lints names, JMESPath and the
graph. Each finding from the issue is reproduced first."""

import json
import tempfile
from io import StringIO
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import CommandError, call_command
from django.test import SimpleTestCase, TestCase

from accounts.models import CompanyRole
from accounts.tenancy import company_scope
from project.testing import make_company
from tickets.bundles import check, import_bundle, parse, validate
from tickets.tests.test_bundles import base
from workflows.lint import WARNING, root_paths

SAMPLES = Path(settings.BASE_DIR) / "fixtures" / "bundles"


def flow(
    tasks: list[dict[str, Any]], transitions: list[dict[str, Any]], fields: Any = None
) -> dict[str, Any]:
    tasks[0]["start"] = True
    for t in tasks:
        t.setdefault("title", t["key"])
        t.setdefault("type", "FORM")
        if t["type"] != "FORM":
            t.setdefault("action_url", "https://example.com/hook")
    bundle: dict[str, Any] = {
        "format": 1,
        "workflows": [{"key": "wf", "title": "Flow", "tasks": tasks, "transitions": transitions}],
        "ticket_types": [{"key": "tt", "title": "T", "workflow": "wf"}],
    }
    if fields is not None:
        bundle["ticket_types"][0]["fields"] = fields
    return bundle


DECIDE = {
    "key": "quote",
    "output_schema": {
        "type": "object",
        "properties": {"approve": {"type": "boolean"}, "price": {"type": "number"}},
    },
}


def messages(bundle: dict[str, Any]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for problem in check(bundle):
        out.setdefault(problem.path, []).append(f"{problem.severity}: {problem.message}")
    return out


class NameLintTests(SimpleTestCase):
    def test_wrong_output_name_is_an_error_with_a_suggestion(self) -> None:
        bundle = flow(
            [dict(DECIDE), {"key": "yes"}, {"key": "no"}],
            [{"from": "quote", "to": "yes", "condition": "output.approved"}, {"from": "quote", "to": "no"}],
        )
        found = messages(bundle)["$.workflows[0].transitions[0].condition"]
        self.assertEqual(len(found), 1, found)
        self.assertIn("error: The output of task 'quote' has no field 'approved'", found[0])
        self.assertIn("Did you mean 'approve'?", found[0])
        bundle["workflows"][0]["transitions"][0]["condition"] = "output.approve"
        self.assertEqual(check(bundle), [])

    def test_tasks_paths_check_key_order_and_field(self) -> None:
        bundle = flow(
            [
                dict(DECIDE),
                {"key": "yes", "input_transform": {"p": "tasks.quote.prise", "q": "tasks.quot.price"}},
            ],
            [{"from": "quote", "to": "yes", "condition": "tasks.yes.x"}],
        )
        found = messages(bundle)
        self.assertIn("Did you mean 'price'?", found["$.workflows[0].tasks[1].input_transform.p"][0])
        self.assertIn(
            "Unknown task 'quot'. Did you mean 'quote'?",
            found["$.workflows[0].tasks[1].input_transform.q"][0],
        )
        self.assertIn(
            "cannot have run before this point", found["$.workflows[0].transitions[0].condition"][0]
        )

    def test_ticket_fields_and_roots(self) -> None:
        fields = {"type": "object", "properties": {"amount": {"type": "number"}}}
        bundle = flow(
            [
                {
                    "key": "a",
                    "input_transform": {"x": "ticket.amout", "y": "tickets.amount", "z": "ticket.amount"},
                }
            ],
            [],
            fields,
        )
        found = messages(bundle)
        self.assertIn(
            "Tickets have no field 'amout'. Did you mean 'amount'?",
            found["$.workflows[0].tasks[0].input_transform.x"][0],
        )
        self.assertIn(
            "'tickets' is not in the context here", found["$.workflows[0].tasks[0].input_transform.y"][0]
        )
        self.assertIn("Did you mean 'ticket'?", found["$.workflows[0].tasks[0].input_transform.y"][0])
        self.assertNotIn("$.workflows[0].tasks[0].input_transform.z", found)

    def test_undeclared_outputs_are_not_guessed(self) -> None:
        bundle = flow(
            [{"key": "call", "type": "SYNC_ACTION"}, {"key": "b"}],
            [{"from": "call", "to": "b", "condition": "output.anything && tasks.call.whatever"}],
        )
        self.assertEqual(validate(bundle), [])

    def test_root_paths(self) -> None:
        self.assertEqual(
            root_paths("tasks.a.items[?x > `1`].y || length(ticket.l) > `0` && {k: output.v}.k"),
            [["tasks", "a", "items"], ["ticket", "l"], ["output", "v"]],
        )


class JmesPathHintTests(SimpleTestCase):
    def test_numbers_need_backticks(self) -> None:
        bundle = flow(
            [dict(DECIDE), {"key": "big"}, {"key": "small"}],
            [
                {"from": "quote", "to": "big", "condition": "tasks.quote.price > 1000"},
                {"from": "quote", "to": "small"},
            ],
        )
        found = messages(bundle)["$.workflows[0].transitions[0].condition"][0]
        self.assertIn(
            "Numbers are JSON literals in JMESPath and need backticks: tasks.quote.price > `1000`", found
        )

    def test_hyphenated_keys_need_quotes(self) -> None:
        bundle = flow(
            [
                {"key": "vendor-dispatch", "type": "SYNC_ACTION", "output_transform": {"x": "output.x"}},
                {"key": "b"},
            ],
            [{"from": "vendor-dispatch", "to": "b", "condition": "tasks.vendor-dispatch.x"}],
        )
        found = messages(bundle)["$.workflows[0].transitions[0].condition"][0]
        self.assertIn("Unknown token '-'", found)
        self.assertIn('Keys with hyphens must be quoted: tasks."vendor-dispatch".x', found)
        bundle["workflows"][0]["transitions"][0]["condition"] = 'tasks."vendor-dispatch".x'
        self.assertEqual(check(bundle), [])


class GraphLintTests(TestCase):
    def test_unreachable_dead_end_and_automated_loop_are_warnings(self) -> None:
        bundle = flow(
            [
                {"key": "a"},
                {"key": "ping", "type": "SYNC_ACTION"},
                {"key": "pong", "type": "SYNC_ACTION"},
                {"key": "orphan"},
            ],
            [{"from": "a", "to": "ping"}, {"from": "ping", "to": "pong"}, {"from": "pong", "to": "ping"}],
        )
        problems = check(bundle)
        self.assertTrue(problems)
        self.assertTrue(all(p.severity == WARNING for p in problems), problems)
        text = "\n".join(map(str, problems))
        self.assertIn("$.workflows[0].tasks[3]: warning: Task 'orphan' cannot be reached", text)
        self.assertIn("No end can be reached from task 'ping'", text)
        self.assertIn("Tasks ping, pong form a loop with no human task", text)
        self.assertEqual(validate(bundle), [])  # warnings do not refuse an import
        company = make_company()
        with company_scope(company):
            import_bundle(company=company, bundle=bundle)

    def test_loop_through_a_human_task_is_fine(self) -> None:
        bundle = flow(
            [{"key": "review"}, {"key": "check", "type": "SYNC_ACTION"}, {"key": "done"}],
            [
                {"from": "review", "to": "check"},
                {"from": "check", "to": "done", "condition": "output.ok"},
                {"from": "check", "to": "review"},
            ],
        )
        self.assertEqual(check(bundle), [])

    def test_samples_are_clean(self) -> None:
        for path in SAMPLES.glob("*.json"):
            with self.subTest(sample=path.name):
                self.assertEqual(check(parse(path.read_text())), [])


class CompanyValidationTests(TestCase):
    def test_validate_bundle_against_a_companys_roles(self) -> None:
        company = make_company("Roles Co")
        CompanyRole.objects.create(company=company, name="Finance")
        bundle = base()
        bundle.pop("company_roles")
        bundle["ticket_types"][0]["company_roles"] = ["Finance"]
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
            handle.write(json.dumps(bundle))
        self.addCleanup(Path(handle.name).unlink)
        err = StringIO()
        with self.assertRaises(CommandError):
            call_command("validate_bundle", handle.name, stderr=err)
        self.assertIn("Unknown company role 'Finance'", err.getvalue())
        out = StringIO()
        call_command("validate_bundle", handle.name, company="Roles Co", stdout=out)
        self.assertIn("valid", out.getvalue())


class AdminSaveWarningTests(TestCase):
    def test_saving_a_workflow_shows_lint_warnings(self) -> None:
        from django.urls import reverse

        from accounts.roles import SystemRole
        from project.testing import make_user, make_workflow

        company = make_company()
        creator = make_user(company, SystemRole.WORKFLOW_CREATOR)
        workflow = make_workflow(company, [{"key": "a"}, {"key": "orphan"}], key="flow")
        self.client.force_login(creator)
        with company_scope(company):
            task = workflow.tasks.get(key="a")
        response = self.client.post(
            reverse("admin:workflows_taskdefinition_change", args=[task.pk]),
            {
                "workflow": workflow.pk,
                "key": "a",
                "title": "A",
                "task_type": "FORM",
                "version": 1,
                "ext_ref": "[]",
                "input_schema": "{}",
                "output_schema": "{}",
                "input_transform": "{}",
                "output_transform": "{}",
            },
            follow=True,
        )
        self.assertContains(response, "No transition leads to the task &#x27;orphan&#x27;")
