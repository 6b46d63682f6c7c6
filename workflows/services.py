"""Workflow engine services: the only way runtime state changes.

Each write is atomic and starts by locking the workflow instance row, then re-reads
and compare-and-sets the task status, so racing workers, callbacks and people advance a
workflow exactly once. Callers pass objects of one company and run inside its scope
(requests get it from middleware; background entry points enter it themselves)."""

import enum
import hmac
import logging
import traceback
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django_scopes import scopes_disabled

from accounts.models import User
from accounts.roles import SystemRole
from accounts.tenancy import company_scope
from workflows import actions, engine
from workflows.engine import ErrorKind
from workflows.expressions import ExpressionError, apply_transform
from workflows.models import (
    FINISHED_WORKFLOW_STATUSES,
    OPEN_TASK_STATUSES,
    HoldReason,
    TaskInstance,
    TaskStatus,
    TaskType,
    WorkflowDefinition,
    WorkflowInstance,
    WorkflowStatus,
)

logger = logging.getLogger(__name__)

# Seconds beyond its own timeout after which a running action counts as stuck.
STUCK_GRACE_SECONDS = 60


class OutputInvalid(ValidationError):
    """A task output that does not match the output schema; `field_errors` by path."""

    def __init__(self, field_errors: dict[str, list[str]]) -> None:
        self.field_errors = field_errors
        super().__init__([f"{k or 'output'}: {m}" for k, msgs in field_errors.items() for m in msgs])


class StateConflict(Exception):
    """The step is no longer possible (already done, cancelled, on hold, ...)."""


def locked_instance(instance_id: int) -> WorkflowInstance:
    return WorkflowInstance.objects.select_for_update().get(pk=instance_id)


def locked_task(task_id: int) -> TaskInstance:
    return TaskInstance.objects.select_for_update().select_related("task_definition").get(pk=task_id)


# --- start -------------------------------------------------------------------------


def create_instance(
    *, company_id: int, workflow: WorkflowDefinition, ticket_data: dict[str, Any]
) -> WorkflowInstance:
    if workflow.company_id != company_id:
        raise PermissionDenied("Workflow belongs to another company.")
    return WorkflowInstance.objects.create(
        company_id=company_id,
        workflow=workflow,
        status=WorkflowStatus.NOT_STARTED,
        workflow_data={"ticket": ticket_data, "tasks": {}},
    )


def start_instance(*, instance: WorkflowInstance, actor: User | None) -> TaskInstance | None:
    """Creates the first task. A definition that cannot start leaves the instance on
    hold with a WORKFLOW_CREATION error instead of raising."""
    with transaction.atomic():
        instance = locked_instance(instance.pk)
        workflow = instance.workflow
        if workflow.start_task_id is None:
            engine.hold_with_error(
                instance,
                ErrorKind.WORKFLOW_CREATION,
                f"Workflow '{workflow.key}' has no start task.",
                actor=actor,
            )
            return None
        engine.emit(instance, "started", f"Workflow '{workflow.title}' started.", actor=actor)
        assert workflow.start_task is not None
        return engine.enter_task(instance, workflow.start_task, actor=actor, creation=True)


# --- human completion ----------------------------------------------------------------


def can_complete(task: TaskInstance, user: User) -> bool:
    return task.assigned_to_id == user.pk or user.has_role(SystemRole.TICKET_ADMIN)


def complete_form_task(*, task: TaskInstance, output: Any, actor: User) -> None:
    if not can_complete(task, actor):
        raise PermissionDenied("Only the assignee or a ticket admin may complete this task.")
    if task.task_definition.task_type != TaskType.FORM:
        raise StateConflict("Only form tasks are completed through a form.")
    errors = engine.validate_output(task.task_definition, output)
    if errors:
        raise OutputInvalid(errors)
    with transaction.atomic():
        instance = locked_instance(task.workflow_instance_id)
        current = locked_task(task.pk)
        if current.status not in OPEN_TASK_STATUSES:
            raise StateConflict("This task is already finished.")
        if instance.status != WorkflowStatus.IN_PROGRESS:
            raise StateConflict(f"The ticket is {instance.get_status_display().lower()}.")
        engine.complete(instance, current, output, actor=actor, how=f"by {actor}")


# --- actions ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Claim:
    task_id: int
    attempt: int
    url: str
    payload: dict[str, Any]
    secret: str
    idempotency_key: str
    timeout: float


def run_action(*, task_id: int) -> None:
    """Background entry point (workflows.tasks): one attempt of an action task."""
    with scopes_disabled():
        company_id = TaskInstance.objects.filter(pk=task_id).values_list("company_id", flat=True).first()
    if company_id is None:
        return
    with company_scope(company_id):
        claim = _claim_action(task_id)
        if claim is None:
            return
        try:
            response = actions.post_json(
                url=claim.url,
                payload=claim.payload,
                secret=claim.secret,
                idempotency_key=claim.idempotency_key,
                timeout=claim.timeout,
            )
        except actions.ActionError as exc:
            _action_failed(claim, str(exc), transient=exc.transient, trace=traceback.format_exc())
        except Exception as exc:  # a bug must still become a visible ticket error
            logger.exception("Action task %s crashed", task_id)
            _action_failed(claim, f"Unexpected error: {exc!r}", transient=False, trace=traceback.format_exc())
        else:
            _action_succeeded(claim, response)


def _claim_action(task_id: int) -> _Claim | None:
    with transaction.atomic():
        instance_id = TaskInstance.objects.values_list("workflow_instance_id", flat=True).get(pk=task_id)
        instance = locked_instance(instance_id)
        task = locked_task(task_id)
        if task.status != TaskStatus.OPEN or instance.status != WorkflowStatus.IN_PROGRESS:
            return None
        task_def = task.task_definition
        timeout = float(task_def.timeout_seconds or settings.ACTIONS_DEFAULT_TIMEOUT_SECONDS)
        now = timezone.now()
        task.status = TaskStatus.IN_PROGRESS
        task.attempts += 1
        task.started_at = task.started_at or now
        task.deadline_at = now + timedelta(seconds=timeout + STUCK_GRACE_SECONDS)
        payload = dict(task.input_data or {})
        if task_def.task_type == TaskType.ASYNC_ACTION:
            token, token_hash = engine.new_callback_token()
            task.callback_token_hash = token_hash
            payload["callback_url"] = settings.PUBLIC_BASE_URL.rstrip("/") + reverse(
                "callback", kwargs={"task_uuid": task.uuid}
            )
            payload["callback_token"] = token
        task.save(
            update_fields=[
                "status",
                "attempts",
                "started_at",
                "deadline_at",
                "callback_token_hash",
                "updated_at",
            ]
        )
        engine.emit(
            instance,
            "action_call",
            f"Calling {task_def.action_url} (attempt {task.attempts}).",
            task=task,
            data={"url": task_def.action_url, "attempt": task.attempts},
        )
        return _Claim(
            task_id=task.pk,
            attempt=task.attempts,
            url=task_def.action_url,
            payload=payload,
            secret=instance.company.action_secret,
            idempotency_key=str(task.uuid),
            timeout=timeout,
        )


def _still_ours(claim: _Claim) -> tuple[WorkflowInstance, TaskInstance] | None:
    """Locks and re-reads; None when someone else moved the task on meanwhile."""
    instance_id = TaskInstance.objects.values_list("workflow_instance_id", flat=True).get(pk=claim.task_id)
    instance = locked_instance(instance_id)
    task = locked_task(claim.task_id)
    if task.status != TaskStatus.IN_PROGRESS or task.attempts != claim.attempt:
        return None
    return instance, task


def _action_failed(claim: _Claim, message: str, *, transient: bool, trace: str) -> None:
    with transaction.atomic():
        held = _still_ours(claim)
        if held is None:
            return
        instance, task = held
        if transient and task.attempts < settings.ACTIONS_MAX_ATTEMPTS:
            delay = settings.ACTIONS_RETRY_BASE_SECONDS * (2 ** (task.attempts - 1))
            task.status = TaskStatus.OPEN
            task.save(update_fields=["status", "updated_at"])
            engine.emit(
                instance,
                "action_retry",
                f"{message} Retrying in {delay:g}s (attempt {task.attempts} of "
                f"{settings.ACTIONS_MAX_ATTEMPTS}).",
                task=task,
                data={"attempt": task.attempts, "delay_seconds": delay},
            )
            engine.enqueue_action(task.pk, delay_seconds=delay)
            return
        _fail_task(instance, task, message, trace=trace)


def _fail_task(instance: WorkflowInstance, task: TaskInstance, message: str, *, trace: str = "") -> None:
    task.status = TaskStatus.ERROR
    task.save(update_fields=["status", "updated_at"])
    engine.hold_with_error(
        instance,
        ErrorKind.TASK_UPDATE,
        f"Step '{task.task_definition.key}' failed: {message}",
        task=task,
        stack_trace=trace,
    )


def _action_succeeded(claim: _Claim, response: actions.ActionResponse) -> None:
    with transaction.atomic():
        held = _still_ours(claim)
        if held is None:
            return
        instance, task = held
        if task.task_definition.task_type == TaskType.ASYNC_ACTION:
            deadline = (
                task.task_definition.callback_timeout_seconds or settings.ACTIONS_CALLBACK_DEADLINE_SECONDS
            )
            task.status = TaskStatus.PENDING
            task.deadline_at = timezone.now() + timedelta(seconds=deadline)
            task.save(update_fields=["status", "deadline_at", "updated_at"])
            engine.emit(
                instance, "action_pending", f"Waiting for the callback (HTTP {response.status}).", task=task
            )
            return
        _finish_with_response(instance, task, response.as_context(), how=f"HTTP {response.status}")


def _finish_with_response(
    instance: WorkflowInstance, task: TaskInstance, response: dict[str, Any], *, how: str
) -> None:
    body = response["body"]
    ctx = engine.context(instance, output=body, response=response)
    try:
        output = apply_transform(task.task_definition.output_transform, ctx)
    except ExpressionError as exc:
        _fail_task(instance, task, f"output transform failed: {exc}", trace=traceback.format_exc())
        return
    if output is None:
        output = body if isinstance(body, dict) else {"result": body}
    engine.complete(instance, task, output, actor=None, how=how)


# --- callbacks ---------------------------------------------------------------------------


class CallbackOutcome(enum.Enum):
    ACCEPTED = 200
    DUPLICATE = 200 + 1  # answered 200, changes nothing
    NOT_FOUND = 404
    CONFLICT = 409


def accept_callback(*, task_uuid: UUID, token: str, payload: dict[str, Any]) -> CallbackOutcome:
    """The external system's answer to an ASYNC_ACTION. The token is the only
    credential: unknown task and wrong token are indistinguishable (404)."""
    with scopes_disabled():
        found = (
            TaskInstance.objects.filter(uuid=task_uuid)
            .values_list("pk", "company_id", "callback_token_hash")
            .first()
        )
    if found is None:
        return CallbackOutcome.NOT_FOUND
    task_id, company_id, token_hash = found
    if not token_hash or not hmac.compare_digest(engine.hash_token(token), token_hash):
        return CallbackOutcome.NOT_FOUND
    with company_scope(company_id), transaction.atomic():
        instance_id = TaskInstance.objects.values_list("workflow_instance_id", flat=True).get(pk=task_id)
        instance = locked_instance(instance_id)
        task = locked_task(task_id)
        if task.status == TaskStatus.COMPLETED and task.completed_by_callback:
            return CallbackOutcome.DUPLICATE
        # Accepted while held too: the output is kept and routing waits for resume.
        if task.status not in (TaskStatus.IN_PROGRESS, TaskStatus.PENDING) or instance.status not in (
            WorkflowStatus.IN_PROGRESS,
            WorkflowStatus.ON_HOLD,
        ):
            return CallbackOutcome.CONFLICT
        task.completed_by_callback = True
        engine.emit(instance, "callback", "Callback received.", task=task, data={"body": payload})
        _finish_with_response(instance, task, {"status": 200, "headers": {}, "body": payload}, how="callback")
        return CallbackOutcome.ACCEPTED


# --- sweeper -------------------------------------------------------------------------------


@dataclass
class SweepReport:
    expired: int = 0
    recovered: int = 0


def sweep(*, now: Any = None) -> SweepReport:
    """Finds callbacks missing past their deadline (-> error) and action tasks stuck
    IN_PROGRESS by a crashed worker (-> re-enqueued, or error when out of attempts)."""
    now = now or timezone.now()
    report = SweepReport()
    with scopes_disabled():
        overdue = list(
            TaskInstance.objects.filter(
                status__in=(TaskStatus.PENDING, TaskStatus.IN_PROGRESS), deadline_at__lt=now
            ).values_list("pk", "company_id")[:500]
        )
    for task_id, company_id in overdue:
        with company_scope(company_id), transaction.atomic():
            instance_id = TaskInstance.objects.values_list("workflow_instance_id", flat=True).get(pk=task_id)
            instance = locked_instance(instance_id)
            task = locked_task(task_id)
            if task.deadline_at is None or task.deadline_at >= now:
                continue
            if task.status == TaskStatus.PENDING:
                _fail_task(instance, task, "the callback did not arrive before its deadline.")
                report.expired += 1
            elif task.status == TaskStatus.IN_PROGRESS:
                if task.attempts < settings.ACTIONS_MAX_ATTEMPTS:
                    task.status = TaskStatus.OPEN
                    task.save(update_fields=["status", "updated_at"])
                    engine.emit(instance, "action_recovered", "Stuck action re-queued.", task=task)
                    engine.enqueue_action(task.pk)
                else:
                    _fail_task(instance, task, "the action worker stopped and attempts ran out.")
                report.recovered += 1
    return report


# --- operations for ticket admins -----------------------------------------------------------


def _require_active(instance: WorkflowInstance) -> None:
    if instance.status in FINISHED_WORKFLOW_STATUSES:
        raise StateConflict(f"The workflow is already {instance.get_status_display().lower()}.")


def retry(*, instance: WorkflowInstance, actor: User) -> None:
    """Re-runs the failed step of an on-hold workflow: a failed action is called again,
    failed routing is re-evaluated, a failed start starts again."""
    with transaction.atomic():
        instance = locked_instance(instance.pk)
        if instance.status != WorkflowStatus.ON_HOLD:
            raise StateConflict("Only a ticket on hold can be retried.")
        instance.automated_steps = 0
        engine.set_status(instance, WorkflowStatus.IN_PROGRESS)
        engine.emit(instance, "retried", "Retry requested.", actor=actor)
        last = instance.tasks.select_related("task_definition").order_by("-created_at", "-id").first()
        if last is None:
            engine.set_status(instance, WorkflowStatus.NOT_STARTED)
            start_instance(instance=instance, actor=actor)
        elif last.status == TaskStatus.ERROR:
            last.status = TaskStatus.OPEN
            last.attempts = 0
            last.deadline_at = None
            last.callback_token_hash = ""
            last.save(
                update_fields=["status", "attempts", "deadline_at", "callback_token_hash", "updated_at"]
            )
            engine.enqueue_action(last.pk)
        elif last.status == TaskStatus.COMPLETED:
            engine.advance(instance, last, actor=actor)
        elif last.status == TaskStatus.OPEN and last.task_definition.is_action:
            engine.enqueue_action(last.pk)


def complete_by_hand(*, task: TaskInstance, output: Any, actor: User) -> None:
    """A ticket admin supplies the output of an open or failed step."""
    errors = engine.validate_output(task.task_definition, output)
    if errors:
        raise OutputInvalid(errors)
    with transaction.atomic():
        instance = locked_instance(task.workflow_instance_id)
        _require_active(instance)
        current = locked_task(task.pk)
        if current.status not in (*OPEN_TASK_STATUSES, TaskStatus.ERROR):
            raise StateConflict("This step is already finished.")
        engine.set_status(instance, WorkflowStatus.IN_PROGRESS)
        engine.emit(instance, "completed_by_hand", "Step completed by hand.", task=current, actor=actor)
        engine.complete(instance, current, output, actor=actor, how=f"by hand, {actor}")


def reassign(*, task: TaskInstance, user: User | None, actor: User) -> None:
    if user is not None and (
        user.company_id != task.company_id or not user.is_active or not user.has_role(SystemRole.TASK_WORKER)
    ):
        raise ValidationError("Tasks can only go to active task workers of the same company.")
    with transaction.atomic():
        instance = locked_instance(task.workflow_instance_id)
        current = locked_task(task.pk)
        if current.status not in OPEN_TASK_STATUSES or current.task_definition.is_action:
            raise StateConflict("Only open form tasks can be reassigned.")
        now = timezone.now()
        current.assigned_to = user
        current.assigned_at = now if user else None
        current.save(update_fields=["assigned_to", "assigned_at", "updated_at"])
        if user is not None:
            User.objects.filter(pk=user.pk).update(last_assigned_at=now)
        engine.emit(
            instance,
            "reassigned",
            f"Reassigned to {user}." if user else "Unassigned.",
            task=current,
            actor=actor,
            data={"assignee": user.pk if user else None},
        )


def hold(*, instance: WorkflowInstance, actor: User) -> None:
    with transaction.atomic():
        instance = locked_instance(instance.pk)
        if instance.status != WorkflowStatus.IN_PROGRESS:
            raise StateConflict("Only a ticket in progress can be put on hold.")
        engine.set_status(instance, WorkflowStatus.ON_HOLD, hold_reason=HoldReason.MANUAL)
        engine.emit(instance, "held", "Put on hold.", actor=actor)


def resume(*, instance: WorkflowInstance, actor: User) -> None:
    """Lifts a manual hold and catches up: routes on from a step that finished while
    held, and re-queues open actions. A ticket stopped by an error is retried instead."""
    with transaction.atomic():
        instance = locked_instance(instance.pk)
        if instance.status != WorkflowStatus.ON_HOLD:
            raise StateConflict("Only a ticket on hold can be resumed.")
        if instance.hold_reason != HoldReason.MANUAL:
            raise StateConflict("This ticket stopped on an error; use retry instead.")
        engine.set_status(instance, WorkflowStatus.IN_PROGRESS)
        engine.emit(instance, "resumed", "Resumed.", actor=actor)
        last = instance.tasks.select_related("task_definition").order_by("-created_at", "-id").first()
        if last is not None and last.status == TaskStatus.COMPLETED:
            engine.advance(instance, last, actor=actor)
            return
        for task_id in (
            instance.tasks.filter(status=TaskStatus.OPEN)
            .exclude(task_definition__task_type=TaskType.FORM)
            .values_list("pk", flat=True)
        ):
            engine.enqueue_action(task_id)


def cancel(*, instance: WorkflowInstance, actor: User) -> None:
    with transaction.atomic():
        instance = locked_instance(instance.pk)
        _require_active(instance)
        now = timezone.now()
        instance.tasks.filter(status__in=(*OPEN_TASK_STATUSES, TaskStatus.ERROR)).update(
            status=TaskStatus.CANCELLED, completed_at=now, updated_at=now
        )
        instance.status = WorkflowStatus.CANCELLED
        instance.save(update_fields=["status", "updated_at"])
        engine.emit(instance, "cancelled", "Ticket cancelled.", actor=actor)
