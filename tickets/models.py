import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from accounts.models import Company, CompanyOwned, CompanyRole
from workflows.fields import OrderedJSONField
from workflows.models import Definition, ErrorType, TaskInstance, WorkflowDefinition, WorkflowInstance


class TicketType(Definition):
    key = models.SlugField(max_length=100)
    # The draft; tickets start on its current published version (tickets.versions).
    workflow = models.ForeignKey(
        WorkflowDefinition,
        on_delete=models.PROTECT,
        related_name="ticket_types",
        limit_choices_to={"is_snapshot": False},
    )
    # A JSON Schema (type object) describing the submit form.
    fields = OrderedJSONField(default=dict, blank=True)
    edit_layout = models.TextField(blank=True)
    # No roles means open to every user of the company.
    company_roles = models.ManyToManyField(CompanyRole, blank=True, related_name="ticket_types")

    class Meta:
        ordering = ["title"]
        constraints = [models.UniqueConstraint(fields=["company", "key"], name="tickettype_unique_key")]

    def __str__(self) -> str:
        return self.title


class Ticket(CompanyOwned):
    ticket_type = models.ForeignKey(TicketType, on_delete=models.PROTECT, related_name="tickets")
    # Status lives on the workflow instance; every ticket has one from its creation.
    workflow_instance = models.OneToOneField(
        WorkflowInstance, on_delete=models.PROTECT, related_name="ticket"
    )
    title = models.CharField(max_length=255, blank=True)
    data = OrderedJSONField(default=dict, blank=True)
    # Indexed by ticket_submitter_date (submitter first), which also serves the foreign key.
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="tickets", db_index=False
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # False once the workflow finished (completed or cancelled; final). A copy of the
    # instance's state kept by tickets.receivers, so "my active tickets" is one index range.
    is_active = models.BooleanField(default=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        # Each list's filter then its full order (the id breaks ties), so a page is an
        # index range read with no sort; see ARCHITECTURE.md "Performance".
        indexes = [
            models.Index(
                fields=["created_by", "is_active", "-created_at", "-id"], name="ticket_submitter_date"
            ),
            models.Index(fields=["company", "-created_at", "-id"], name="ticket_company_date"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.title or self.ticket_type.title}"


class ErrorStatus(models.TextChoices):
    NEW = "NEW", "New"
    REVIEWED = "REVIEWED", "Reviewed"
    RESOLVED = "RESOLVED", "Resolved"


class TicketError(CompanyOwned):
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="errors")
    task_instance = models.ForeignKey(
        TaskInstance, on_delete=models.SET_NULL, null=True, blank=True, related_name="errors"
    )
    error_type = models.CharField(max_length=30, choices=ErrorType.choices)
    message = models.TextField()
    stack_trace = models.TextField(blank=True)
    status = models.CharField(max_length=20, choices=ErrorStatus.choices, default=ErrorStatus.NEW)
    resolution_notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["company", "ticket"],
                name="ticketerror_open",
                condition=~Q(status="RESOLVED"),
            ),
            models.Index(fields=["company", "-created_at", "-id"], name="ticketerror_company_date"),
            models.Index(fields=["company", "status", "-created_at", "-id"], name="ticketerror_status_date"),
        ]

    def __str__(self) -> str:
        return f"{self.get_error_type_display()} on ticket #{self.ticket_id}"


def _upload_key() -> str:
    return uuid.uuid4().hex


class Comment(CompanyOwned):
    """A public reply (submitter, the ticket's assignees, ticket admins) or an internal
    note (team only: ticket admins and the ticket's assignees; never the submitter)."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = models.TextField()
    internal = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["ticket", "created_at", "id"], name="comment_ticket_date")]

    def __str__(self) -> str:
        return f"{'Note' if self.internal else 'Reply'} on ticket #{self.ticket_id}"


class FileUpload(CompanyOwned):
    ticket = models.ForeignKey(
        Ticket, on_delete=models.CASCADE, null=True, blank=True, related_name="attachments"
    )
    # Set for a comment's attachment (ticket is set too); an internal note's files are team-only.
    comment = models.ForeignKey(
        Comment, on_delete=models.CASCADE, null=True, blank=True, related_name="attachments"
    )
    filename = models.CharField(max_length=255)
    version = models.PositiveIntegerField(default=1)
    # Storage key, generated; the user's filename is never used as a path.
    ext_key = models.CharField(max_length=255, unique=True, default=_upload_key)
    file_type = models.CharField(max_length=100, blank=True)
    size = models.PositiveBigIntegerField(default=0)
    uploaded_at = models.DateTimeField(auto_now_add=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )

    class Meta:
        ordering = ["uploaded_at", "id"]

    def __str__(self) -> str:
        return self.filename


class TimelineEvent(CompanyOwned):
    # Indexed by timeline_company_date (company first), which also serves the foreign
    # key: the back office's event list is the company's newest events.
    company = models.ForeignKey(Company, on_delete=models.CASCADE, db_index=False)
    # Indexed by ticket_timeline (ticket first), which also serves the foreign key.
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="timeline", db_index=False)
    task_instance = models.ForeignKey(
        TaskInstance, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    kind = models.CharField(max_length=40)
    message = models.CharField(max_length=500)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["ticket", "created_at", "id"], name="timeline_ticket_date"),
            models.Index(fields=["company", "created_at", "id"], name="timeline_company_date"),
        ]

    def __str__(self) -> str:
        return self.message


class NotificationKind(models.TextChoices):
    TASK_ASSIGNED = "task_assigned", "A task is assigned to me"
    TASK_CLAIMABLE = "task_claimable", "A task is waiting in my queue"
    TICKET_RECEIVED = "ticket_received", "My ticket was received"
    PUBLIC_REPLY = "public_reply", "A reply on my ticket"
    PUBLIC_OUTCOME = "public_outcome", "A result on my ticket"
    ON_HOLD = "on_hold", "My ticket is on hold"
    COMPLETED = "completed", "My ticket is completed"
    CANCELLED = "cancelled", "My ticket is cancelled"
    TICKET_ERROR = "ticket_error", "A new ticket error (ticket admins)"
    COMMENTED_REPLY = "commented_reply", "A reply on a ticket I commented on"


# Kinds that may be gathered into one daily email instead of one email each.
DIGEST_KINDS = (NotificationKind.TASK_CLAIMABLE,)


class EmailMode(models.TextChoices):
    ON = "on", "Email"
    DAILY = "daily", "Daily digest"
    OFF = "off", "No email"


class Notification(CompanyOwned):
    """One notice for one person about one event: the in-app notice, and the source of
    its email. (recipient, event_key) is unique, so an event notifies a person once."""

    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=30, choices=NotificationKind.choices)
    event_key = models.CharField(max_length=100)
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    title = models.CharField(max_length=255)
    body = models.TextField(blank=True)
    url = models.CharField(max_length=500)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)
    # Email: the preference at the time (on / daily / off), then sent (set once, under a row lock).
    # The INSERT computes the choice itself (notifications._EMAIL_MODE_SQL, a subquery on
    # the preference) and returns it, so it costs no query of its own.
    email_mode = models.CharField(
        max_length=10, choices=EmailMode.choices, default=EmailMode.OFF, db_default=EmailMode.OFF
    )
    emailed_at = models.DateTimeField(null=True, blank=True)
    # Times the sweeper queued the email again (see notifications.retry_unsent_emails).
    email_retries = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["recipient", "event_key"], name="notification_once_per_event")
        ]
        indexes = [
            models.Index(fields=["recipient", "-created_at", "-id"], name="notification_inbox"),
            models.Index(fields=["recipient"], name="notification_unread", condition=Q(read_at__isnull=True)),
            # The sweeper's upkeep: emails still to send (retries and due digests).
            models.Index(
                fields=["email_mode", "created_at"],
                name="notification_unsent",
                condition=Q(emailed_at__isnull=True) & ~Q(email_mode="off"),
            ),
        ]

    def __str__(self) -> str:
        return self.title


class NotificationPreference(CompanyOwned):
    """Email per person and kind; no row means on. In-app notices are always kept."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=30, choices=NotificationKind.choices)
    email = models.CharField(max_length=10, choices=EmailMode.choices, default=EmailMode.ON)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "kind"], name="notificationpref_unique")]

    def __str__(self) -> str:
        return f"{self.user_id} {self.kind}: {self.email}"
