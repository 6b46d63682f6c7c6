"""The workflow engine's steps. Every function here runs inside a transaction that
already holds the row lock of the workflow instance (`lock_instance` / `lock_task`),
so each step happens exactly once even when workers or callbacks race.

Two halves call it and nothing here calls back up: `workflows.services` (requests:
start, complete, ticket-admin operations) and `workflows.background` (the worker's
claim, call and apply; callbacks; the sweeper). Action tasks are handed to the queue
through the `action_ready` signal (`workflows.tasks` enqueues them)."""

import hashlib
import secrets
import traceback
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import timedelta
from typing import Any, overload

from django.conf import settings
from django.utils import timezone

from accounts.models import User
from workflows import assignment, fastsql
from workflows.expressions import ExpressionError, apply_transform, evaluate, is_truthy
from workflows.models import (
    ErrorType,
    HoldReason,
    TaskDefinition,
    TaskInstance,
    TaskStatus,
    Transition,
    WorkflowInstance,
    WorkflowStatus,
)
from workflows.schemas import schema_errors
from workflows.signals import action_ready, workflow_event, workflow_events

# --- locks -----------------------------------------------------------------------------
# The one lock order: workflow instance, then task (then, inside assignment, the
# company row). Each lock names its own row (`of=("self",)`), so no definition row
# that many tickets share is ever locked.


def lock_instance(instance_id: int, *, related: tuple[str, ...] = ()) -> WorkflowInstance:
    """Locks the instance row only (`related` rows are read along, not locked)."""
    if not related:  # the hot path (every completion): a statement built once
        return fastsql.lock(WorkflowInstance, instance_id)
    qs = WorkflowInstance.objects.select_for_update(of=("self",))
    return qs.select_related(*related).get(pk=instance_id)


@overload
def lock_task(task_id: int, *, instance_id: int | None = None) -> tuple[WorkflowInstance, TaskInstance]: ...


@overload
def lock_task(
    task_id: int,
    *,
    instance_id: int | None = None,
    statuses: Collection[str],
    attempt: int | None = None,
) -> tuple[WorkflowInstance, TaskInstance] | None: ...


def lock_task(
    task_id: int,
    *,
    instance_id: int | None = None,
    statuses: Collection[str] | None = None,
    attempt: int | None = None,
) -> tuple[WorkflowInstance, TaskInstance] | None:
    """Locks the task's workflow instance, then the task, and compare-and-sets: None
    when the locked task is no longer in one of `statuses` (or on attempt `attempt`)."""
    if instance_id is None:
        instance_id = TaskInstance.objects.values_list("workflow_instance_id", flat=True).get(pk=task_id)
    instance = lock_instance(instance_id)
    task = fastsql.lock(TaskInstance, task_id, related="task_definition")
    if statuses is not None and task.status not in statuses:
        return None
    if attempt is not None and task.attempts != attempt:
        return None
    return instance, task


# Set by `batched()`: the events of one service call, sent together at its end.
_events: ContextVar[list[dict[str, Any]] | None] = ContextVar("tf_engine_events", default=None)


@contextmanager
def batched() -> Iterator[None]:
    """Inside a service's transaction: the steps' events go out together when the block
    ends (`workflow_events`), so the ticket side looks the ticket up once and writes the
    timeline and notices in one INSERT each. Nested blocks join the outer one; an
    exception discards them (the transaction rolls back with it)."""
    if _events.get() is not None:
        yield
        return
    events: list[dict[str, Any]] = []
    token = _events.set(events)
    try:
        yield
    finally:
        _events.reset(token)
    if events:
        workflow_events.send(sender=WorkflowInstance, events=events)


def emit(
    instance: WorkflowInstance,
    kind: str,
    message: str,
    *,
    task: TaskInstance | None = None,
    actor: User | None = None,
    data: dict[str, Any] | None = None,
    error_type: str | None = None,
    stack_trace: str = "",
) -> None:
    event: dict[str, Any] = {
        "instance": instance,
        "task_instance": task,
        "kind": kind,
        "message": message[:500],
        "actor": actor,
        "data": data or {},
        "error_type": error_type,
        "stack_trace": stack_trace,
    }
    pending = _events.get()
    if pending is not None:
        pending.append(event)
    else:
        workflow_event.send(sender=WorkflowInstance, **event)


def context(instance: WorkflowInstance, **extra: Any) -> dict[str, Any]:
    data = instance.workflow_data or {}
    return {"ticket": data.get("ticket", {}), "tasks": data.get("tasks", {}), **extra}


_UNSAVED = "_tf_unsaved"


def save_instance(instance: WorkflowInstance, *fields: str) -> None:
    """Saves `fields` of the instance, with any change `complete` left for this save
    (one UPDATE of the instance per completion, not two)."""
    unsaved: set[str] = instance.__dict__.pop(_UNSAVED, set())
    fastsql.update(instance, sorted({*fields, *unsaved, "updated_at"}))


def set_status(instance: WorkflowInstance, status: str, *, hold_reason: str = "") -> None:
    instance.status = status
    instance.hold_reason = hold_reason
    save_instance(instance, "status", "hold_reason", "automated_steps")


def step_name(task_def: TaskDefinition) -> str:
    """A step as people and tools both find it in messages: its title, and its key
    when that differs ("'Manager approval' (manager-approval)")."""
    title = task_def.title or task_def.key
    return f"'{title}'" if title == task_def.key else f"'{title}' ({task_def.key})"


def hold_with_error(
    instance: WorkflowInstance,
    error_type: str,
    message: str,
    *,
    task: TaskInstance | None = None,
    stack_trace: str = "",
) -> None:
    set_status(instance, WorkflowStatus.ON_HOLD, hold_reason=HoldReason.ERROR)
    emit(
        instance,
        "error",
        message,
        task=task,
        error_type=error_type,
        stack_trace=stack_trace or "".join(traceback.format_stack(limit=12)),
    )


_ENTERED = "_tf_entered"


def mark_entered(instance: WorkflowInstance) -> None:
    """The caller inserted `instance` already in progress on its current (FORM) task,
    as `enter_task` would leave it: entering that task then writes no instance row."""
    instance.__dict__[_ENTERED] = instance.current_task_id


def enter_task(
    instance: WorkflowInstance, task_def: TaskDefinition, *, creation: bool
) -> TaskInstance | None:
    """Creates the instance of `task_def`, assigns or enqueues it. On failure the
    workflow goes on hold with an error and None is returned. The engine's own events
    (step started, routed, assigned, errors, workflow completed) have no actor, even
    when a person's request runs them: the timeline credits them to TicketFlower."""
    error_type = ErrorType.WORKFLOW_CREATION if creation else ErrorType.TASK_CREATION
    entered = instance.__dict__.pop(_ENTERED, None) == task_def.pk and not task_def.is_action
    if task_def.is_action:
        instance.automated_steps += 1
        if instance.automated_steps > settings.WORKFLOW_MAX_AUTOMATED_STEPS:
            hold_with_error(
                instance,
                error_type,
                f"Stopped: more than {settings.WORKFLOW_MAX_AUTOMATED_STEPS} automated steps "
                f"in a row without a human task (last: {step_name(task_def)}). Check the workflow "
                "for a loop between actions.",
            )
            return None
    else:
        instance.automated_steps = 0
    try:
        input_data = apply_transform(task_def.input_transform, context(instance)) or {}
    except ExpressionError as exc:
        if entered:  # the row was inserted on this task: a failed start is on none
            instance.current_task = None
            instance.__dict__.setdefault(_UNSAVED, set()).add("current_task")
        hold_with_error(
            instance,
            error_type,
            f"Input transform of step {step_name(task_def)} failed: {exc}",
            stack_trace=traceback.format_exc(),
        )
        return None
    instance.current_task = task_def
    instance.status = WorkflowStatus.IN_PROGRESS
    instance.hold_reason = ""
    if not entered:  # a submit's fresh row already says this (`mark_entered`)
        save_instance(instance, "current_task", "status", "hold_reason", "automated_steps")
    task = TaskInstance(
        company_id=instance.company_id,
        workflow_instance=instance,
        task_definition=task_def,
        status=TaskStatus.OPEN,
        input_data=input_data,
    )
    # A form task is inserted already assigned (one write, not insert then update).
    decision = None if task_def.is_action else assignment.assign(task)
    fastsql.insert([task])
    emit(instance, "task_created", f"Step '{task_def.title}' started.", task=task)
    if decision is None:
        request_action(task)
    else:
        emit(instance, "assigned", decision.reason(), task=task, data=decision.data())
    return task


def request_action(task: TaskInstance, *, delay_seconds: float = 0) -> None:
    """Asks for one attempt of the OPEN action task `task` (`workflows.tasks` queues it).
    Its deadline says when the sweeper queues it again if no worker has claimed it by
    then (a job lost between database and queue, or failed before its claim)."""
    task.deadline_at = timezone.now() + timedelta(
        seconds=delay_seconds + settings.ACTIONS_REQUEUE_AFTER_SECONDS
    )
    fastsql.update(task, ["deadline_at", "updated_at"])
    action_ready.send(sender=TaskInstance, task_id=task.pk, delay_seconds=delay_seconds)


def complete(
    instance: WorkflowInstance,
    task: TaskInstance,
    output: dict[str, Any],
    *,
    actor: User | None,
    how: str,
) -> None:
    """Marks `task` completed with `output`, stores it for expressions, and routes on."""
    now = timezone.now()
    assignment.task_closing(task)
    task.status = TaskStatus.COMPLETED
    task.output_data = output
    task.completed_at = now
    task.completed_by = actor
    fastsql.update(
        task, ["status", "output_data", "completed_at", "completed_by", "updated_at", "completed_by_callback"]
    )
    data = dict(instance.workflow_data or {})
    data["tasks"] = {**data.get("tasks", {}), task.task_definition.key: output}
    instance.workflow_data = data
    # Written by the next save of the instance (entering the next task, finishing, a
    # hold), or at the end here when routing saves nothing.
    instance.__dict__.setdefault(_UNSAVED, set()).add("workflow_data")
    emit(
        instance,
        "task_completed",
        f"Step '{task.task_definition.title}' completed ({how}).",
        task=task,
        actor=actor,
        data={"output": output},
    )
    if instance.status == WorkflowStatus.IN_PROGRESS:
        advance(instance, task)
    else:  # an action's answer arrived while the ticket was held: route on resume
        emit(instance, "routing_deferred", "Routing waits until the ticket is resumed.", task=task)
    if instance.__dict__.get(_UNSAVED):
        save_instance(instance)


def advance(instance: WorkflowInstance, finished: TaskInstance) -> None:
    """Routes from a finished task (conditions by priority, then the default) and records the decision."""
    transitions = routes_from(finished.task_definition)
    if not transitions:
        instance.status = WorkflowStatus.COMPLETED
        instance.current_task = None
        save_instance(instance, "status", "current_task")
        emit(instance, "completed", "Workflow completed.", task=finished)
        return
    ctx = context(instance, output=finished.output_data)
    candidates: list[dict[str, Any]] = []
    winner: Transition | None = None
    for transition in transitions:
        if not transition.condition:
            continue
        try:
            value = evaluate(transition.condition, ctx)
        except ExpressionError as exc:
            candidates.append(_candidate(transition, error=str(exc)))
            hold_with_error(
                instance,
                ErrorType.WORKFLOW_TRANSITION,
                f"Condition of transition {finished.task_definition.key} → "
                f"{transition.to_task.key} failed: {exc}",
                task=finished,
                stack_trace=traceback.format_exc(),
            )
            _record_route(instance, finished, candidates, None)
            return
        candidates.append(_candidate(transition, value=value))
        if is_truthy(value):
            winner = transition
            break
    if winner is None:
        winner = next((t for t in transitions if not t.condition), None)
        if winner is not None:
            candidates.append(_candidate(winner, value=None))
    _record_route(instance, finished, candidates, winner)
    if winner is None:
        hold_with_error(
            instance,
            ErrorType.WORKFLOW_TRANSITION,
            f"No transition from {step_name(finished.task_definition)} matched and there is no default path.",
            task=finished,
        )
        return
    enter_task(instance, winner.to_task, creation=False)


# A snapshot's transitions never change (workflows.versions), so a process keeps them,
# keyed by the task definition's id and creation time (an id alone comes back after a
# rolled-back transaction on SQLite). Drafts are read each time.
_ROUTES: dict[tuple[int, Any], list[Transition]] = {}
_ROUTES_MAX = 2048


def routes_from(task_def: TaskDefinition) -> list[Transition]:
    """The transitions leaving `task_def`, by priority, with their target tasks."""
    key = (task_def.pk, task_def.created_at)
    if task_def.is_snapshot and key in _ROUTES:
        return _ROUTES[key]
    rows = list(
        Transition.objects.filter(from_task_id=task_def.pk)
        .select_related("to_task")
        .order_by("priority", "id")
    )
    if task_def.is_snapshot:
        if len(_ROUTES) >= _ROUTES_MAX:
            _ROUTES.clear()
        _ROUTES[key] = rows
    return rows


def _candidate(transition: Transition, *, value: Any = None, error: str | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {
        "transition": transition.pk,
        "to": transition.to_task.key,
        "condition": transition.condition,
        "priority": transition.priority,
    }
    if error is not None:
        item["error"] = error
    else:
        item["value"] = value
    return item


def _record_route(
    instance: WorkflowInstance,
    finished: TaskInstance,
    candidates: list[dict[str, Any]],
    winner: Transition | None,
) -> None:
    message = (
        f"Routed from {step_name(finished.task_definition)} to {step_name(winner.to_task)}."
        if winner
        else f"No route from {step_name(finished.task_definition)}."
    )
    emit(
        instance,
        "routed",
        message,
        task=finished,
        data={"candidates": candidates, "winner": winner.to_task.key if winner else None},
    )


def validate_output(task_def: TaskDefinition, output: Any) -> dict[str, list[str]]:
    """Errors per field path ("" for the whole object); empty when valid."""
    return schema_errors(task_def.output_schema, output, what="The output")


def new_callback_token() -> tuple[str, str]:
    """(token to send, hash to store)."""
    token = secrets.token_urlsafe(32)
    return token, hash_token(token)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
