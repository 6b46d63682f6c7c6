"""The `assign` rule as data: bundle schema and validator (with JSON paths), export and
import, the admin editor and CSV import."""

import json
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase
from django.urls import reverse
from django_scopes import scopes_disabled

from accounts.models import CompanyRole
from accounts.roles import SystemRole
from accounts.tenancy import company_scope
from project.testing import make_company, make_user, make_workflow
from tickets.bundles import bundle_schema, export_bundle, import_bundle, validate
from workflows.models import TaskDefinition


def bundle(**assigns: Any) -> dict[str, Any]:
    """A purchase-style workflow; `assigns` maps task key -> assign rule."""
    tasks: list[dict[str, Any]] = [
        {"key": "approve", "title": "Approve", "type": "FORM", "start": True},
        {"key": "check", "title": "Check", "type": "SYNC_ACTION", "action_url": "https://example.com/x"},
        {"key": "rework", "title": "Rework", "type": "FORM"},
    ]
    for task in tasks:
        if task["key"] in assigns:
            task["assign"] = assigns[task["key"]]
    return {
        "format": 1,
        "company_roles": [{"name": "managers"}],
        "workflows": [
            {
                "key": "wf",
                "title": "Flow",
                "tasks": tasks,
                "transitions": [{"from": "approve", "to": "check"}, {"from": "check", "to": "rework"}],
            }
        ],
    }


class BundleAssignTests(TestCase):
    def problems(self, b: dict[str, Any]) -> list[str]:
        return [str(p) for p in validate(b)]

    def test_every_rule_is_valid(self) -> None:
        for rule in [
            {"rule": "least_loaded"},
            {"rule": "least_loaded", "role": "managers"},
            {"rule": "queue", "role": "managers"},
            {"rule": "submitter"},
            {"rule": "user", "email": "boss@example.com"},
            {"rule": "same_as", "task": "approve"},
            {"rule": "expression", "expr": "ticket.manager_email"},
        ]:
            with self.subTest(rule=rule):
                self.assertEqual(self.problems(bundle(rework=rule)), [])

    def test_refusals_name_the_path(self) -> None:
        base = "$.workflows[0].tasks[2].assign"
        cases = [
            ({"rule": "queue", "role": "ghosts"}, f"{base}.role: Unknown company role 'ghosts'."),
            ({"rule": "least_loaded", "role": "ghosts"}, f"{base}.role: Unknown company role 'ghosts'."),
            ({"rule": "same_as", "task": "nope"}, f"{base}.task: Unknown task 'nope' in this workflow."),
            ({"rule": "same_as", "task": "check"}, f"{base}.task: Task 'check' is not a FORM task"),
            ({"rule": "expression", "expr": "ticket.["}, f"{base}.expr: Invalid JMESPath 'ticket.['"),
            ({"rule": "queue"}, f"{base}.role: The queue rule needs 'role'."),
            (
                {"rule": "user", "email": "boss@example.com", "role": "managers"},
                f"{base}.role: The user rule takes no",
            ),
            ({"rule": "boss"}, f"{base}.rule: 'boss' is not one of"),
            ({"rule": "submitter", "who": 1}, f"{base}: Additional properties are not allowed"),
        ]
        for rule, expected in cases:
            with self.subTest(rule=rule):
                problems = self.problems(bundle(rework=rule))
                self.assertTrue(any(p.startswith(expected) for p in problems), problems)

    def test_action_tasks_take_no_rule(self) -> None:
        problems = self.problems(bundle(check={"rule": "submitter"}))
        self.assertEqual(len(problems), 1)
        self.assertTrue(problems[0].startswith("$.workflows[0].tasks[1].assign: Only FORM tasks"), problems)

    def test_roles_of_the_company_count_when_importing(self) -> None:
        company = make_company()
        with scopes_disabled():
            CompanyRole.objects.create(company=company, name="it")
        b = bundle(rework={"rule": "queue", "role": "it"})
        self.assertTrue(self.problems(b))
        with company_scope(company):
            self.assertEqual(validate(b, company=company), [])

    def test_export_import_round_trip_keeps_rules_and_their_roles(self) -> None:
        company = make_company()
        b = bundle(
            approve={"rule": "least_loaded", "role": "managers"},
            rework={"rule": "same_as", "task": "approve"},
        )
        with company_scope(company):
            import_bundle(company=company, bundle=b)
            out = export_bundle(company=company, workflow_keys=["wf"])
            self.assertEqual(out["company_roles"], [{"name": "managers"}])
            self.assertEqual(out["workflows"], b["workflows"])
            self.assertEqual(
                TaskDefinition.objects.get(key="approve").assign, {"rule": "least_loaded", "role": "managers"}
            )
            # Removing the rule from the bundle resets it to the default.
            del b["workflows"][0]["tasks"][0]["assign"]
            import_bundle(company=company, bundle=b)
            self.assertEqual(TaskDefinition.objects.get(key="approve").assign, {})

    def test_schema_lists_every_rule(self) -> None:
        from workflows.assignment import Rule

        enum = bundle_schema()["$defs"]["assign"]["properties"]["rule"]["enum"]
        self.assertEqual(enum, [r.value for r in Rule])


class AdminAssignTests(TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        cls.company = make_company()
        cls.creator = make_user(cls.company, SystemRole.WORKFLOW_CREATOR)
        with scopes_disabled():
            CompanyRole.objects.create(company=cls.company, name="managers")
            other = make_company()
            CompanyRole.objects.create(company=other, name="secret")
        cls.wf = make_workflow(cls.company, [{"key": "a"}, {"key": "b"}], [("a", "b", "", 0)], key="flow")
        with scopes_disabled():
            cls.task = TaskDefinition.objects.get(workflow=cls.wf, key="b")

    def post(self, assign: dict[str, Any]) -> Any:
        self.client.force_login(self.creator)
        url = reverse("admin:workflows_taskdefinition_change", args=[self.task.pk])
        return self.client.post(
            url,
            {
                "workflow": self.wf.pk,
                "key": "b",
                "title": "B",
                "task_type": "FORM",
                "version": 1,
                "assign": json.dumps(assign),
                **{f: "{}" for f in ("input_transform", "output_transform", "input_schema", "output_schema")},
                "ext_ref": "[]",
            },
        )

    def test_editor_shows_and_saves_a_rule(self) -> None:
        self.client.force_login(self.creator)
        page = self.client.get(reverse("admin:workflows_taskdefinition_change", args=[self.task.pk]))
        self.assertContains(page, "Who does it")
        response = self.post({"rule": "queue", "role": "managers", "email": "", "task": "", "expr": ""})
        self.assertEqual(response.status_code, 302, response.content[:3000])
        self.task.refresh_from_db()
        self.assertEqual(self.task.assign, {"rule": "queue", "role": "managers"})

    def test_editor_refuses_unknown_and_foreign_roles_and_bad_expressions(self) -> None:
        for assign, message in [
            ({"rule": "queue", "role": "secret"}, "Unknown company role"),
            ({"rule": "expression", "expr": "a.["}, "Invalid JMESPath"),
            ({"rule": "same_as", "task": "zzz"}, "Unknown task"),
        ]:
            with self.subTest(assign=assign):
                response = self.post(assign)
                self.assertEqual(response.status_code, 200)
                self.assertContains(response, message)
                self.task.refresh_from_db()
                self.assertEqual(self.task.assign, {})

    def csv_import(self, csv: str) -> Any:
        self.client.force_login(self.creator)
        response = self.client.post(
            reverse("admin:workflows_taskdefinition_import"),
            {"format": "0", "resource": "0", "import_file": SimpleUploadedFile("t.csv", csv.encode())},
        )
        self.assertEqual(response.status_code, 200)
        return response

    def test_csv_import_sets_a_rule_and_refuses_a_bad_one(self) -> None:
        good = (
            'workflow,key,title,task_type,assign\nflow,b,B,FORM,"{""rule"": ""same_as"", ""task"": ""a""}"\n'
        )
        response = self.csv_import(good)
        result = response.context["result"]
        self.assertFalse(result.has_errors() or result.has_validation_errors(), result.invalid_rows)
        self.client.post(
            reverse("admin:workflows_taskdefinition_process_import"), response.context["confirm_form"].initial
        )
        self.task.refresh_from_db()
        self.assertEqual(self.task.assign, {"rule": "same_as", "task": "a"})
        bad = 'workflow,key,title,task_type,assign\nflow,b,B,FORM,"{""rule"": ""queue"", ""role"": ""secret""}"\n'
        result = self.csv_import(bad).context["result"]
        self.assertTrue(result.has_errors() or result.has_validation_errors())
        self.task.refresh_from_db()
        self.assertEqual(self.task.assign, {"rule": "same_as", "task": "a"})
