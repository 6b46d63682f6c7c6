import uuid
from typing import Any, ClassVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django_scopes import ScopedManager

from accounts.models import CompanyOwned
from workflows.fields import OrderedJSONField
from workflows.validators import validate_ext_refs, validate_http_url


class TaskType(models.TextChoices):
    FORM = "FORM", "Form (human)"
    SYNC_ACTION = "SYNC_ACTION", "Synchronous HTTP action"
    ASYNC_ACTION = "ASYNC_ACTION", "Asynchronous HTTP action (callback)"


class TaskStatus(models.TextChoices):
    OPEN = "OPEN", "Open"
    IN_PROGRESS = "IN_PROGRESS", "In progress"
    PENDING = "PENDING", "Pending callback"
    COMPLETED = "COMPLETED", "Completed"
    CANCELLED = "CANCELLED", "Cancelled"
    ERROR = "ERROR", "Error"


OPEN_TASK_STATUSES = (TaskStatus.OPEN, TaskStatus.IN_PROGRESS, TaskStatus.PENDING)


class WorkflowStatus(models.TextChoices):
    NOT_STARTED = "NOT_STARTED", "Not started"
    IN_PROGRESS = "IN_PROGRESS", "In progress"
    COMPLETED = "COMPLETED", "Completed"
    CANCELLED = "CANCELLED", "Cancelled"
    ON_HOLD = "ON_HOLD", "On hold"


class HoldReason(models.TextChoices):
    MANUAL = "MANUAL", "Put on hold"
    ERROR = "ERROR", "Stopped by an error"


ACTIVE_WORKFLOW_STATUSES = (
    WorkflowStatus.NOT_STARTED,
    WorkflowStatus.IN_PROGRESS,
    WorkflowStatus.ON_HOLD,
)
FINISHED_WORKFLOW_STATUSES = (WorkflowStatus.COMPLETED, WorkflowStatus.CANCELLED)


class ErrorType(models.TextChoices):
    """What failed; stored on ticket errors (`tickets.models.TicketError`)."""

    WORKFLOW_CREATION = "WORKFLOW_CREATION", "Workflow creation"
    TASK_CREATION = "TASK_CREATION", "Task creation"
    TASK_UPDATE = "TASK_UPDATE", "Task update"
    WORKFLOW_TRANSITION = "WORKFLOW_TRANSITION", "Workflow transition"


class _DraftsOnly(models.Manager):  # type: ignore[type-arg]
    """Drafts only: published snapshots are reached through versions and foreign keys
    (the base manager), so ordinary queries by key never see the frozen copies."""

    def get_queryset(self) -> Any:
        return super().get_queryset().filter(is_snapshot=False)


class Definition(CompanyOwned):
    """Fields shared by workflow, task and ticket-type definitions."""

    title = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    ext_ref = OrderedJSONField(default=list, blank=True, validators=[validate_ext_refs])
    version = models.PositiveIntegerField(default=1)
    display_layout = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Also for writes that skip form validation (scripts, bulk paths): no stored link
        # is ever anything but http(s).
        self.validate_links()
        super().save(*args, **kwargs)

    def validate_links(self) -> None:
        validate_ext_refs(self.ext_ref)


class WorkflowDefinition(Definition):
    key = models.SlugField(max_length=100)
    fields = OrderedJSONField(default=list, blank=True)
    # Sample tickets with outputs and the expected path; validation dry-runs them.
    examples = OrderedJSONField(default=list, blank=True)
    start_task = models.ForeignKey(
        "TaskDefinition", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # A frozen copy made by publishing (see WorkflowVersion); the draft has False. Tickets
    # run on snapshots, so editing the draft changes nothing until the next publish.
    is_snapshot = models.BooleanField(default=False, editable=False)

    objects: ClassVar[models.Manager[Any]] = ScopedManager(_DraftsOnly, company="company")
    all_objects: ClassVar[models.Manager[Any]] = ScopedManager(company="company")

    class Meta:
        default_manager_name = "objects"
        ordering = ["title"]
        constraints = [
            models.UniqueConstraint(
                fields=["company", "key"], condition=Q(is_snapshot=False), name="workflow_unique_key"
            )
        ]

    def __str__(self) -> str:
        return self.title

    def save(self, *args: Any, **kwargs: Any) -> None:
        _refuse_snapshot_change(self)
        super().save(*args, **kwargs)


class SnapshotImmutable(Exception):
    """A published version's rows are never changed (publish a new version instead)."""


def _refuse_snapshot_change(row: Any) -> None:
    if getattr(row, "is_snapshot", False) and not row._state.adding:
        raise SnapshotImmutable(f"{row} belongs to a published version and cannot be changed.")


class TaskDefinition(Definition):
    workflow = models.ForeignKey(WorkflowDefinition, on_delete=models.CASCADE, related_name="tasks")
    key = models.SlugField(max_length=100)
    task_type = models.CharField(max_length=20, choices=TaskType.choices, default=TaskType.FORM)
    input_schema = OrderedJSONField(default=dict, blank=True)
    output_schema = OrderedJSONField(default=dict, blank=True)
    # Output field names the ticket's submitter may see (with their schema titles).
    public_fields = models.JSONField(default=list, blank=True)
    edit_layout = models.TextField(blank=True)
    action_url = models.URLField(max_length=2000, blank=True, validators=[validate_http_url])
    input_transform = OrderedJSONField(default=dict, blank=True)
    output_transform = OrderedJSONField(default=dict, blank=True)
    timeout_seconds = models.PositiveIntegerField(null=True, blank=True)
    # ASYNC_ACTION: how long to wait for the callback before it is an error.
    callback_timeout_seconds = models.PositiveIntegerField(null=True, blank=True)
    # FORM: who does it (workflows.assignment); {} is least_loaded over all task workers.
    assign = OrderedJSONField(
        default=dict,
        blank=True,
        help_text='Who does this form task, e.g. {"rule": "queue", "role": "it"}. Empty: '
        "the available task worker with the fewest open tasks.",
    )
    # Copied from the workflow: a task of a published snapshot (see WorkflowDefinition).
    is_snapshot = models.BooleanField(default=False, editable=False)

    objects: ClassVar[models.Manager[Any]] = ScopedManager(_DraftsOnly, company="company")
    all_objects: ClassVar[models.Manager[Any]] = ScopedManager(company="company")

    class Meta:
        default_manager_name = "objects"
        ordering = ["workflow_id", "id"]
        constraints = [models.UniqueConstraint(fields=["workflow", "key"], name="task_unique_key")]

    def __str__(self) -> str:
        return f"{self.title} ({self.key})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        _refuse_snapshot_change(self)
        super().save(*args, **kwargs)

    def validate_links(self) -> None:
        super().validate_links()
        try:
            validate_http_url(self.action_url)
        except ValidationError as exc:
            raise ValidationError({"action_url": exc.messages}) from exc

    @property
    def is_action(self) -> bool:
        return self.task_type != TaskType.FORM


class Transition(CompanyOwned):
    workflow = models.ForeignKey(WorkflowDefinition, on_delete=models.CASCADE, related_name="transitions")
    from_task = models.ForeignKey(TaskDefinition, on_delete=models.CASCADE, related_name="outgoing")
    to_task = models.ForeignKey(TaskDefinition, on_delete=models.CASCADE, related_name="incoming")
    condition = models.TextField(blank=True, help_text="JMESPath; empty means the default path.")
    priority = models.IntegerField(default=0)

    class Meta:
        ordering = ["from_task_id", "priority", "id"]

    def __str__(self) -> str:
        return f"{self.from_task.key} → {self.to_task.key}"


class WorkflowVersion(CompanyOwned):
    """One published, immutable version of a workflow: its bundle JSON (the record and
    what export gives) and `snapshot`, the frozen definition rows tickets run on."""

    workflow = models.ForeignKey(WorkflowDefinition, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    content_hash = models.CharField(max_length=64)
    bundle = OrderedJSONField()
    snapshot = models.OneToOneField(
        WorkflowDefinition, on_delete=models.PROTECT, related_name="published_version"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["workflow_id", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["workflow", "number"], name="workflowversion_unique_number")
        ]

    def __str__(self) -> str:
        return f"{self.workflow.key} v{self.number}"


class WorkflowInstance(CompanyOwned):
    workflow = models.ForeignKey(WorkflowDefinition, on_delete=models.PROTECT, related_name="+")
    # Who started it (the ticket's submitter): the `submitter` assignment rule.
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    current_task = models.ForeignKey(
        TaskDefinition, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # {"ticket": <ticket data>, "tasks": {<task key>: <output>}}
    workflow_data = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=20, choices=WorkflowStatus.choices, default=WorkflowStatus.IN_PROGRESS
    )
    # Why an ON_HOLD instance is held: resume lifts a manual hold, retry an error.
    hold_reason = models.CharField(max_length=10, choices=HoldReason.choices, blank=True)
    # Consecutive automated steps since the last human task (loop cap).
    automated_steps = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["company", "status"], name="wfi_company_status")]

    def __str__(self) -> str:
        return f"Workflow #{self.pk} ({self.get_status_display()})"


class TaskInstance(CompanyOwned):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    workflow_instance = models.ForeignKey(WorkflowInstance, on_delete=models.CASCADE, related_name="tasks")
    task_definition = models.ForeignKey(TaskDefinition, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=20, choices=TaskStatus.choices, default=TaskStatus.OPEN)
    input_data = models.JSONField(default=dict, blank=True)
    output_data = models.JSONField(null=True, blank=True)
    # Indexed by task_assignee_date (assignee first), which also serves the foreign key.
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_tasks",
        db_index=False,
    )
    assigned_at = models.DateTimeField(null=True, blank=True)
    # A queue task: unassigned, the members of this role may claim it.
    queue_role = models.ForeignKey(
        "accounts.CompanyRole", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # The person who completed it (assignee, claimer or a ticket admin): `same_as` rule.
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Actions: attempts so far, callback token (hash only) and deadline.
    attempts = models.PositiveIntegerField(default=0)
    callback_token_hash = models.CharField(max_length=64, blank=True, editable=False)
    deadline_at = models.DateTimeField(null=True, blank=True)
    completed_by_callback = models.BooleanField(default=False, editable=False)

    class Meta:
        ordering = ["created_at", "id"]
        # Each list's filter then its full order (the id breaks ties): a page is an index
        # range read with no sort. Partial indexes hold only open work, so the worker's
        # list and the assignment count do not grow with history.
        indexes = [
            models.Index(
                fields=["assigned_to", "created_at", "id"],
                name="task_open_per_assignee",
                condition=Q(status__in=["OPEN", "IN_PROGRESS", "PENDING"]),
            ),
            # Also ordered: whichever of the two the planner picks for a worker's list
            # (it misjudges a busy worker's share), no sort follows.
            models.Index(
                fields=["company", "assigned_to", "created_at", "id"],
                name="task_open_per_company",
                condition=Q(status__in=["OPEN", "IN_PROGRESS", "PENDING"]),
            ),
            models.Index(fields=["assigned_to", "created_at", "id"], name="task_assignee_date"),
            models.Index(fields=["company", "created_at", "id"], name="task_company_date"),
            models.Index(fields=["company", "status", "created_at", "id"], name="task_company_status"),
            # The Claimable list: open, unassigned queue tasks of the user's roles, oldest first.
            models.Index(
                fields=["queue_role", "created_at"],
                name="task_claimable",
                condition=Q(status__in=["OPEN", "IN_PROGRESS", "PENDING"], assigned_to__isnull=True),
            ),
            # The sweeper: OPEN (actions not claimed), IN_PROGRESS and PENDING past deadline.
            models.Index(
                fields=["deadline_at"],
                name="task_open_deadline",
                condition=Q(status__in=["OPEN", "IN_PROGRESS", "PENDING"], deadline_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"Task #{self.pk} {self.task_definition.title}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_TASK_STATUSES
