"""Records the engine's events on the ticket side (see workflows.signals)."""

from typing import Any

from django.dispatch import receiver

from accounts.models import User
from tickets.models import ErrorStatus, Ticket, TicketError, TimelineEvent
from workflows.models import TaskInstance, WorkflowInstance
from workflows.signals import workflow_event

# Engine events after which the ticket's open errors count as dealt with.
_RESOLVING_KINDS = {"retried": "Retried", "completed_by_hand": "Step completed by hand"}


@receiver(workflow_event)
def record_workflow_event(
    sender: Any,
    *,
    instance: WorkflowInstance,
    task_instance: TaskInstance | None,
    kind: str,
    message: str,
    actor: User | None,
    data: dict[str, Any],
    error_type: str | None,
    stack_trace: str,
    **kwargs: Any,
) -> None:
    ticket = Ticket._base_manager.filter(workflow_instance=instance).only("pk", "company_id").first()
    if ticket is None:  # an instance not started by a ticket (e.g. a bare engine test)
        return
    TimelineEvent.objects.create(
        company_id=ticket.company_id,
        ticket=ticket,
        task_instance=task_instance,
        kind=kind,
        message=message,
        actor=actor,
        data=data,
    )
    if error_type:
        TicketError.objects.create(
            company_id=ticket.company_id,
            ticket=ticket,
            task_instance=task_instance,
            error_type=error_type,
            message=message,
            stack_trace=stack_trace,
        )
    elif kind in _RESOLVING_KINDS:
        note = f"{_RESOLVING_KINDS[kind]} by {actor}." if actor else _RESOLVING_KINDS[kind]
        TicketError._base_manager.filter(ticket=ticket).exclude(status=ErrorStatus.RESOLVED).update(
            status=ErrorStatus.RESOLVED, resolution_notes=note
        )
