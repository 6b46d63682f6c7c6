"""Records the engine's events on the ticket side (see workflows.signals)."""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.db import connection
from django.db.models.signals import post_save
from django.dispatch import receiver
from django_scopes import scopes_disabled

from accounts.models import User
from tickets import notifications
from tickets.models import ErrorStatus, Ticket, TicketError, TimelineEvent
from workflows import fastsql
from workflows.models import FINISHED_WORKFLOW_STATUSES, TaskInstance, WorkflowInstance
from workflows.signals import swept, workflow_event, workflow_events

# Engine events after which the ticket's open errors count as dealt with.
_RESOLVING_KINDS = {"retried": "Retried", "completed_by_hand": "Step completed by hand"}

# Set by `batched_events` while a service that knows the ticket drives the engine.
_batch: ContextVar[tuple[Ticket, list[TimelineEvent]] | None] = ContextVar("tf_event_batch", default=None)


@contextmanager
def batched_events(ticket: Ticket) -> Iterator[None]:
    """Inside the caller's transaction: the engine's events for `ticket` need no lookup of
    the ticket and are written in one INSERT when the block ends, or with the notices by
    the notice batch's statement when one is open (`notifications.write_along`). A
    failure inside discards them with the rest of the transaction."""
    events: list[TimelineEvent] = []
    token = _batch.set((ticket, events))
    try:
        yield
    finally:
        _batch.reset(token)
    if events and not notifications.write_along(list(events)):  # with the notices when they batch
        fastsql.insert(events)


_TICKET_FIELDS = ("id", "company_id", "created_by_id", "title", "workflow_instance_id")


def _ticket_of_sql() -> str:
    t = fastsql.quoted(Ticket._meta.db_table)
    return (
        f"SELECT {', '.join(f'{t}.{fastsql.quoted(n)}' for n in _TICKET_FIELDS)} FROM {t} "  # noqa: S608 - names from the model
        f"WHERE {t}.workflow_instance_id = %s ORDER BY {t}.created_at DESC, {t}.id DESC LIMIT 1"
    )


def ticket_of(instance_id: int) -> Ticket | None:
    """The ticket of a workflow instance with what the timeline and notices need (the
    rest deferred), by a statement built once (`workflows.fastsql`)."""
    sql = fastsql.cached(("ticket_of",), _ticket_of_sql)
    with connection.cursor() as cursor:
        cursor.execute(sql, [instance_id])
        row = cursor.fetchone()
    return None if row is None else fastsql.row_to(Ticket, row, _TICKET_FIELDS)


@receiver(workflow_events)
def record_workflow_events(sender: Any, *, events: list[dict[str, Any]], **kwargs: Any) -> None:
    """One service call's events (`workflows.engine.batched`): per ticket, one lookup,
    one timeline INSERT and one notice INSERT (with one email job)."""
    by_instance: dict[int, list[dict[str, Any]]] = {}
    for event in events:
        by_instance.setdefault(event["instance"].pk, []).append(event)
    for instance_id, group in by_instance.items():
        batch = _batch.get()
        if batch is not None and batch[0].workflow_instance_id == instance_id:
            for event in group:  # the caller's own batch (submit) writes them
                record_workflow_event(sender, **event)
            continue
        ticket = ticket_of(instance_id)
        if ticket is None:  # an instance not started by a ticket (e.g. a bare engine test)
            continue
        with notifications.batched(), batched_events(ticket):
            for event in group:
                record_workflow_event(sender, **event)


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
    batch = _batch.get()
    if batch is not None and batch[0].workflow_instance_id == instance.pk:
        ticket: Ticket | None = batch[0]
    else:
        batch = None
        ticket = ticket_of(instance.pk)
    if ticket is None:  # an instance not started by a ticket (e.g. a bare engine test)
        return
    event = TimelineEvent(
        company_id=ticket.company_id,
        ticket=ticket,
        task_instance=task_instance,
        kind=kind,
        message=message[:500],  # a rule's reason may quote a long expression
        actor=actor,
        data=data,
    )
    if batch is not None:
        batch[1].append(event)
    else:
        event.save()
    error = None
    if error_type:
        error = TicketError.objects.create(
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
    # The event may not have an id yet (batched: written in one INSERT later), so the
    # notices' once-per-event key is a fresh token made here, once per engine event.
    notifications.workflow_event(
        ticket=ticket,
        kind=kind,
        event_key=f"ev:{ticket.pk}:{kind}:{uuid.uuid4().hex}",
        task=task_instance,
        actor=actor,
        data=data,
        error=error,
    )


@receiver(post_save, sender=WorkflowInstance)
def archive_finished_ticket(
    sender: Any, *, instance: WorkflowInstance, created: bool, update_fields: Any, **kwargs: Any
) -> None:
    """Keeps Ticket.is_active: a finished workflow (final: nothing restarts one) moves its
    ticket to the archive. Costs a query only on the save that finishes it."""
    if created or (update_fields is not None and "status" not in update_fields):
        return
    if instance.status in FINISHED_WORKFLOW_STATUSES:
        Ticket._base_manager.filter(workflow_instance_id=instance.pk, is_active=True).update(is_active=False)


@receiver(swept)
def email_upkeep(sender: Any, **kwargs: Any) -> str:
    """Each sweeper pass: emails whose job was lost go out again; due digests go out."""
    with scopes_disabled():
        return notifications.upkeep()
