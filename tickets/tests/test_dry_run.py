"""Issue 14, dry-run: a workflow or a bundle not yet imported runs on sample data with
given outputs and mocked responses; no writes, no HTTP; examples are run by validation."""

import copy
import json
from io import StringIO
from pathlib import Path

from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import CompanyRole, User
from accounts.roles import SystemRole
from accounts.tenancy import company_scope
from project.testing import make_company, make_user
from tickets.bundles import check, import_bundle, parse
from tickets.dry_run import run, stored_workflow
from workflows.dry_run import COMPLETED, FAILED, WAITING, dry_run

SAMPLES = Path(settings.BASE_DIR) / "fixtures" / "bundles"


def purchase() -> dict:  # type: ignore[type-arg]
    return parse((SAMPLES / "purchase-request.json").read_text())


class DryRunTests(TestCase):
    def test_path_conditions_transforms_and_no_writes(self) -> None:
        workflow = purchase()["workflows"][0]
        with CaptureQueriesContext(connection) as queries:
            result = dry_run(
                workflow,
                ticket={"title": "Laptop", "item": "laptop", "amount": 2500},
                responses={"budget-check": {"within_budget": False, "reference": "BUD-9"}},
                outputs={
                    "manager-approval": [{"decision": "reject", "comment": "no"}, {"decision": "approve"}],
                    "rework": {"changes": "cheaper"},
                    "order": {"order_number": "PO-1"},
                },
            )
        self.assertEqual(len(queries), 0)  # no database reads or writes at all
        self.assertEqual(result.status, COMPLETED, result.message)
        self.assertEqual(
            result.path,
            ["budget-check", "manager-approval", "rework", "budget-check", "manager-approval", "order"],
        )
        check_step = result.steps[0]
        self.assertEqual(check_step.input, {"item": "laptop", "amount": 2500})
        self.assertEqual(check_step.output, {"within_budget": False, "reference": "BUD-9"})
        transform = check_step.transforms[-1]
        self.assertEqual(transform["name"], "output_transform")
        self.assertEqual(transform["output"], {"within_budget": False, "reference": "BUD-9"})
        first = check_step.candidates[0]
        self.assertEqual(
            (first.condition, first.value, first.to), ("ticket.amount > `1000`", True, "manager-approval")
        )
        review = result.steps[1]
        self.assertEqual(review.input["reference"], "BUD-9")
        self.assertEqual([c.value for c in review.candidates], [True])
        self.assertEqual(result.steps[4].candidates[-1].condition, "")  # the default won
        self.assertEqual(json.loads(json.dumps(result.as_dict()))["path"], result.path)

    def test_waiting_and_failures(self) -> None:
        workflow = purchase()["workflows"][0]
        waiting = dry_run(workflow, ticket={"amount": 5})
        self.assertEqual((waiting.status, waiting.path), (WAITING, ["budget-check"]))
        self.assertIn("response of action 'budget-check'", waiting.message)
        bad = dry_run(
            workflow,
            ticket={"amount": 5000},
            responses={"budget-check": {}},
            outputs={"manager-approval": {"decision": "maybe"}},
        )
        self.assertEqual(bad.status, FAILED)
        self.assertIn("Select one of: 'approve', 'reject'.", bad.message)

    def test_stored_workflow_reports_assignment(self) -> None:
        """Each form task's own rule: the approval goes to the least loaded of the
        'managers' role (not of every worker), the rework to the submitter."""
        company = make_company()
        worker = make_user(company, SystemRole.TASK_WORKER, first_name="Wendy")
        manager = make_user(company, SystemRole.TASK_WORKER, first_name="Mona")
        with company_scope(company):
            import_bundle(company=company, bundle=purchase())
            manager.company_roles.add(CompanyRole.objects.get(name="managers"))
            User.objects.filter(pk=manager.pk).update(open_tasks=3)  # busier than the worker
            workflow = stored_workflow(company, "purchase-request")
            result = run(
                workflow,
                company=company,
                ticket={"amount": 5000},
                responses={"budget-check": {"within_budget": True}},
                outputs={"manager-approval": {"decision": "reject"}},
            )
        self.assertEqual(result.path, ["budget-check", "manager-approval", "rework"])
        self.assertIn(str(manager), result.steps[1].assignee)
        self.assertIn("company role 'managers'", result.steps[1].assignee)
        self.assertNotIn(str(worker), result.steps[1].assignee)
        self.assertEqual(result.steps[2].assignee, "The ticket's submitter.")

    def test_examples_run_by_validation_report_a_mismatch_with_its_path(self) -> None:
        self.assertEqual(check(purchase()), [])
        bundle = purchase()
        bundle["workflows"][0]["examples"][0]["expected_path"] = ["budget-check", "manager-approval"]
        problems = check(bundle)
        self.assertEqual(len(problems), 1, problems)
        self.assertEqual(problems[0].path, "$.workflows[0].examples[0].expected_path")
        self.assertIn("took budget-check → auto-approval → order", problems[0].message)
        self.assertIn("expected budget-check → manager-approval", problems[0].message)

    def test_command_on_a_bundle_and_on_stored_definitions(self) -> None:
        out = StringIO()
        call_command(
            "dry_run",
            bundle=str(SAMPLES / "purchase-request.json"),
            ticket='{"amount": 10}',
            responses='{"budget-check": {"within_budget": true}, "auto-approval": {"within_budget": true}}',
            stdout=out,
        )
        result = json.loads(out.getvalue())
        self.assertEqual(result["path"], ["budget-check", "auto-approval", "order"])
        self.assertEqual(result["status"], "waiting")
        company = make_company("Dry Co")
        with company_scope(company):
            bundle = copy.deepcopy(purchase())
            import_bundle(company=company, bundle=bundle)
        out = StringIO()
        call_command(
            "dry_run", company="Dry Co", workflow="purchase-request", at_version=1, ticket="{}", stdout=out
        )
        self.assertEqual(json.loads(out.getvalue())["path"], ["budget-check"])
        with self.assertRaises(CommandError):
            call_command("dry_run", company="Dry Co", workflow="nope", stdout=StringIO())
        with self.assertRaises(CommandError):
            call_command(
                "dry_run", company="Dry Co", workflow="purchase-request", ticket="[1", stdout=StringIO()
            )


class DryRunAdminTests(TestCase):
    def test_admin_page_runs_and_is_scoped(self) -> None:
        company = make_company()
        creator = make_user(company, SystemRole.WORKFLOW_CREATOR)
        with company_scope(company):
            import_bundle(company=company, bundle=purchase())
            from workflows.models import WorkflowDefinition

            workflow = WorkflowDefinition.objects.get(key="purchase-request")
        url = reverse("admin:workflows_workflowdefinition_dry_run", args=[workflow.pk])
        self.client.force_login(creator)
        self.assertContains(self.client.get(url), "Dry run")
        response = self.client.post(
            url,
            {
                "ticket": '{"amount": 5000}',
                "outputs": '{"manager-approval": {"decision": "approve"}}',
                "responses": '{"budget-check": {"within_budget": false}}',
            },
        )
        self.assertContains(response, "ticket.amount &gt; `1000`")
        self.assertContains(response, "manager-approval")
        self.assertContains(response, "Waits for the form output of &#x27;Place the order&#x27; (order).")
        self.assertContains(self.client.post(url, {"ticket": "[oops"}), "Enter a valid JSON.")
        outsider = make_user(make_company(), *SystemRole.values)
        self.client.force_login(outsider)
        self.assertEqual(self.client.get(url).status_code, 404)
