"""Notifications: who hears about what, as in-app notices and emails.

Each event writes its `Notification` rows inside the transaction that made the event
(so a rolled-back step notifies no one), one per recipient, with an `event_key` unique
per recipient. The email is a background job queued with the event (see
`_enqueue_emails`); it locks the row
and sends only while `emailed_at` is empty, so a job that runs twice sends once.
The actor of an event is never notified about it."""

import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import F, Min, Model
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django_tasks_db import DatabaseBackend

from accounts.models import User
from tickets import access
from tickets.models import (
    Comment,
    EmailMode,
    Notification,
    NotificationKind,
    NotificationPreference,
    Ticket,
    TicketError,
)
from workflows import fastsql
from workflows.models import TaskInstance
from workflows.tasks import queue_with_the_step

logger = logging.getLogger(__name__)

# Kinds a person can switch, grouped by who receives them (the profile page shows
# the groups that apply to the person's roles).
KIND_GROUPS: list[tuple[str, Callable[[Any], bool] | None, list[NotificationKind]]] = [
    ("As a task worker", access.may_work_tasks, [NotificationKind.TASK_ASSIGNED]),
    # Queue roles are company roles, held by workers and non-workers alike (managers).
    ("My queues", access.in_queue_roles, [NotificationKind.TASK_CLAIMABLE]),
    (
        "About my tickets",
        access.may_submit_tickets,
        [
            NotificationKind.TICKET_RECEIVED,
            NotificationKind.PUBLIC_REPLY,
            NotificationKind.PUBLIC_OUTCOME,
            NotificationKind.ON_HOLD,
            NotificationKind.COMPLETED,
            NotificationKind.CANCELLED,
        ],
    ),
    ("As a ticket admin", access.manages_tickets, [NotificationKind.TICKET_ERROR]),
    ("Conversations", None, [NotificationKind.COMMENTED_REPLY]),
]


def kind_groups_for(user: User) -> list[tuple[str, list[tuple[str, str]]]]:
    """The groups of kinds that apply to the user's roles, as (title, [(kind, label)])."""
    return [
        (title, [(str(k), str(k.label)) for k in kinds])
        for title, applies, kinds in KIND_GROUPS
        if applies is None or applies(user)
    ]


def email_modes(users: Iterable[User], kind: str) -> dict[int, str]:
    """Each user's email choice for `kind` (no stored preference means on)."""
    ids = [u.pk for u in users]
    stored = dict(
        NotificationPreference._base_manager.filter(user_id__in=ids, kind=kind).values_list(
            "user_id", "email"
        )
    )
    return {pk: stored.get(pk, EmailMode.ON) for pk in ids}


@dataclass
class _Batch:
    groups: list[tuple[NotificationKind, list[Notification]]] = field(default_factory=list)
    along: list[Model] = field(default_factory=list)  # the timeline's rows (`write_along`)


# Set by `batched()`: notices made inside are written together when the block ends.
_pending: ContextVar[_Batch | None] = ContextVar("tf_notice_batch", default=None)


def write_along(rows: list[Model]) -> bool:
    """Inside `batched()`: `rows` (the timeline's events) are written by the block's own
    statement, with the notices (`fastsql.insert_together`). False outside a block."""
    batch = _pending.get()
    if batch is None:
        return False
    batch.along += rows
    return True


@contextmanager
def batched() -> Iterator[None]:
    """Inside the caller's transaction: the notices made in the block are written with one
    INSERT and one email job when it ends (submit uses it to stay
    within its query budget). A failure inside writes nothing."""
    if _pending.get() is not None:  # nested: the outer block writes them
        yield
        return
    batch = _Batch()
    token = _pending.set(batch)
    try:
        yield
    finally:
        _pending.reset(token)
    if batch.groups or batch.along:
        _write(batch.groups, along=batch.along)


def _write(
    groups: list[tuple[NotificationKind, list[Notification]]], *, along: list[Model] | None = None
) -> list[Notification]:
    """One INSERT for every notice, each taking its recipient's email choice in the same
    statement (a subquery on the unique (user, kind) index; no row means on), and on
    PostgreSQL the `along` rows (the timeline) in the same statement. The choice comes
    back with the ids (RETURNING), and one email job is queued for the notices to mail
    now, if any. The statement's text is built once (`workflows.fastsql`)."""
    rows = [n for _, group in groups for n in group]
    fastsql.insert_together(
        [(along or [], None, ()), (rows, {"email_mode": _EMAIL_MODE_SQL}, ("email_mode",))]
    )
    to_mail = [n.pk for n in rows if n.email_mode == EmailMode.ON]
    if to_mail:
        _enqueue_emails(to_mail)
    return rows


# Each row's email choice for its kind, in the INSERT itself (the unique (user, kind)
# index; no stored choice is on).
_EMAIL_MODE_SQL: fastsql.Computed = (
    "COALESCE((SELECT email FROM tickets_notificationpreference WHERE user_id = %s AND kind = %s LIMIT 1), %s)",
    lambda n: [n.recipient_id, str(n.kind), str(EmailMode.ON)],
)


def notify(
    *,
    kind: NotificationKind,
    recipients: Iterable[User | None],
    actor: User | None,
    event_key: str,
    ticket: Ticket | None,
    title: str,
    body: str,
    url: str | None = None,
    url_for: Any = None,
) -> list[Notification]:
    """Records one notice per recipient (never the actor, never an inactive user) and
    queues the emails the recipients want (in the same transaction). Inside `batched()`
    the rows are written when the block ends, and nothing is returned."""
    people = {
        u.pk: u
        for u in recipients
        if u is not None and u.is_active and u.company_id is not None and (actor is None or u.pk != actor.pk)
    }
    if not people:
        return []
    rows = [
        Notification(
            company_id=user.company_id or 0,  # recipients without a company were dropped above
            recipient=user,
            kind=kind,
            event_key=event_key[:100],
            ticket=ticket,
            title=title[:255],
            body=body,
            url=(url_for(user) if url_for else url) or "",
        )
        for user in people.values()
    ]
    pending = _pending.get()
    if pending is not None:
        pending.groups.append((kind, rows))
        return []
    return _write([(kind, rows)])


def _enqueue_emails(ids: list[int]) -> None:
    """Like action jobs (`workflows.tasks`): the database queue takes the jobs inside the
    event's transaction, so notice and job commit together or not at all; any other
    queue gets them after the commit. A refused job is logged, not raised (the notice
    itself is kept); a lost connection fails the event's transaction as a whole."""
    from tickets.tasks import send_notification_emails

    def _enqueue() -> None:
        try:
            send_notification_emails.enqueue(ids)
        except Exception:
            logger.exception("Could not queue notification emails %s.", ids)

    if isinstance(send_notification_emails.get_backend(), DatabaseBackend):
        queue_with_the_step(
            lambda: send_notification_emails.enqueue(ids),
            failure=f"Could not queue notification emails {ids}.",
            log=logger,
        )
    else:
        transaction.on_commit(_enqueue)


def absolute(url: str) -> str:
    return settings.PUBLIC_BASE_URL.rstrip("/") + url


def send_email(notification_id: int) -> bool:
    """Sends the notice's email once; True if it was sent now. The row lock plus
    `emailed_at` make a second run (a retried or duplicated job) a no-op."""
    with transaction.atomic():
        notice = (
            Notification._base_manager.select_for_update(of=("self",))
            .filter(pk=notification_id, emailed_at__isnull=True, email_mode=EmailMode.ON)
            .first()
        )
        if notice is None:
            return False
        recipient = User.objects.get(pk=notice.recipient_id)
        if not recipient.is_active:
            return False
        _message(notice, recipient, [notice]).send()
        notice.emailed_at = timezone.now()
        notice.save(update_fields=["emailed_at"])
    return True


def send_digests(*, due_before: datetime | None = None) -> int:
    """One email per person with their pending daily-digest notices; returns how many
    emails were sent. With `due_before`, only people whose oldest pending notice is older
    (the sweeper's daily pass); without, everyone (`manage.py send_notification_digests`)."""
    sent = 0
    pending = Notification._base_manager.filter(email_mode=EmailMode.DAILY, emailed_at__isnull=True)
    people = pending.values("recipient_id").annotate(oldest=Min("created_at"))
    if due_before is not None:
        people = people.filter(oldest__lt=due_before)
    for recipient_id in [row["recipient_id"] for row in people[:_UPKEEP_BATCH]]:
        with transaction.atomic():
            notices = list(
                pending.select_for_update(of=("self",))
                .filter(recipient_id=recipient_id)
                .order_by("created_at", "id")
            )
            recipient = User.objects.get(pk=recipient_id)
            if not notices:
                continue
            if recipient.is_active:
                _message(notices[0], recipient, notices, digest=True).send()
                sent += 1
            # An inactive person's digest is dropped, not kept pending for ever.
            Notification._base_manager.filter(pk__in=[n.pk for n in notices]).update(
                emailed_at=timezone.now()
            )
    return sent


_UPKEEP_BATCH = 500


def retry_unsent_emails(*, now: datetime | None = None) -> int:
    """Queues again the emails whose job failed or was never queued: an email still unsent
    after NOTIFICATION_EMAIL_RETRY_SECONDS * 2**retries, up to the attempt limit. Sending
    is once-only (send_email), so a retry racing a slow job is harmless. Returns how many."""
    now = now or timezone.now()
    base = settings.NOTIFICATION_EMAIL_RETRY_SECONDS
    due: list[int] = []
    for retries in range(settings.NOTIFICATION_EMAIL_MAX_ATTEMPTS - 1):
        due += (
            Notification._base_manager.filter(
                email_mode=EmailMode.ON,
                emailed_at__isnull=True,
                email_retries=retries,
                created_at__lt=now - timedelta(seconds=base * 2**retries),
            )
            .order_by("created_at")
            .values_list("pk", flat=True)[:_UPKEEP_BATCH]
        )
    if not due:
        return 0
    with transaction.atomic():
        Notification._base_manager.filter(pk__in=due).update(email_retries=F("email_retries") + 1)
        _enqueue_emails(due)
    return len(due)


def upkeep(*, now: datetime | None = None) -> str:
    """The sweeper's pass on the ticket side (see workflows.signals.swept)."""
    now = now or timezone.now()
    retried = retry_unsent_emails(now=now)
    digests = send_digests(due_before=now - timedelta(hours=settings.NOTIFICATION_DIGEST_HOURS))
    return f"emails_retried={retried} digests_sent={digests}" if retried or digests else ""


def _message(
    notice: Notification, recipient: User, notices: list[Notification], *, digest: bool = False
) -> EmailMultiAlternatives:
    context = {
        "recipient": recipient,
        "notices": [{"title": n.title, "body": n.body, "url": absolute(n.url)} for n in notices],
        "digest": digest,
        "preferences_url": absolute(reverse("notification_preferences")),
    }
    subject = f"{len(notices)} tasks waiting in your queue" if digest else notice.title
    message = EmailMultiAlternatives(
        subject=f"[TicketFlower] {subject}",
        body=render_to_string("notifications/email.txt", context),
        to=[recipient.email],
        # Stable across runs: a mail server that sees the same message twice can drop it.
        headers={"Message-ID": f"<notification-{notice.pk}{'-digest' if digest else ''}@ticketflower>"},
    )
    message.attach_alternative(render_to_string("notifications/email.html", context), "text/html")
    return message


# ----- links ---------------------------------------------------------------------------


def ticket_url(ticket: Ticket) -> str:
    return reverse("ticket_detail", args=[ticket.pk])


def link_for(user: User, ticket: Ticket) -> str:
    """Where `user` acts on this ticket: the ticket page for its submitter and ticket
    admins; for an assignee, the newest task of it assigned to them, since that is where
    they answer and complete (it shows the conversation too)."""
    if ticket.created_by_id == user.pk or access.manages_tickets(user):
        return ticket_url(ticket)
    task_id = (
        TaskInstance._base_manager.filter(workflow_instance_id=ticket.workflow_instance_id, assigned_to=user)
        .order_by("-created_at", "-id")
        .values_list("pk", flat=True)
        .first()
    )
    return reverse("task_detail", args=[task_id]) if task_id else ticket_url(ticket)


def _label(ticket: Ticket) -> str:
    return f"#{ticket.pk} {ticket.title}".strip()


# ----- events --------------------------------------------------------------------------


def ticket_received(ticket: Ticket) -> None:
    """A receipt for the submitter (their own action, but a receipt is what they expect)."""
    notify(
        kind=NotificationKind.TICKET_RECEIVED,
        recipients=[ticket.created_by],
        actor=None,
        event_key=f"ticket:{ticket.pk}:received",
        ticket=ticket,
        title=f"Ticket {_label(ticket)} was received",
        body="We received your ticket. You will hear from us as it moves on.",
        url=ticket_url(ticket),
    )


def comment_added(comment: Comment) -> None:
    ticket = comment.ticket
    author = comment.author
    excerpt = comment.body if len(comment.body) <= 2000 else comment.body[:2000] + "…"
    key = f"comment:{comment.pk}"
    submitter = User.objects.get(pk=ticket.created_by_id)
    notified: set[int] = {author.pk}
    if not comment.internal and submitter.pk not in notified:
        notify(
            kind=NotificationKind.PUBLIC_REPLY,
            recipients=[submitter],
            actor=author,
            event_key=key,
            ticket=ticket,
            title=f"New reply on your ticket {_label(ticket)}",
            body=f"{author} wrote:\n\n{excerpt}",
            url=ticket_url(ticket),
        )
        notified.add(submitter.pk)
    earlier_ids = set(
        Comment._base_manager.filter(ticket=ticket)
        .exclude(pk=comment.pk)
        .values_list("author_id", flat=True)
        .distinct()
    )
    earlier_ids -= notified
    if comment.internal:  # only the team may read it: never the submitter
        earlier_ids -= {submitter.pk}
        team = _team_ids(ticket, earlier_ids)
        earlier_ids &= team
    if not earlier_ids:
        return
    people = list(User.objects.filter(pk__in=earlier_ids))
    notify(
        kind=NotificationKind.COMMENTED_REPLY,
        recipients=people,
        actor=author,
        event_key=key,
        ticket=ticket,
        title=f"New {'internal note' if comment.internal else 'reply'} on ticket {_label(ticket)}",
        body=f"{author} wrote:\n\n{excerpt}",
        url_for=lambda user: link_for(user, ticket),
    )


def _team_ids(ticket: Ticket, candidates: set[int]) -> set[int]:
    """Which of `candidates` are on the ticket's team (ticket admins, its assignees)."""
    if not candidates:
        return set()
    assignees = set(
        TaskInstance._base_manager.filter(
            workflow_instance_id=ticket.workflow_instance_id, assigned_to_id__in=candidates
        ).values_list("assigned_to_id", flat=True)
    )
    admins = set(
        access.ticket_managers(ticket.company_id).filter(pk__in=candidates).values_list("pk", flat=True)
    )
    return assignees | admins


def workflow_event(
    *,
    ticket: Ticket,
    kind: str,
    event_key: str,
    task: TaskInstance | None,
    actor: User | None,
    data: dict[str, Any],
    error: TicketError | None,
) -> None:
    """Called by the engine-event receiver with the event's once-only key."""
    key = event_key
    if kind in ("assigned", "reassigned") and task is not None and data.get("assignee"):
        # The engine has just set the assignee on the task: no lookup needed.
        cached = task.assigned_to if task.assigned_to_id == data["assignee"] else None
        assignee = cached or User.objects.filter(pk=data["assignee"]).first()
        notify(
            kind=NotificationKind.TASK_ASSIGNED,
            recipients=[assignee],
            actor=actor,
            event_key=key,
            ticket=ticket,
            title=f"New task for you: {task.task_definition.title}",
            body=f"'{task.task_definition.title}' on ticket {_label(ticket)} is assigned to you.",
            url=reverse("task_detail", args=[task.pk]),
        )
    elif (
        kind in ("assigned", "released")
        and task is not None
        and task.queue_role_id
        and not data.get("assignee")
    ):
        members = User.objects.filter(company_roles=task.queue_role_id, is_active=True)
        notify(
            kind=NotificationKind.TASK_CLAIMABLE,
            recipients=members,
            actor=actor,
            event_key=key,
            ticket=ticket,
            title=f"Waiting in your queue: {task.task_definition.title}",
            body=(
                f"'{task.task_definition.title}' on ticket {_label(ticket)} waits in the "
                f"'{data.get('queue', '')}' queue. The first member to claim it does it."
            ),
            url=reverse("task_detail", args=[task.pk]),
        )
    elif kind == "task_completed" and task is not None:
        rows = _public_rows(task)
        if rows:
            notify(
                kind=NotificationKind.PUBLIC_OUTCOME,
                recipients=[_submitter(ticket)],
                actor=actor,
                event_key=key,
                ticket=ticket,
                title=f"{task.task_definition.title}: a result on your ticket {_label(ticket)}",
                body="\n".join(f"{label}: {value}" for label, value in rows),
                url=ticket_url(ticket),
            )
    elif kind in ("held", "error"):
        if kind == "held":
            body = "The support team put your ticket on hold. It continues when they resume it."
        else:
            body = "One step of your ticket could not continue, so it is paused. The support team has been notified."
        notify(
            kind=NotificationKind.ON_HOLD,
            recipients=[_submitter(ticket)],
            actor=actor,
            event_key=key,
            ticket=ticket,
            title=f"Your ticket {_label(ticket)} is on hold",
            body=body,
            url=ticket_url(ticket),
        )
        if error is not None:
            admins = access.ticket_managers(ticket.company_id)
            notify(
                kind=NotificationKind.TICKET_ERROR,
                recipients=list(admins),
                actor=actor,
                # Its own key: a ticket admin may also be the submitter told "on hold" above.
                event_key=f"{key}:admin",
                ticket=ticket,
                title=f"Error on ticket {_label(ticket)}: {error.get_error_type_display()}",
                body=error.message,
                url=reverse("admin:tickets_ticketerror_change", args=[error.pk]),
            )
    elif kind == "completed":
        notify(
            kind=NotificationKind.COMPLETED,
            recipients=[_submitter(ticket)],
            actor=actor,
            event_key=key,
            ticket=ticket,
            title=f"Your ticket {_label(ticket)} is completed",
            body="All steps of your ticket are done.",
            url=ticket_url(ticket),
        )
    elif kind == "cancelled":
        reason = data.get("reason") or ""
        notify(
            kind=NotificationKind.CANCELLED,
            recipients=[_submitter(ticket)],
            actor=actor,
            event_key=key,
            ticket=ticket,
            title=f"Your ticket {_label(ticket)} was cancelled",
            body=f"Reason: {reason}" if reason else "No reason was given.",
            url=ticket_url(ticket),
        )


def _submitter(ticket: Ticket) -> User | None:
    return User.objects.filter(pk=ticket.created_by_id).first()


def _public_rows(task: TaskInstance) -> list[tuple[str, Any]]:
    from tickets.selectors import public_outcomes

    found = public_outcomes([task])
    return found[0][1] if found else []
