"""Ticket-side writes: submitting tickets, attachments, ticket-admin operations that
are phrased in ticket terms, error triage."""

from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from tickets import access, notifications, versions
from tickets.models import (
    DIGEST_KINDS,
    Comment,
    EmailMode,
    ErrorStatus,
    FileUpload,
    Notification,
    NotificationKind,
    NotificationPreference,
    Ticket,
    TicketError,
    TicketType,
    TimelineEvent,
)
from tickets.receivers import batched_events
from workflows import fastsql
from workflows import services as engine_services
from workflows.schemas import schema_errors


class TicketDataInvalid(ValidationError):
    def __init__(self, field_errors: dict[str, list[str]]) -> None:
        self.field_errors = field_errors
        super().__init__([f"{k or 'data'}: {m}" for k, msgs in field_errors.items() for m in msgs])


def validate_ticket_data(ticket_type: TicketType, data: Any) -> dict[str, list[str]]:
    return schema_errors(ticket_type.fields, data, what="Ticket data")


def summary_for(ticket_type: TicketType, data: dict[str, Any]) -> str:
    """A short title: the first string field of the data, else the type's title."""
    for key in ("title", "summary", "subject"):
        if isinstance(data.get(key), str) and data[key].strip():
            return data[key].strip()[:255]
    for value in data.values():
        if isinstance(value, str) and value.strip():
            return value.strip()[:255]
    return ticket_type.title


def check_attachments(files: list[UploadedFile]) -> None:
    limit = settings.UPLOAD_MAX_BYTES
    too_big = [f.name for f in files if (f.size or 0) > limit]
    if too_big:
        raise ValidationError(
            f"{', '.join(str(n) for n in too_big)}: larger than the {limit // 1024} KiB limit."
        )


def submit_ticket(
    *, user: User, ticket_type: TicketType, data: Any, files: list[UploadedFile] | None = None
) -> Ticket:
    """Creates the ticket, its workflow instance and first task in one transaction.
    A workflow that cannot start leaves an error on the ticket; it never raises."""
    if not access.may_submit(user, ticket_type):
        raise PermissionDenied("You may not submit this ticket type.")
    errors = validate_ticket_data(ticket_type, data)
    if errors:
        raise TicketDataInvalid(errors)
    files = files or []
    check_attachments(files)
    stored: list[str] = []
    try:
        with transaction.atomic():
            instance = engine_services.new_instance(
                company_id=ticket_type.company_id,
                workflow=versions.runnable(
                    ticket_type.workflow,
                    actor=user,
                    live=(
                        getattr(ticket_type, "live_snapshot_id", None),
                        getattr(ticket_type, "live_published_at", None),
                    ),
                ),
                ticket_data=data,
                submitted_by=user,
                starting=True,
            )
            ticket = Ticket(
                company_id=ticket_type.company_id,
                ticket_type=ticket_type,
                title=summary_for(ticket_type, data),
                data=data,
                created_by=user,
            )
            fastsql.insert_pair(instance, ticket, "workflow_instance")  # one statement
            _store_files(ticket=ticket, user=user, files=files, stored=stored)
            with notifications.batched():
                with batched_events(ticket):
                    engine_services.start_instance(instance=instance, actor=user, fresh=True)
                notifications.ticket_received(ticket)
    except BaseException:
        for path in stored:  # the rows rolled back; do not leave orphaned files
            default_storage.delete(path)
        raise
    return ticket


def _store_files(
    *,
    ticket: Ticket,
    user: User,
    files: list[UploadedFile],
    stored: list[str],
    comment: Comment | None = None,
) -> None:
    """Saves each file under a random key and records it; `stored` collects the paths so
    the caller can delete them if its transaction rolls back."""
    for upload in files:
        row = FileUpload(
            company_id=ticket.company_id,
            ticket=ticket,
            comment=comment,
            filename=(upload.name or "file")[:255],
            file_type=(upload.content_type or "")[:100],
            size=upload.size or 0,
            uploaded_by=user,
        )
        stored.append(default_storage.save(storage_path(row), upload))
        row.save()


MAX_COMMENT_CHARS = 10_000


def add_comment(
    *, ticket: Ticket, author: User, body: str, internal: bool, files: list[UploadedFile] | None = None
) -> Comment:
    """A public reply or an internal note, with attachments (same limits as tickets), a
    timeline event and the notifications, in one transaction."""
    if not access.may_reply(author, ticket):
        raise PermissionDenied("You may not comment on this ticket.")
    if internal and not access.on_ticket_team(author, ticket):
        raise PermissionDenied("Only ticket admins and the ticket's assignees write internal notes.")
    body = (body or "").strip()
    if not body:
        raise ValidationError("Write a message.")
    if len(body) > MAX_COMMENT_CHARS:
        raise ValidationError(f"A message can have at most {MAX_COMMENT_CHARS} characters.")
    files = files or []
    check_attachments(files)
    stored: list[str] = []
    try:
        with transaction.atomic():
            comment = Comment.objects.create(
                company_id=ticket.company_id, ticket=ticket, author=author, body=body, internal=internal
            )
            _store_files(ticket=ticket, user=author, files=files, stored=stored, comment=comment)
            TimelineEvent.objects.create(
                company_id=ticket.company_id,
                ticket=ticket,
                kind="internal_note" if internal else "comment",
                message=f"Internal note by {author}." if internal else f"Reply by {author}.",
                actor=author,
                data={"comment": comment.pk},
            )
            notifications.comment_added(comment)
    except BaseException:
        for path in stored:
            default_storage.delete(path)
        raise
    return comment


def storage_path(upload: FileUpload) -> str:
    return f"uploads/{upload.company_id}/{upload.ext_key}"


def cancel_ticket(*, ticket: Ticket, actor: User, reason: str) -> None:
    if not access.may_cancel_ticket(actor, ticket):
        raise PermissionDenied("Only the submitter or a ticket admin may cancel this ticket.")
    engine_services.cancel(instance=ticket.workflow_instance, actor=actor, reason=reason)


def set_error_status(*, error: TicketError, status: str, notes: str, actor: User) -> None:
    order = [ErrorStatus.NEW, ErrorStatus.REVIEWED, ErrorStatus.RESOLVED]
    if status not in order:
        raise ValidationError(f"Unknown status {status!r}.")
    if order.index(ErrorStatus(status)) < order.index(ErrorStatus(error.status)):
        raise ValidationError("An error's status only moves forward (new → reviewed → resolved).")
    error.status = status
    if notes:
        error.resolution_notes = notes
    error.save(update_fields=["status", "resolution_notes", "updated_at"])


def set_notification_preferences(*, user: User, choices: dict[str, str]) -> None:
    """Stores the user's email choice per kind (only kinds that exist; daily only where
    offered). One transaction."""
    allowed = {str(k) for k in NotificationKind}
    company_id = access.company_id(user)
    if company_id is None:
        raise PermissionDenied("Notification choices belong to company users.")
    with transaction.atomic():
        for kind, mode in choices.items():
            if kind not in allowed or mode not in EmailMode.values:
                raise ValidationError(f"Unknown choice {mode!r} for {kind!r}.")
            if mode == EmailMode.DAILY and kind not in DIGEST_KINDS:
                raise ValidationError(f"A daily digest is not offered for {kind!r}.")
            NotificationPreference._base_manager.update_or_create(
                user=user, kind=kind, defaults={"email": mode, "company_id": company_id}
            )


def mark_notifications_read(*, user: User, notification_id: int | None = None) -> int:
    """Marks one of the user's notices (or all of them) read; returns how many changed."""
    qs = Notification._base_manager.filter(recipient=user, read_at__isnull=True)
    if notification_id is not None:
        qs = qs.filter(pk=notification_id)
    return qs.update(read_at=timezone.now())
