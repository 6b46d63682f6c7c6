"""Dry-runs of stored workflows (draft or a published version) or of bundle data, with
the company's assignment rule reported for each form task. Reads only; see
`workflows.dry_run` for the run itself."""

from typing import Any

from accounts.models import Company
from tickets.bundles import BundleInvalid, Problem, export_bundle
from workflows import assignment
from workflows.dry_run import DryRunResult, dry_run
from workflows.models import WorkflowDefinition, WorkflowVersion


def stored_workflow(company: Company, key: str, *, version: int | None = None) -> dict[str, Any]:
    """The workflow's bundle data: the draft, or published version `version`."""
    draft = WorkflowDefinition.objects.filter(company=company, key=key).first()
    if draft is None:
        raise BundleInvalid([Problem("workflow", f"Unknown workflow '{key}'.")])
    if version is None:
        return export_bundle(company=company, workflow_keys=[key])["workflows"][0]
    row = WorkflowVersion.objects.filter(workflow=draft, number=version).first()
    if row is None:
        raise BundleInvalid([Problem("version", f"Workflow '{key}' has no version {version}.")])
    workflow: dict[str, Any] = row.bundle["workflows"][0]
    return workflow


def assignee_rule(company: Company | None) -> Any:
    """Who the current rule would pick for a form task now (read-only), or the rule."""

    def describe(task: dict[str, Any]) -> str:
        return assignment.preview(company.pk if company else None, task.get("assign"))

    return describe


def run(
    workflow: dict[str, Any],
    *,
    company: Company | None,
    ticket: dict[str, Any],
    outputs: dict[str, Any] | None = None,
    responses: dict[str, Any] | None = None,
) -> DryRunResult:
    return dry_run(
        workflow, ticket=ticket, outputs=outputs, responses=responses, assignee=assignee_rule(company)
    )
