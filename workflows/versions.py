"""Workflow versions, the engine half: frozen copies of definition rows, and moving a
running instance to another version.

A published version's rows (`WorkflowDefinition.is_snapshot`, its tasks and transitions)
are copies no one edits. Instances point at them, so the engine needs no version logic:
it follows foreign keys as before, and a running ticket finishes on the rows it
started with. The bundle JSON and publishing live in `tickets.versions` (bundles hold
ticket types)."""

from typing import Any

from django.db import transaction

from accounts.models import User
from workflows import engine
from workflows.models import (
    OPEN_TASK_STATUSES,
    TaskDefinition,
    Transition,
    WorkflowDefinition,
    WorkflowInstance,
    WorkflowStatus,
)


class MoveRefused(Exception):
    """The instance cannot move to that version (a task it is on does not exist there)."""


def _copy_values(obj: Any, skip: set[str]) -> dict[str, Any]:
    # Every concrete field, so fields other features add are frozen too.
    return {
        f.attname: getattr(obj, f.attname)
        for f in obj._meta.concrete_fields
        if not f.primary_key and f.name not in skip
    }


def freeze(draft: WorkflowDefinition, *, number: int) -> WorkflowDefinition:
    """Copies the draft's rows into a snapshot (a fixed number of bulk inserts)."""
    values = _copy_values(draft, {"start_task", "is_snapshot", "version", "created_at", "updated_at"})
    snapshot = WorkflowDefinition.objects.create(**values, is_snapshot=True, version=number)
    tasks = list(TaskDefinition.objects.filter(workflow=draft).order_by("id"))
    copies = TaskDefinition.objects.bulk_create(
        TaskDefinition(
            **_copy_values(t, {"workflow", "is_snapshot", "created_at", "updated_at"}),
            workflow=snapshot,
            is_snapshot=True,
        )
        for t in tasks
    )
    by_old = {old.pk: new for old, new in zip(tasks, copies, strict=True)}
    Transition.objects.bulk_create(
        Transition(
            **_copy_values(tr, {"workflow", "from_task", "to_task"}),
            workflow=snapshot,
            from_task=by_old[tr.from_task_id],
            to_task=by_old[tr.to_task_id],
        )
        for tr in Transition.objects.filter(workflow=draft).order_by("id")
    )
    if draft.start_task_id in by_old:  # an update, as saving a snapshot row is refused
        snapshot.start_task = by_old[draft.start_task_id]
        WorkflowDefinition.all_objects.filter(pk=snapshot.pk).update(start_task=snapshot.start_task)
    return snapshot


def move_instance(*, instance_id: int, target: WorkflowDefinition, label: str, actor: User | None) -> None:
    """Moves a running instance onto `target` (a snapshot of the same workflow), mapping
    its open tasks by key. Refuses, changing nothing, when an open task's key is gone."""
    with transaction.atomic():
        instance = WorkflowInstance.objects.select_for_update(of=("self",)).get(pk=instance_id)
        if instance.status not in (
            WorkflowStatus.IN_PROGRESS,
            WorkflowStatus.ON_HOLD,
            WorkflowStatus.NOT_STARTED,
        ):
            raise MoveRefused("The ticket is finished.")
        if instance.workflow_id == target.pk:
            return
        source = instance.workflow
        targets = {t.key: t for t in TaskDefinition.all_objects.filter(workflow=target)}
        open_tasks = list(
            instance.tasks.select_for_update(of=("self",))
            .filter(status__in=OPEN_TASK_STATUSES)
            .select_related("task_definition")
        )
        current = instance.current_task
        needed = {t.task_definition.key for t in open_tasks} | ({current.key} if current else set())
        missing = sorted(needed - set(targets))
        if missing:
            raise MoveRefused(f"{label} has no task {', '.join(repr(k) for k in missing)}.")
        for task in open_tasks:
            task.task_definition = targets[task.task_definition.key]
            task.save(update_fields=["task_definition", "updated_at"])
        instance.workflow = target
        instance.current_task = targets[current.key] if current else None
        instance.save(update_fields=["workflow", "current_task", "updated_at"])
        engine.emit(
            instance,
            "version_moved",
            f"Moved from version {source.version} to {label}.",
            actor=actor,
            data={"from": source.version, "to": target.version, "tasks": sorted(needed)},
        )
