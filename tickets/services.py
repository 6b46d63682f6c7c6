"""Ticket-side writes: submitting tickets, attachments, ticket-admin operations that
are phrased in ticket terms, error triage."""

from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from accounts.models import User
from tickets import access, versions
from tickets.models import ErrorStatus, FileUpload, Ticket, TicketError, TicketType
from tickets.receivers import batched_events
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
            instance = engine_services.create_instance(
                company_id=ticket_type.company_id,
                workflow=versions.runnable(ticket_type.workflow, actor=user),
                ticket_data=data,
            )
            ticket = Ticket.objects.create(
                company_id=ticket_type.company_id,
                ticket_type=ticket_type,
                workflow_instance=instance,
                title=summary_for(ticket_type, data),
                data=data,
                created_by=user,
            )
            for upload in files:
                row = FileUpload(
                    company_id=ticket_type.company_id,
                    ticket=ticket,
                    filename=(upload.name or "file")[:255],
                    file_type=(upload.content_type or "")[:100],
                    size=upload.size or 0,
                    uploaded_by=user,
                )
                stored.append(default_storage.save(storage_path(row), upload))
                row.save()
            with batched_events(ticket):
                engine_services.start_instance(instance=instance, actor=user, fresh=True)
    except BaseException:
        for path in stored:  # the rows rolled back; do not leave orphaned files
            default_storage.delete(path)
        raise
    return ticket


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
