"""Workflow services, the request half: starting workflows, completing form steps
and the ticket admins' operations. The background half (action calls, callbacks,
sweeper) is `workflows.background`; both call `workflows.engine`.

Each write is atomic and starts by locking the workflow instance row, then re-reads
and compare-and-sets the task status, so racing workers, callbacks and people advance a
workflow exactly once. Callers pass objects of one company and run inside its scope
(requests get it from middleware)."""

from collections.abc import Callable
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from workflows import assignment, engine
from workflows.models import (
    FINISHED_WORKFLOW_STATUSES,
    OPEN_TASK_STATUSES,
    ErrorType,
    HoldReason,
    TaskInstance,
    TaskStatus,
    TaskType,
    WorkflowDefinition,
    WorkflowInstance,
    WorkflowStatus,
)


class OutputInvalid(ValidationError):
    """A task output that does not match the output schema; `field_errors` by path."""

    def __init__(self, field_errors: dict[str, list[str]]) -> None:
        self.field_errors = field_errors
        super().__init__([f"{k or 'output'}: {m}" for k, msgs in field_errors.items() for m in msgs])


class StateConflict(Exception):
    """The step is no longer possible (already done, cancelled, on hold, ...)."""


# --- start -------------------------------------------------------------------------


def new_instance(
    *,
    company_id: int,
    workflow: WorkflowDefinition,
    ticket_data: dict[str, Any],
    submitted_by: User | None = None,
    starting: bool = False,
) -> WorkflowInstance:
    """An instance for the caller to insert (submit inserts it with its ticket in one
    statement, `fastsql.insert_pair`). `starting`: the caller runs
    `start_instance(fresh=True)` next in this transaction; when the start task is a FORM
    task the row is inserted as entering it leaves it (in progress, on that task), so the
    engine need not update it (see `engine.enter_task`)."""
    if workflow.company_id != company_id:
        raise PermissionDenied("Workflow belongs to another company.")
    start = workflow.start_task if starting and workflow.start_task_id is not None else None
    entering = start is not None and not start.is_action
    instance = WorkflowInstance(
        company_id=company_id,
        workflow=workflow,
        submitted_by=submitted_by,
        status=WorkflowStatus.IN_PROGRESS if entering else WorkflowStatus.NOT_STARTED,
        current_task=start if entering else None,
        workflow_data={"ticket": ticket_data, "tasks": {}},
    )
    if entering:
        engine.mark_entered(instance)
    return instance


def start_instance(
    *, instance: WorkflowInstance, actor: User | None, fresh: bool = False
) -> TaskInstance | None:
    """Creates the first task. A definition that cannot start leaves the instance on
    hold with a WORKFLOW_CREATION error instead of raising.

    `fresh`: the caller created `instance` in its still-open transaction (submit), so no
    one else can see the row: no lock, no re-read, no savepoint of its own."""
    with transaction.atomic(savepoint=not fresh), assignment.tracked_loads(), engine.batched():
        if not fresh:
            instance = engine.lock_instance(instance.pk, related=("workflow__start_task",))
        workflow = instance.workflow
        if workflow.start_task_id is None:
            engine.hold_with_error(
                instance,
                ErrorType.WORKFLOW_CREATION,
                f"Workflow '{workflow.key}' has no start task.",
            )
            return None
        engine.emit(instance, "started", f"Workflow '{workflow.title}' started.", actor=actor)
        assert workflow.start_task is not None
        return engine.enter_task(instance, workflow.start_task, creation=True)


# --- human completion ----------------------------------------------------------------


# A rule from the caller (the access module, `tickets.access`).
TaskRule = Callable[[User, TaskInstance], bool]


def complete_form_task(
    *, task: TaskInstance, output: Any, actor: User, permitted: Callable[[User, TaskInstance], bool]
) -> None:
    """`permitted(actor, task)` is the caller's access rule (`tickets.access.may_complete_task`);
    it is checked before and again on the locked row, as a reassignment may have won."""
    if not permitted(actor, task):
        raise PermissionDenied("Only the assignee or a ticket admin may complete this task.")
    if task.task_definition.task_type != TaskType.FORM:
        raise StateConflict("Only form tasks are completed through a form.")
    errors = engine.validate_output(task.task_definition, output)
    if errors:
        raise OutputInvalid(errors)
    with transaction.atomic(), assignment.tracked_loads(), engine.batched():
        locked = engine.lock_task(task.pk, instance_id=task.workflow_instance_id, statuses=OPEN_TASK_STATUSES)
        if locked is None:
            raise StateConflict("This task is already finished.")
        instance, current = locked
        if not permitted(actor, current):
            raise PermissionDenied(
                "This task was reassigned; only its assignee or a ticket admin may complete it."
            )
        if instance.status != WorkflowStatus.IN_PROGRESS:
            raise StateConflict(f"The ticket is {instance.get_status_display().lower()}.")
        engine.complete(instance, current, output, actor=actor, how=f"by {actor}")


# --- operations for ticket admins -----------------------------------------------------------


def _require_active(instance: WorkflowInstance) -> None:
    if instance.status in FINISHED_WORKFLOW_STATUSES:
        raise StateConflict(f"The workflow is already {instance.get_status_display().lower()}.")


def retry(*, instance: WorkflowInstance, actor: User) -> None:
    """Re-runs the failed step of an on-hold workflow: a failed action is called again,
    failed routing is re-evaluated, a failed start starts again."""
    with transaction.atomic(), assignment.tracked_loads(), engine.batched():
        instance = engine.lock_instance(instance.pk)
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
            last.callback_token_hash = ""
            last.save(update_fields=["status", "attempts", "callback_token_hash", "updated_at"])
            engine.request_action(last)
        elif last.status == TaskStatus.COMPLETED:
            engine.advance(instance, last)
        elif last.status == TaskStatus.OPEN and last.task_definition.is_action:
            engine.request_action(last)


def complete_by_hand(*, task: TaskInstance, output: Any, actor: User) -> None:
    """A ticket admin supplies the output of an open or failed step."""
    errors = engine.validate_output(task.task_definition, output)
    if errors:
        raise OutputInvalid(errors)
    with transaction.atomic(), assignment.tracked_loads(), engine.batched():
        instance, current = engine.lock_task(task.pk, instance_id=task.workflow_instance_id)
        _require_active(instance)
        if current.status not in (*OPEN_TASK_STATUSES, TaskStatus.ERROR):
            raise StateConflict("This step is already finished.")
        engine.set_status(instance, WorkflowStatus.IN_PROGRESS)
        engine.emit(instance, "completed_by_hand", "Step completed by hand.", task=current, actor=actor)
        engine.complete(instance, current, output, actor=actor, how=f"by hand, {actor}")


def reassign(*, task: TaskInstance, user: User | None, actor: User, eligible: TaskRule) -> None:
    """Gives an open form task to `user` (None: unassigned); `eligible(user, task)` is the
    caller's rule for who may receive it."""
    if user is not None and not eligible(user, task):
        raise ValidationError("Tasks can only go to active task workers of the same company.")
    with transaction.atomic(), assignment.tracked_loads(), engine.batched():
        locked = engine.lock_task(task.pk, instance_id=task.workflow_instance_id, statuses=OPEN_TASK_STATUSES)
        if locked is None or locked[1].task_definition.is_action:
            raise StateConflict("Only open form tasks can be reassigned.")
        instance, current = locked
        assignment.set_assignee(current, user)
        engine.emit(
            instance,
            "reassigned",
            f"Reassigned to {user}." if user else "Unassigned.",
            task=current,
            actor=actor,
            data={"assignee": user.pk if user else None},
        )


def hold(*, instance: WorkflowInstance, actor: User) -> None:
    with transaction.atomic(), assignment.tracked_loads(), engine.batched():
        instance = engine.lock_instance(instance.pk)
        if instance.status != WorkflowStatus.IN_PROGRESS:
            raise StateConflict("Only a ticket in progress can be put on hold.")
        engine.set_status(instance, WorkflowStatus.ON_HOLD, hold_reason=HoldReason.MANUAL)
        engine.emit(instance, "held", "Put on hold.", actor=actor)


def resume(*, instance: WorkflowInstance, actor: User) -> None:
    """Lifts a manual hold and catches up: routes on from a step that finished while
    held, and re-queues open actions. A ticket stopped by an error is retried instead."""
    with transaction.atomic(), assignment.tracked_loads(), engine.batched():
        instance = engine.lock_instance(instance.pk)
        if instance.status != WorkflowStatus.ON_HOLD:
            raise StateConflict("Only a ticket on hold can be resumed.")
        if instance.hold_reason != HoldReason.MANUAL:
            raise StateConflict("This ticket stopped on an error; use retry instead.")
        engine.set_status(instance, WorkflowStatus.IN_PROGRESS)
        engine.emit(instance, "resumed", "Resumed.", actor=actor)
        last = instance.tasks.select_related("task_definition").order_by("-created_at", "-id").first()
        if last is not None and last.status == TaskStatus.COMPLETED:
            engine.advance(instance, last)
            return
        for task in instance.tasks.filter(status=TaskStatus.OPEN).exclude(
            task_definition__task_type=TaskType.FORM
        ):
            engine.request_action(task)


def cancel(*, instance: WorkflowInstance, actor: User, reason: str = "") -> None:
    """Stops the workflow for good. `reason` goes on the timeline the submitter sees."""
    reason = " ".join(reason.split())
    with transaction.atomic(), assignment.tracked_loads(), engine.batched():
        instance = engine.lock_instance(instance.pk)
        _require_active(instance)
        now = timezone.now()
        closing = instance.tasks.filter(status__in=(*OPEN_TASK_STATUSES, TaskStatus.ERROR))
        assignment.tasks_closing(
            list(closing.filter(status__in=OPEN_TASK_STATUSES).values_list("assigned_to_id", flat=True))
        )
        closing.update(status=TaskStatus.CANCELLED, completed_at=now, updated_at=now)
        instance.status = WorkflowStatus.CANCELLED
        instance.save(update_fields=["status", "updated_at"])
        engine.emit(
            instance,
            "cancelled",
            f"Ticket cancelled: {reason}"[:500] if reason else "Ticket cancelled.",
            actor=actor,
            data={"reason": reason} if reason else None,
        )


# --- queues: claim and release ---------------------------------------------------------------


def claim(*, task: TaskInstance, actor: User, permitted: TaskRule) -> None:
    """A member of the task's queue role takes it (`permitted` is the access rule,
    tickets.access.may_claim_task). Under the task's row lock the first claim wins; every
    later one gets StateConflict."""
    with transaction.atomic(), assignment.tracked_loads(), engine.batched():
        locked = engine.lock_task(task.pk, instance_id=task.workflow_instance_id, statuses=OPEN_TASK_STATUSES)
        if locked is None:
            raise StateConflict("This task is already finished.")
        instance, current = locked
        if not permitted(actor, current):
            raise PermissionDenied("Only members of the task's queue role may claim it.")
        if current.assigned_to_id == actor.pk:
            raise StateConflict("You have already claimed this task.")
        if current.assigned_to_id is not None:
            raise StateConflict("Someone else has already claimed this task.")
        if instance.status != WorkflowStatus.IN_PROGRESS:
            raise StateConflict(f"The ticket is {instance.get_status_display().lower()}.")
        assignment.set_assignee(current, actor)
        role = current.queue_role.name if current.queue_role else ""
        engine.emit(
            instance,
            "claimed",
            f"Claimed by {actor} from the '{role}' queue.",
            task=current,
            actor=actor,
            data={"assignee": actor.pk, "queue": role},
        )


def release(*, task: TaskInstance, actor: User) -> None:
    """The claimer gives a queue task back to its queue."""
    with transaction.atomic(), assignment.tracked_loads(), engine.batched():
        locked = engine.lock_task(task.pk, instance_id=task.workflow_instance_id, statuses=OPEN_TASK_STATUSES)
        if locked is None:
            raise StateConflict("This task is already finished.")
        instance, current = locked
        if current.queue_role_id is None or current.assigned_to_id != actor.pk:
            raise PermissionDenied("Only the person who holds a queue task may release it.")
        assignment.set_assignee(current, None)
        role = current.queue_role.name if current.queue_role else ""
        engine.emit(
            instance,
            "released",
            f"Released by {actor} back to the '{role}' queue.",
            task=current,
            actor=actor,
            data={"queue": role},
        )
