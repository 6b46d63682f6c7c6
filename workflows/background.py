"""The background half of the workflow engine: one attempt of an action (claim, call,
apply), the callbacks of asynchronous actions, and the sweeper.

Entry points: `run_action` (the queued job, `workflows.tasks`), `accept_callback`
(`workflows.views.callback`) and `sweep` (`manage.py sweep_workflows`). Each enters
the company's scope itself, locks through `engine.lock_task` and compare-and-sets, so a
duplicate job, a late answer or a repeated callback changes nothing."""

import enum
import hmac
import logging
import time
import traceback
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.urls import reverse
from django.utils import timezone
from django_scopes import scopes_disabled

from accounts.tenancy import company_scope
from workflows import actions, assignment, engine
from workflows.expressions import ExpressionError, apply_transform
from workflows.models import (
    ErrorType,
    TaskInstance,
    TaskStatus,
    TaskType,
    WorkflowInstance,
    WorkflowStatus,
)

logger = logging.getLogger(__name__)

# Seconds beyond its own timeout after which a running action counts as stuck.
STUCK_GRACE_SECONDS = 60


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
        claim = _retrying_db_errors(lambda: _claim_action(task_id))
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
            message, transient, trace = str(exc), exc.transient, traceback.format_exc()
            _retrying_db_errors(lambda: _action_failed(claim, message, transient=transient, trace=trace))
        except Exception as exc:  # a bug must still become a visible ticket error
            logger.exception("Action task %s crashed", task_id)
            message, trace = f"Unexpected error: {exc!r}", traceback.format_exc()
            _retrying_db_errors(lambda: _action_failed(claim, message, transient=False, trace=trace))
        else:
            # The call happened: keep trying to record it rather than call twice.
            _retrying_db_errors(lambda: _action_succeeded(claim, response))


# Transient database failures: a lost connection, a deadlock, a serialization failure.
DB_RETRY_ATTEMPTS = 5


def _retrying_db_errors[T](step: Callable[[], T]) -> T:
    """Runs one short transaction, reconnecting and retrying on transient database
    errors. Safe because every step compare-and-sets: a retry after a commit whose
    answer was lost finds the task moved on and changes nothing."""
    for attempt in range(DB_RETRY_ATTEMPTS):
        try:
            return step()
        except (OperationalError, InterfaceError) as exc:
            if attempt == DB_RETRY_ATTEMPTS - 1 or connection.in_atomic_block:
                raise
            delay = 0.2 * 2**attempt
            logger.warning("Database error (%s); reconnecting and retrying in %.1fs.", exc, delay)
            connection.close()
            time.sleep(delay)
    raise AssertionError("unreachable")


def _claim_action(task_id: int) -> _Claim | None:
    with transaction.atomic(), assignment.tracked_loads(), engine.batched():
        locked = engine.lock_task(task_id, statuses=(TaskStatus.OPEN,))
        if locked is None:
            return None
        instance, task = locked
        if instance.status != WorkflowStatus.IN_PROGRESS:
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
    return engine.lock_task(claim.task_id, statuses=(TaskStatus.IN_PROGRESS,), attempt=claim.attempt)


def _action_failed(claim: _Claim, message: str, *, transient: bool, trace: str) -> None:
    with transaction.atomic(), assignment.tracked_loads(), engine.batched():
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
            engine.request_action(task, delay_seconds=delay)
            return
        _fail_task(instance, task, message, trace=trace)


def _fail_task(instance: WorkflowInstance, task: TaskInstance, message: str, *, trace: str = "") -> None:
    task.status = TaskStatus.ERROR
    task.save(update_fields=["status", "updated_at"])
    engine.hold_with_error(
        instance,
        ErrorType.TASK_UPDATE,
        f"Step {engine.step_name(task.task_definition)} failed: {message}",
        task=task,
        stack_trace=trace,
    )


def _action_succeeded(claim: _Claim, response: actions.ActionResponse) -> None:
    with transaction.atomic(), assignment.tracked_loads(), engine.batched():
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


@dataclass(frozen=True)
class CallbackCaller:
    """Who a callback's bearer token authenticates: one task of one company."""

    task_id: int
    company_id: int


def authenticate_callback(*, task_uuid: UUID, token: str) -> CallbackCaller | None:
    """The token is the only credential: unknown task and wrong token are
    indistinguishable (None). Runs before the body is even read."""
    if not token:
        return None
    with scopes_disabled():
        found = (
            TaskInstance.objects.filter(uuid=task_uuid)
            .values_list("pk", "company_id", "callback_token_hash")
            .first()
        )
    if found is None:
        return None
    task_id, company_id, token_hash = found
    if not token_hash or not hmac.compare_digest(engine.hash_token(token), token_hash):
        return None
    return CallbackCaller(task_id=task_id, company_id=company_id)


def accept_callback(*, caller: CallbackCaller, token: str, payload: dict[str, Any]) -> CallbackOutcome:
    """The external system's answer to an ASYNC_ACTION (`payload`: checked JSON)."""
    with company_scope(caller.company_id), transaction.atomic(), assignment.tracked_loads(), engine.batched():
        instance, task = engine.lock_task(caller.task_id)
        # Again on the locked row: a retry may have issued a new token meanwhile.
        if not task.callback_token_hash or not hmac.compare_digest(
            engine.hash_token(token), task.callback_token_hash
        ):
            return CallbackOutcome.NOT_FOUND
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
    requeued: int = 0
    still_queued: int = 0


_OVERDUE_STATUSES = (TaskStatus.OPEN, TaskStatus.PENDING, TaskStatus.IN_PROGRESS)


def sweep(*, now: Any = None, waiting: Collection[int] = ()) -> SweepReport:
    """Finds, by their deadline: callbacks missing (-> error), action tasks stuck
    IN_PROGRESS by a crashed worker (-> queued again, or error when out of attempts),
    and OPEN action tasks no worker claimed (-> queued again; the job was lost between
    database and queue, or failed before its claim). Claims are compare-and-set, so a
    duplicate job is harmless. `waiting`: tasks whose job is known to wait in the queue
    (a backlog, not a loss): their deadline moves on instead."""
    now = now or timezone.now()
    report = SweepReport()
    with scopes_disabled():
        overdue = list(
            TaskInstance.objects.filter(status__in=_OVERDUE_STATUSES, deadline_at__lt=now)
            .order_by("deadline_at")
            .values_list("pk", "company_id")[:500]
        )
    for task_id, company_id in overdue:
        try:
            _sweep_one(task_id, company_id, now, report, task_id in waiting)
        except OperationalError as exc:  # a deadlock or serialization failure: next pass
            if not connection.is_usable():
                raise
            logger.warning("Sweeping task %s failed (%s); the next pass retries it.", task_id, exc)
    return report


def _sweep_one(task_id: int, company_id: int, now: Any, report: SweepReport, waiting: bool) -> None:
    with company_scope(company_id), transaction.atomic(), assignment.tracked_loads(), engine.batched():
        locked = engine.lock_task(task_id, statuses=_OVERDUE_STATUSES)
        if locked is None:
            return
        instance, task = locked
        if task.deadline_at is None or task.deadline_at >= now:
            return
        if task.status == TaskStatus.OPEN:
            if instance.status != WorkflowStatus.IN_PROGRESS or not task.task_definition.is_action:
                task.deadline_at = None  # held: resume or retry asks for it again
                task.save(update_fields=["deadline_at", "updated_at"])
                return
            if waiting:
                task.deadline_at = now + timedelta(seconds=settings.ACTIONS_REQUEUE_AFTER_SECONDS)
                task.save(update_fields=["deadline_at", "updated_at"])
                report.still_queued += 1
                return
            engine.emit(instance, "action_requeued", "Action not picked up in time; queued again.", task=task)
            engine.request_action(task)
            report.requeued += 1
        elif task.status == TaskStatus.PENDING:
            _fail_task(instance, task, "the callback did not arrive before its deadline.")
            report.expired += 1
        elif task.status == TaskStatus.IN_PROGRESS:
            if task.attempts < settings.ACTIONS_MAX_ATTEMPTS:
                task.status = TaskStatus.OPEN
                task.save(update_fields=["status", "updated_at"])
                engine.emit(instance, "action_recovered", "Stuck action re-queued.", task=task)
                engine.request_action(task)
            else:
                _fail_task(instance, task, "the action worker stopped and attempts ran out.")
            report.recovered += 1
