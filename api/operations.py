"""What the API and the MCP server do, once: each operation checks the key's scope, then
calls the same selectors, services and access rules as the pages. Runs inside the
caller's company scope. Problems are raised as `ApiProblem` (rendered as RFC 9457 by
the API and as tool errors by MCP)."""

import base64
import binascii
import json
import mimetypes
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile, UploadedFile
from django.db.models import Q, QuerySet
from django.template.defaultfilters import filesizeformat
from django.urls import reverse

from accounts.models import User
from api.models import ApiKey
from api.problems import ApiProblem
from api.scopes import Scope
from tickets import access, bundles
from tickets import dry_run as ticket_dry_run
from tickets import selectors as ticket_selectors
from tickets import services as ticket_services
from tickets.models import Comment, Ticket, TicketError, TicketType
from workflows import services as engine_services
from workflows.lint import ERROR
from workflows.models import OPEN_TASK_STATUSES, TaskInstance, TaskType

MAX_PAGE = 100
DEFAULT_PAGE = 25
TIMELINE_LIMIT = 200


@dataclass(frozen=True)
class Caller:
    """Who is calling: a person, through an API key (scopes apply) or their session
    (no key: the roles alone decide)."""

    user: User
    key: ApiKey | None = None

    def require(self, scope: Scope) -> None:
        if self.key is not None and scope.value not in self.key.scopes:
            raise ApiProblem(403, f"This API key lacks the '{scope.value}' scope.")


# --- pagination -----------------------------------------------------------------------


def encode_cursor(created_at: datetime, pk: int) -> str:
    raw = json.dumps([created_at.isoformat(), pk]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        stamp, pk = json.loads(raw)
        moment = datetime.fromisoformat(stamp)
        if not isinstance(pk, int) or not 0 < pk < 2**63 or moment.tzinfo is None:
            raise ValueError(pk)
        return moment.astimezone(UTC), pk
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError, OverflowError) as exc:
        raise ApiProblem(400, "The cursor is not valid; use next_cursor from a previous page.") from exc


def page_of(
    qs: QuerySet[Any], *, cursor: str | None, limit: int, newest_first: bool
) -> tuple[list[Any], str | None]:
    """Keyset pagination on (created_at, id): constant cost per page, no COUNT."""
    limit = max(1, min(limit, MAX_PAGE))
    if cursor:
        moment, pk = decode_cursor(cursor)
        if newest_first:
            qs = qs.filter(Q(created_at__lt=moment) | Q(created_at=moment, pk__lt=pk))
        else:
            qs = qs.filter(Q(created_at__gt=moment) | Q(created_at=moment, pk__gt=pk))
    order = ("-created_at", "-id") if newest_first else ("created_at", "id")
    rows = list(qs.order_by(*order)[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (encode_cursor(rows[-1].created_at, rows[-1].pk) if more and rows else None)


def utc(moment: datetime) -> datetime:
    """Any offset the client sent, as UTC (naive means UTC); out of range is a 400."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError as exc:
        raise ApiProblem(400, f"{moment.isoformat()} is out of range.") from exc


# --- bundles ----------------------------------------------------------------------------


def _problems(problems: list[bundles.Problem]) -> list[dict[str, str]]:
    return [{"path": p.path, "message": p.message} for p in problems]


def _errors_and_warnings(problems: list[bundles.Problem]) -> dict[str, list[dict[str, str]]]:
    """The validator's findings split as the admin shows them: errors refuse an import,
    warnings (workflows.lint: unreachable tasks, dead ends, action-only loops) do not."""
    return {
        "problems": _problems([p for p in problems if p.severity == ERROR]),
        "warnings": _problems([p for p in problems if p.severity != ERROR]),
    }


def _require_definitions(caller: Caller, *, write: bool) -> None:
    caller.require(Scope.DEFINITIONS_WRITE if write else Scope.DEFINITIONS_READ)
    allowed = access.edits_definitions if write else access.reads_definitions
    if not allowed(caller.user):
        raise ApiProblem(403, "Your roles do not allow this on workflow definitions.")


def validate_bundle(caller: Caller, bundle: Any) -> dict[str, Any]:
    _require_definitions(caller, write=False)
    found = _errors_and_warnings(bundles.check(bundle, company=caller.user.company))
    return {"valid": not found["problems"], **found}


def import_bundle(caller: Caller, bundle: Any) -> dict[str, Any]:
    _require_definitions(caller, write=True)
    company = caller.user.company
    assert company is not None
    try:
        report = bundles.import_bundle(company=company, bundle=bundle, actor=caller.user)
    except bundles.BundleInvalid as exc:
        raise ApiProblem(
            400, "The bundle is not valid; nothing was imported.", problems=_problems(exc.problems)
        ) from exc
    return {
        "created": report.created,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "published": report.published,
        "changed": report.changed,
        "warnings": _problems(report.warnings),
    }


def dry_run(caller: Caller, request: Any) -> dict[str, Any]:
    """A dry-run (see workflows.dry_run): `workflow` (key of a stored workflow, its draft
    or `version`) or `bundle` (not imported; `workflow` picks one of its workflows),
    `ticket`, `outputs`, `responses`. Writes nothing, calls nothing."""
    _require_definitions(caller, write=False)
    company = caller.user.company
    assert company is not None
    if not isinstance(request, dict):
        raise ApiProblem(400, "The request is a JSON object.")
    for name in ("ticket", "outputs", "responses"):
        if not isinstance(request.get(name) or {}, dict):
            raise ApiProblem(400, f"`{name}` must be a JSON object.")
    key, version, bundle = request.get("workflow"), request.get("version"), request.get("bundle")
    if version is not None and (not isinstance(version, int) or isinstance(version, bool)):
        raise ApiProblem(400, "`version` must be an integer.")
    if bundle is not None:
        problems = bundles.validate(bundle, company=company)
        if problems:
            raise ApiProblem(400, "The bundle is not valid.", problems=_problems(problems))
        workflows = [w for w in bundle["workflows"] if key is None or w["key"] == key]
        if not workflows:
            raise ApiProblem(404, f"The bundle has no workflow {key!r}.")
        spec = workflows[0]
    elif isinstance(key, str):
        try:
            spec = ticket_dry_run.stored_workflow(company, key, version=version)
        except bundles.BundleInvalid as exc:
            raise ApiProblem(404, str(exc), problems=_problems(exc.problems)) from exc
    else:
        raise ApiProblem(400, "Give `workflow` (a key) or `bundle`.")
    result = ticket_dry_run.run(
        spec,
        company=company,
        ticket=request.get("ticket") or {},
        outputs=request.get("outputs") or {},
        responses=request.get("responses") or {},
    )
    return result.as_dict()


def export_bundle(caller: Caller, workflow_keys: list[str] | None) -> dict[str, Any]:
    _require_definitions(caller, write=False)
    company = caller.user.company
    assert company is not None
    try:
        return bundles.export_bundle(company=company, workflow_keys=workflow_keys or None)
    except bundles.BundleInvalid as exc:
        raise ApiProblem(404, str(exc), problems=_problems(exc.problems)) from exc


def bundle_schema() -> dict[str, Any]:
    return bundles.bundle_schema()


# --- inline attachments (MCP) -----------------------------------------------------------------


@dataclass(frozen=True)
class InlineFile:
    """A file sent inside a JSON call (MCP tools have no multipart): its bytes in base64."""

    filename: str
    content_base64: str
    content_type: str | None = None


def _limits() -> str:
    return (
        f"Limits: {settings.UPLOAD_MAX_FILES} files, {filesizeformat(settings.UPLOAD_MAX_BYTES)} per file, "
        f"{filesizeformat(settings.UPLOAD_MAX_REQUEST_BYTES)} in total."
    )


def decode_files(items: list[InlineFile]) -> list[UploadedFile]:
    """Inline files as uploads, under the pages' limits (project/uploads.py) counted on
    the decoded bytes: over a limit is 413, bad base64 or a bad name is 400."""
    if len(items) > settings.UPLOAD_MAX_FILES:
        raise ApiProblem(413, f"Too many files in one call. {_limits()}")
    files: list[UploadedFile] = []
    total = 0
    for i, item in enumerate(items):
        encoded = "".join(item.content_base64.split())
        if len(encoded) // 4 * 3 > settings.UPLOAD_MAX_BYTES + 2:  # refuse before decoding
            raise ApiProblem(413, f"'{item.filename}' is larger than allowed. {_limits()}")
        try:
            raw = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ApiProblem(400, f"attachments[{i}].content_base64 is not valid base64.") from exc
        total += len(raw)
        if len(raw) > settings.UPLOAD_MAX_BYTES:
            raise ApiProblem(413, f"'{item.filename}' is larger than allowed. {_limits()}")
        if total > settings.UPLOAD_MAX_REQUEST_BYTES:
            raise ApiProblem(413, f"The files are larger than allowed. {_limits()}")
        # The name only (no directories), as a browser sends it.
        name = PurePosixPath(item.filename.replace("\\", "/")).name.strip()
        if not name or "\x00" in name or name in {".", ".."}:
            raise ApiProblem(400, f"attachments[{i}].filename is not a file name.")
        kind = item.content_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
        files.append(SimpleUploadedFile(name[:255], raw, content_type=kind[:100]))
    return files


# --- ticket types ------------------------------------------------------------------------


def ticket_type_out(tt: TicketType) -> dict[str, Any]:
    return {
        "key": tt.key,
        "title": tt.title,
        "description": tt.description,
        "workflow": tt.workflow.key,
        "fields_schema": tt.fields or {},
    }


def list_ticket_types(caller: Caller) -> list[dict[str, Any]]:
    """The types the caller may submit, each with the JSON Schema of its fields."""
    caller.require(Scope.TICKETS_READ)
    return [ticket_type_out(tt) for tt in access.submittable_types(caller.user).select_related("workflow")]


# --- tickets -------------------------------------------------------------------------------


def _current_step(ticket: Ticket) -> dict[str, Any] | None:
    step = ticket.workflow_instance.current_task
    if step is None:
        return None
    return {"key": step.key, "title": step.title, "type": step.task_type}


def ticket_summary(ticket: Ticket) -> dict[str, Any]:
    return {
        "id": ticket.pk,
        "type": ticket.ticket_type.key,
        "title": ticket.title,
        "status": ticket.workflow_instance.status,
        "current_step": _current_step(ticket),
        "created_at": ticket.created_at,
        "updated_at": ticket.updated_at,
    }


def _ticket_qs(caller: Caller) -> QuerySet[Ticket]:
    return access.visible_tickets(caller.user).select_related(
        "ticket_type", "workflow_instance", "workflow_instance__current_task", "created_by"
    )


def _get_ticket(caller: Caller, ticket_id: int) -> Ticket:
    ticket = _ticket_qs(caller).filter(pk=ticket_id).first()
    if ticket is None:
        raise ApiProblem(404, f"Ticket {ticket_id} not found.")
    return ticket


def list_tickets(
    caller: Caller,
    *,
    status: str | None = None,
    type_key: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    cursor: str | None = None,
    limit: int = DEFAULT_PAGE,
) -> dict[str, Any]:
    caller.require(Scope.TICKETS_READ)
    qs = _ticket_qs(caller)
    if status:
        qs = qs.filter(workflow_instance__status=status)
    if type_key:
        qs = qs.filter(ticket_type__key=type_key)
    if created_after:
        qs = qs.filter(created_at__gte=utc(created_after))
    if created_before:
        qs = qs.filter(created_at__lt=utc(created_before))
    rows, next_cursor = page_of(qs, cursor=cursor, limit=limit, newest_first=True)
    return {"items": [ticket_summary(t) for t in rows], "next_cursor": next_cursor}


def get_ticket(caller: Caller, ticket_id: int) -> dict[str, Any]:
    caller.require(Scope.TICKETS_READ)
    return ticket_detail(caller, ticket_id)


def _current_task(task: TaskInstance | None) -> dict[str, Any] | None:
    """The open task the ticket waits on, as its page shows it (step, state, who has it),
    with its id for the task endpoints."""
    if task is None or task.status not in OPEN_TASK_STATUSES:
        return None
    return {
        "id": task.pk,
        "key": task.task_definition.key,
        "title": task.task_definition.title,
        "type": task.task_definition.task_type,
        "status": task.status,
        "assignee": task.assigned_to.email if task.assigned_to else None,
        "queue": task.queue_role.name if task.queue_role else None,
    }


def ticket_detail(caller: Caller, ticket_id: int) -> dict[str, Any]:
    """The ticket as a write returns it (no read scope needed to see what you changed)."""
    ticket = _get_ticket(caller, ticket_id)
    timeline_qs = ticket.timeline.select_related("actor").order_by("-created_at", "-id")
    if not access.sees_staff_detail(caller.user):  # as on the ticket page: notes for the team only
        team = access.on_ticket_team(caller.user, ticket)
        kinds = ticket_selectors.SUBMITTER_EVENT_KINDS + (("internal_note",) if team else ())
        timeline_qs = timeline_qs.filter(kind__in=kinds)
    timeline = list(timeline_qs[:TIMELINE_LIMIT])
    timeline.reverse()
    tasks = list(
        ticket.workflow_instance.tasks.select_related(
            "task_definition", "assigned_to", "queue_role"
        ).order_by("created_at", "id")
    )
    return {
        **ticket_summary(ticket),
        "created_by": ticket.created_by.email,
        "data": ticket.data,
        "fields_schema": ticket.ticket_type.fields or {},
        "attachments": [_attachment_out(a) for a in ticket.attachments.filter(comment__isnull=True)],
        "current_task": _current_task(tasks[-1] if tasks else None),
        "public_outcomes": [
            {"step": step, "fields": [{"label": label, "value": value} for label, value in rows]}
            for step, rows in ticket_selectors.public_outcomes(tasks)
        ],
        "timeline": [
            {
                "at": e.created_at,
                "kind": e.kind,
                "message": e.message,
                "actor": e.actor.email if e.actor else None,
            }
            for e in timeline
        ],
    }


def submit_ticket(
    caller: Caller,
    *,
    type_key: str,
    data: Any,
    files: list[UploadedFile] | None = None,
    inline: list[InlineFile] | None = None,
) -> dict[str, Any]:
    caller.require(Scope.TICKETS_WRITE)
    if inline:
        files = [*(files or []), *decode_files(inline)]
    ticket_type = (
        TicketType.objects.filter(company_id=caller.user.company_id, key=type_key)
        .select_related("workflow")
        .first()
    )
    if ticket_type is None:
        raise ApiProblem(404, f"Ticket type '{type_key}' not found.")
    try:
        ticket = ticket_services.submit_ticket(
            user=caller.user, ticket_type=ticket_type, data=data, files=files
        )
    except PermissionDenied as exc:
        raise ApiProblem(403, str(exc) or "You may not submit this ticket type.") from exc
    except ticket_services.TicketDataInvalid as exc:
        raise ApiProblem(
            400, "The ticket data does not match the type's fields.", errors=exc.field_errors
        ) from exc
    except ValidationError as exc:
        raise ApiProblem(400, " ".join(exc.messages)) from exc
    return ticket_detail(caller, ticket.pk)


def cancel_ticket(caller: Caller, ticket_id: int, reason: str) -> dict[str, Any]:
    caller.require(Scope.TICKETS_WRITE)
    ticket = _get_ticket(caller, ticket_id)
    if not reason.strip():
        raise ApiProblem(400, "A reason is required to cancel a ticket.")
    try:
        ticket_services.cancel_ticket(ticket=ticket, actor=caller.user, reason=reason.strip())
    except PermissionDenied as exc:
        raise ApiProblem(403, str(exc)) from exc
    except engine_services.StateConflict as exc:
        raise ApiProblem(409, str(exc)) from exc
    return ticket_detail(caller, ticket_id)


# --- conversation -------------------------------------------------------------------------------


def _attachment_out(a: Any) -> dict[str, Any]:
    return {
        "id": a.pk,
        "filename": a.filename,
        "content_type": a.file_type,
        "size": a.size,
        "url": reverse("attachment_download", args=[a.pk]),
    }


def comment_out(comment: Comment) -> dict[str, Any]:
    return {
        "id": comment.pk,
        "author": comment.author.email,
        "body": comment.body,
        "internal": comment.internal,
        "created_at": comment.created_at,
        "attachments": [_attachment_out(a) for a in comment.attachments.all()],
    }


def _conversation(caller: Caller, ticket_id: int) -> Ticket:
    """The submitter, the ticket's assignees and ticket admins open its conversation."""
    ticket = access.commentable_tickets(caller.user).filter(pk=ticket_id).first()
    if ticket is None:
        raise ApiProblem(404, f"Ticket {ticket_id} not found.")
    return ticket


def list_comments(
    caller: Caller, ticket_id: int, *, cursor: str | None = None, limit: int = MAX_PAGE
) -> dict[str, Any]:
    """The conversation, oldest first, in keyset pages; internal notes for the team only."""
    caller.require(Scope.TICKETS_READ)
    ticket = _conversation(caller, ticket_id)
    team = access.on_ticket_team(caller.user, ticket)
    rows, next_cursor = page_of(
        ticket_selectors.conversation(ticket, include_internal=team),
        cursor=cursor,
        limit=limit,
        newest_first=False,
    )
    return {"items": [comment_out(c) for c in rows], "next_cursor": next_cursor}


def get_ticket_and_comments(caller: Caller, ticket_id: int) -> dict[str, Any]:
    """The ticket with its conversation (MCP's get_ticket): what the caller may read of it,
    the newest 300 comments, oldest first, as the ticket page shows them."""
    caller.require(Scope.TICKETS_READ)
    ticket = _conversation(caller, ticket_id)
    team = access.on_ticket_team(caller.user, ticket)
    comments = ticket_selectors.ticket_comments(ticket, include_internal=team)
    return {**get_ticket(caller, ticket_id), "comments": [comment_out(c) for c in comments]}


def add_comment(
    caller: Caller,
    ticket_id: int,
    *,
    body: str,
    internal: bool,
    files: list[UploadedFile] | None = None,
    inline: list[InlineFile] | None = None,
) -> dict[str, Any]:
    caller.require(Scope.TICKETS_WRITE)
    ticket = _conversation(caller, ticket_id)
    if inline:
        files = [*(files or []), *decode_files(inline)]
    try:
        comment = ticket_services.add_comment(
            ticket=ticket, author=caller.user, body=body, internal=internal, files=files
        )
    except PermissionDenied as exc:
        raise ApiProblem(403, str(exc)) from exc
    except ValidationError as exc:
        raise ApiProblem(400, " ".join(exc.messages)) from exc
    return comment_out(comment)


# --- tasks -------------------------------------------------------------------------------------


def task_out(task: TaskInstance, *, detail: bool = False) -> dict[str, Any]:
    definition = task.task_definition
    ticket = task.workflow_instance.ticket
    out: dict[str, Any] = {
        "id": task.pk,
        "ticket_id": ticket.pk,
        "ticket_title": ticket.title,
        "key": definition.key,
        "title": definition.title,
        "type": definition.task_type,
        "status": task.status,
        "assignee": task.assigned_to.email if task.assigned_to else None,
        "queue": task.queue_role.name if task.queue_role else None,
        "created_at": task.created_at,
    }
    if detail:
        out |= {
            "description": definition.description,
            "input": task.input_data or {},
            "output_schema": definition.output_schema or {},
            "output": task.output_data,
            "ticket_data": ticket.data,
        }
    return out


def _task_qs(caller: Caller) -> QuerySet[TaskInstance]:
    return access.visible_tasks(caller.user).select_related(
        "task_definition", "assigned_to", "queue_role", "workflow_instance__ticket"
    )


def _get_task(caller: Caller, task_id: int) -> TaskInstance:
    task = _task_qs(caller).filter(pk=task_id).first()
    if task is None:
        raise ApiProblem(404, f"Task {task_id} not found.")
    return task


def list_tasks(caller: Caller, *, cursor: str | None = None, limit: int = DEFAULT_PAGE) -> dict[str, Any]:
    """The caller's open tasks, oldest first (the order of the worker page)."""
    caller.require(Scope.TASKS_READ)
    qs = access.open_tasks_for(caller.user).select_related(
        "task_definition", "assigned_to", "queue_role", "workflow_instance__ticket"
    )
    rows, next_cursor = page_of(qs, cursor=cursor, limit=limit, newest_first=False)
    return {"items": [task_out(t) for t in rows], "next_cursor": next_cursor}


def list_claimable(caller: Caller, *, cursor: str | None = None, limit: int = DEFAULT_PAGE) -> dict[str, Any]:
    """Unclaimed queue tasks of the caller's company roles, oldest first."""
    caller.require(Scope.TASKS_READ)
    qs = access.claimable_tasks(caller.user).select_related("assigned_to", "workflow_instance__ticket")
    rows, next_cursor = page_of(qs, cursor=cursor, limit=limit, newest_first=False)
    return {"items": [task_out(t) for t in rows], "next_cursor": next_cursor}


def claim_task(caller: Caller, task_id: int) -> dict[str, Any]:
    caller.require(Scope.TASKS_WRITE)
    if access.claimed_by_another(caller.user, task_id):  # lost the race: not a 404
        raise ApiProblem(409, "Someone else has already claimed this task.")
    task = _get_task(caller, task_id)
    try:
        engine_services.claim(task=task, actor=caller.user, permitted=access.may_claim_task)
    except PermissionDenied as exc:
        raise ApiProblem(403, str(exc)) from exc
    except engine_services.StateConflict as exc:
        raise ApiProblem(409, str(exc)) from exc
    return task_out(_get_task(caller, task_id), detail=True)


def release_task(caller: Caller, task_id: int) -> dict[str, Any]:
    caller.require(Scope.TASKS_WRITE)
    task = _get_task(caller, task_id)
    try:
        engine_services.release(task=task, actor=caller.user)
    except PermissionDenied as exc:
        raise ApiProblem(403, str(exc)) from exc
    except engine_services.StateConflict as exc:
        raise ApiProblem(409, str(exc)) from exc
    return task_out(task_after_release(caller, task), detail=True)


def task_after_release(caller: Caller, task: TaskInstance) -> TaskInstance:
    """The released task is back in its queue: still visible to the caller if they may
    claim it again, else shown as it now is."""
    found = _task_qs(caller).filter(pk=task.pk).first()
    if found is not None:
        return found
    task.refresh_from_db()
    return task


def get_task(caller: Caller, task_id: int) -> dict[str, Any]:
    caller.require(Scope.TASKS_READ)
    return task_out(_get_task(caller, task_id), detail=True)


def complete_task(caller: Caller, task_id: int, output: Any) -> dict[str, Any]:
    caller.require(Scope.TASKS_WRITE)
    task = _get_task(caller, task_id)
    if not access.may_complete_task(caller.user, task):
        raise ApiProblem(403, "Only the assignee or a ticket admin may complete this task.")
    if task.task_definition.task_type != TaskType.FORM:
        raise ApiProblem(409, "Only form tasks are completed by people; actions complete themselves.")
    try:
        engine_services.complete_form_task(
            task=task, output=output, actor=caller.user, permitted=access.may_complete_task
        )
    except PermissionDenied as exc:
        raise ApiProblem(403, str(exc)) from exc
    except engine_services.OutputInvalid as exc:
        raise ApiProblem(
            400, "The output does not match the task's output schema.", errors=exc.field_errors
        ) from exc
    except engine_services.StateConflict as exc:
        raise ApiProblem(409, str(exc)) from exc
    return task_out(_get_task(caller, task_id), detail=True)


# --- errors ------------------------------------------------------------------------------------


def _require_ticket_admin(caller: Caller) -> None:
    if not access.manages_tickets(caller.user):
        raise ApiProblem(403, "Ticket errors are for ticket admins.")


def error_out(error: TicketError) -> dict[str, Any]:
    return {
        "id": error.pk,
        "ticket_id": error.ticket_id,
        "type": error.error_type,
        "status": error.status,
        "message": error.message,
        "task_id": error.task_instance_id,
        "created_at": error.created_at,
    }


def list_errors(
    caller: Caller, *, status: str | None = None, cursor: str | None = None, limit: int = DEFAULT_PAGE
) -> dict[str, Any]:
    caller.require(Scope.TICKETS_READ)
    _require_ticket_admin(caller)
    qs = access.visible_errors(caller.user)
    if status:
        qs = qs.filter(status=status)
    rows, next_cursor = page_of(qs, cursor=cursor, limit=limit, newest_first=True)
    return {"items": [error_out(e) for e in rows], "next_cursor": next_cursor}


def retry_error(caller: Caller, error_id: int) -> dict[str, Any]:
    caller.require(Scope.TICKETS_WRITE)
    _require_ticket_admin(caller)
    error = (
        access.visible_errors(caller.user)
        .filter(pk=error_id)
        .select_related("ticket__workflow_instance")
        .first()
    )
    if error is None:
        raise ApiProblem(404, f"Error {error_id} not found.")
    if not access.may_operate_ticket(caller.user, error.ticket):
        raise ApiProblem(403, "Retry is for ticket admins.")
    try:
        engine_services.retry(instance=error.ticket.workflow_instance, actor=caller.user)
    except engine_services.StateConflict as exc:
        raise ApiProblem(409, str(exc)) from exc
    return ticket_detail(caller, error.ticket_id)
