"""Workflow diagrams for pages: the definition (workflow admin) and a ticket's progress
(back office: full; submitter: simplified). Drawing is `workflows.diagram`."""

from typing import Any

from django.utils.safestring import SafeString, mark_safe

from tickets.models import Ticket
from workflows import diagram
from workflows.models import WorkflowDefinition


def workflow_diagram(workflow: WorkflowDefinition) -> SafeString:
    svg = diagram.render(
        diagram.workflow_spec(workflow),
        assignee=diagram.assignment_rule,
        label=f"Workflow {workflow.key}",
    )
    return mark_safe(svg)  # noqa: S308 - diagram.render escapes every value


def ticket_diagram(ticket: Ticket, tasks: list[Any], *, simple: bool) -> SafeString:
    """The version the ticket runs on, with the path taken (`tasks` in order) and the
    current step highlighted."""
    path = [t.task_definition.key for t in tasks]
    current = tasks[-1].task_definition.key if tasks and tasks[-1].is_open else None
    svg = diagram.render(
        diagram.workflow_spec(ticket.workflow_instance.workflow),
        path=path,
        current=current,
        simple=simple,
        assignee=None if simple else diagram.assignment_rule,
        label=f"Progress of ticket #{ticket.pk}",
    )
    return mark_safe(svg)  # noqa: S308 - diagram.render escapes every value
