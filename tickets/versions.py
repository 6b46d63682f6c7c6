"""Publishing workflow versions, starting tickets on them, moving tickets between them.

The draft (`WorkflowDefinition` with `is_snapshot=False`) is what the admin and bundle
import edit; tickets never run on it. Publishing records the draft as the next
`WorkflowVersion`: its canonical bundle JSON, a SHA-256 of that text, author and time,
and a frozen copy of the rows (`workflows.versions.freeze`) that instances point at.
Publishing an unchanged draft does nothing. Lock order: the draft row, then instances."""

import difflib
import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction

from accounts.models import Company, User
from tickets.bundles import BundleInvalid, bundle_text, export_bundle, validate
from workflows import versions as engine_versions
from workflows.models import ACTIVE_WORKFLOW_STATUSES, WorkflowDefinition, WorkflowInstance, WorkflowVersion


def workflow_bundle(draft: WorkflowDefinition) -> dict[str, Any]:
    """The draft as a bundle holding just that workflow (no ticket types, no roles)."""
    company = Company.objects.get(pk=draft.company_id)
    bundle = export_bundle(company=company, workflow_keys=[draft.key])
    return {"format": bundle["format"], "workflows": bundle["workflows"]}


def content_hash(bundle: dict[str, Any]) -> str:
    return hashlib.sha256(bundle_text(bundle).encode()).hexdigest()


def current_version(draft: WorkflowDefinition) -> WorkflowVersion | None:
    # With the snapshot and its start task: starting a ticket needs no further lookups.
    return (
        WorkflowVersion.objects.filter(workflow=draft)
        .select_related("snapshot__start_task")
        .order_by("-number")
        .first()
    )


def publish(*, workflow: WorkflowDefinition, actor: User | None) -> WorkflowVersion | None:
    """Publishes the draft as a new version; None when it equals the current version.
    An invalid draft is refused with its problems (BundleInvalid)."""
    with transaction.atomic():
        draft = WorkflowDefinition.objects.select_for_update(of=("self",)).get(
            pk=workflow.pk, is_snapshot=False
        )
        bundle = workflow_bundle(draft)
        digest = content_hash(bundle)
        latest = current_version(draft)
        if latest is not None and latest.content_hash == digest:
            return None
        problems = validate(bundle, company=Company.objects.get(pk=draft.company_id))
        if problems:
            raise BundleInvalid(problems)
        number = (latest.number if latest else 0) + 1
        return WorkflowVersion.objects.create(
            company_id=draft.company_id,
            workflow=draft,
            number=number,
            content_hash=digest,
            bundle=bundle,
            snapshot=engine_versions.freeze(draft, number=number),
            created_by=actor,
        )


# Snapshots are never edited (see workflows.versions), so a process may keep them: keyed
# by snapshot id and the version's publication time (ids alone come back after a rolled
# back transaction in SQLite, and in tests).
_SNAPSHOTS: dict[tuple[int, datetime], WorkflowDefinition] = {}
_SNAPSHOTS_MAX = 512


def runnable(
    draft: WorkflowDefinition, *, actor: User | None, live: tuple[int | None, datetime | None] = (None, None)
) -> WorkflowDefinition:
    """The rows a new ticket starts on: the current version's snapshot. A workflow never
    published is published first (version 1), so no ticket ever runs on a draft.
    `live`: the current version's (snapshot id, created_at) when the caller read them
    (`access.submittable_type`); a snapshot this process has seen then costs no query."""
    snapshot_id, published_at = live
    if snapshot_id is not None and published_at is not None:
        cached = _SNAPSHOTS.get((snapshot_id, published_at))
        if cached is not None:
            return cached
    # The snapshot and its start task come along: one query on the submit path.
    latest = (
        WorkflowVersion.objects.filter(workflow=draft)
        .select_related("snapshot__start_task")
        .order_by("-number")
        .first()
    )
    if latest is None:
        try:
            latest = publish(workflow=draft, actor=actor) or current_version(draft)
        except BundleInvalid:
            # Not valid yet: run the draft as it is and let the engine report the failure
            # on the ticket (as before versions), rather than refusing the submission.
            return draft
    assert latest is not None
    if len(_SNAPSHOTS) >= _SNAPSHOTS_MAX:
        _SNAPSHOTS.clear()
    _SNAPSHOTS[(latest.snapshot_id, latest.created_at)] = latest.snapshot
    return latest.snapshot


def diff(older: WorkflowVersion, newer: WorkflowVersion) -> str:
    """A unified diff of the two versions' canonical bundle texts."""
    return "".join(
        difflib.unified_diff(
            bundle_text(older.bundle).splitlines(keepends=True),
            bundle_text(newer.bundle).splitlines(keepends=True),
            fromfile=f"{older.workflow.key} v{older.number}",
            tofile=f"{newer.workflow.key} v{newer.number}",
        )
    )


@dataclass
class MoveReport:
    moved: list[int] = field(default_factory=list)  # workflow instance ids
    refused: dict[int, str] = field(default_factory=dict)

    def __str__(self) -> str:
        parts = [f"{len(self.moved)} moved"]
        if self.refused:
            parts.append(f"{len(self.refused)} refused ({'; '.join(self.refused.values())})")
        return ", ".join(parts)


def move_open_tickets(*, version: WorkflowVersion, actor: User | None) -> MoveReport:
    """Moves every open ticket of the workflow onto `version`, each in its own
    transaction; a ticket whose current task does not exist there stays and is listed."""
    report = MoveReport()
    instance_ids = list(
        WorkflowInstance.objects.filter(
            workflow__published_version__workflow=version.workflow,
            status__in=ACTIVE_WORKFLOW_STATUSES,
        )
        .exclude(workflow=version.snapshot)
        .order_by("id")
        .values_list("pk", flat=True)
    )
    for instance_id in instance_ids:
        try:
            engine_versions.move_instance(
                instance_id=instance_id,
                target=version.snapshot,
                label=f"version {version.number}",
                actor=actor,
            )
        except engine_versions.MoveRefused as exc:
            report.refused[instance_id] = f"#{instance_id}: {exc}"
        else:
            report.moved.append(instance_id)
    return report
