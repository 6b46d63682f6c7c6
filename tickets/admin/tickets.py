"""Back office for ticket admins: tickets, with the engine's operations as admin actions,
and their attachments and timeline. Every action calls a service; permissions are the
admin's own (`change` on tickets, which ticket admins hold and workflow creators do not)."""

import json
from collections.abc import Callable
from typing import Any

from django.contrib import admin
from django.db.models import Exists, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Concat
from django.http import HttpRequest
from django.template.defaultfilters import linebreaksbr
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from unfold.paginator import InfinitePaginator

from accounts.admin_base import CompanyAdmin
from tickets import diagrams
from tickets.admin.filters import PersonAutocompleteFilter
from tickets.admin.mixins import (
    BULK_OPERATIONS,
    DETAIL_OPERATIONS,
    NoAddDeleteMixin,
    NoAddMixin,
    ReadOnlyPageMixin,
    TicketOperationsMixin,
    html_table,
)
from tickets.models import ErrorStatus, FileUpload, Ticket, TicketError, TimelineEvent
from tickets.selectors import labelled_data, ticket_comments
from tickets.templatetags.timeline import event_text, event_who
from workflows.models import OPEN_TASK_STATUSES, TaskInstance, WorkflowStatus

TIMELINE_ROWS = 100
# Errors and attachments on the ticket page: plain tables, not inlines. Read-only inlines
# built two formsets, their empty forms and unfold's tabular templates (about 8 ms of the
# page) to show the same rows.
PAGE_ROWS = 50


class TicketStatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(str(v), str(label)) for v, label in WorkflowStatus.choices]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(workflow_instance__status=self.value()) if self.value() else queryset


class AssigneeFilter(PersonAutocompleteFilter):
    """Tickets with an open task assigned to one worker ("none": to nobody). Read from
    that worker's open tasks (task_open_per_assignee), not by testing every ticket."""

    title = "assignee"
    parameter_name = "assignee"

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if not value:
            return queryset
        open_tasks = TaskInstance.objects.filter(status__in=OPEN_TASK_STATUSES)
        if value == "none":
            open_tasks = open_tasks.filter(assigned_to__isnull=True)
        elif self.person_id() is not None:
            open_tasks = open_tasks.filter(assigned_to_id=self.person_id())
        else:
            return queryset.none()
        return queryset.filter(workflow_instance__in=open_tasks.values("workflow_instance"))


class OpenErrorFilter(admin.SimpleListFilter):
    title = "has open error"
    parameter_name = "open_error"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Yes"), ("no", "No")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        open_errors = Exists(
            TicketError.objects.filter(ticket=OuterRef("pk")).exclude(status=ErrorStatus.RESOLVED)
        )
        if self.value() == "yes":
            return queryset.filter(open_errors)
        if self.value() == "no":
            return queryset.exclude(open_errors)
        return queryset


@admin.register(Ticket)
class TicketAdmin(ReadOnlyPageMixin, NoAddDeleteMixin, TicketOperationsMixin, CompanyAdmin):
    list_display = [
        "__str__",
        "ticket_type",
        "status",
        "current_step",
        "assignee",
        "created_by",
        "created_at",
    ]
    list_select_related = [
        "ticket_type",
        "workflow_instance",
        "workflow_instance__current_task",
        "created_by",
    ]
    list_defer = (
        "data",
        "ticket_type__fields",
        "ticket_type__edit_layout",
        "ticket_type__description",
        "ticket_type__ext_ref",
        "ticket_type__display_layout",
        "workflow_instance__workflow_data",
        "workflow_instance__current_task__input_schema",
        "workflow_instance__current_task__output_schema",
        "workflow_instance__current_task__input_transform",
        "workflow_instance__current_task__output_transform",
        "workflow_instance__current_task__edit_layout",
        "workflow_instance__current_task__description",
        "workflow_instance__current_task__ext_ref",
        "workflow_instance__current_task__display_layout",
        "created_by__password",
    )
    search_fields = ["=id", "title", "ticket_type__title", "created_by__email"]
    list_filter = [TicketStatusFilter, "ticket_type", AssigneeFilter, "created_at", OpenErrorFilter]
    readonly_fields = [
        "title",
        "ticket_type",
        "status",
        "data_table",
        "created_by",
        "created_at",
        "updated_at",
        "version",
        "diagram",
        "tasks_table",
        "routing_table",
        "conversation",
        "timeline_table",
        "errors_table",
        "attachments_table",
    ]
    fields = readonly_fields
    paginator = InfinitePaginator
    actions = BULK_OPERATIONS
    actions_detail = DETAIL_OPERATIONS

    @admin.display(description="Status", ordering="workflow_instance__status")
    def status(self, obj: Ticket) -> str:
        return obj.workflow_instance.get_status_display()

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        # The open step's assignee, as one correlated subquery per listed row.
        open_task = TaskInstance.objects.filter(
            workflow_instance=OuterRef("workflow_instance"), status__in=OPEN_TASK_STATUSES
        ).order_by("-created_at", "-id")
        name = Concat("assigned_to__first_name", Value(" "), "assigned_to__last_name")
        qs = (
            super()
            .get_queryset(request)
            .annotate(
                open_assignee=Subquery(open_task.annotate(name=name).values("name")[:1]),
                open_assignee_email=Subquery(open_task.values("assigned_to__email")[:1]),
            )
        )
        match = request.resolver_match
        if match is not None and (match.url_name or "").endswith("_change"):
            # The ticket page shows its type, submitter and running version: one query,
            # not one lazy load each.
            qs = qs.select_related("ticket_type", "created_by", "workflow_instance__workflow")
        return qs

    @admin.display(description="Assignee")
    def assignee(self, obj: Ticket) -> str:
        name = (getattr(obj, "open_assignee", None) or "").strip()
        return name or getattr(obj, "open_assignee_email", None) or "—"

    @admin.display(description="Data")
    def data_table(self, obj: Ticket) -> str:
        rows = labelled_data(obj.ticket_type.fields, obj.data)
        return html_table(["Field", "Value"], rows) if rows else "—"

    @admin.display(description="Current step")
    def current_step(self, obj: Ticket) -> str:
        task = obj.workflow_instance.current_task
        return task.title if task else "—"

    @staticmethod
    def _tasks(obj: Ticket) -> list[TaskInstance]:
        """The ticket's tasks in order, read once for the page (table and diagram)."""
        if "_tf_tasks" not in obj.__dict__:
            obj.__dict__["_tf_tasks"] = list(
                obj.workflow_instance.tasks.select_related("task_definition", "assigned_to").order_by(
                    "created_at", "id"
                )
            )
        tasks: list[TaskInstance] = obj.__dict__["_tf_tasks"]
        return tasks

    @admin.display(description="Tasks")
    def tasks_table(self, obj: Ticket) -> str:
        tasks = self._tasks(obj)
        return html_table(
            ["Step", "Status", "Assignee", "Created"],
            (
                (
                    format_html(
                        '<a href="{}">{}</a>',
                        reverse("admin:workflows_taskinstance_change", args=[t.pk]),
                        t.task_definition.title,
                    ),
                    t.get_status_display(),
                    t.assigned_to or "—",
                    t.created_at.strftime("%Y-%m-%d %H:%M"),
                )
                for t in tasks
            ),
        )

    @admin.display(description="Workflow version")
    def version(self, obj: Ticket) -> str:
        workflow = obj.workflow_instance.workflow
        if workflow.is_snapshot:
            return f"{workflow.key} v{workflow.version}"
        return f"{workflow.key} (draft: started before versions were published)"

    @admin.display(description="Workflow (path taken, current step outlined)")
    def diagram(self, obj: Ticket) -> str:
        return diagrams.ticket_diagram(obj, self._tasks(obj), simple=False)

    @admin.display(description="Routing decisions (latest first)")
    def routing_table(self, obj: Ticket) -> str:
        """The decision trace: each routing with its candidates in the order tried, their
        conditions and values, and the winner (bounded like the timeline)."""
        events = list(
            obj.timeline.filter(kind="routed")
            .select_related("task_instance__task_definition")
            .order_by("-created_at", "-id")[:TIMELINE_ROWS]
        )
        if not events:
            return "—"
        return html_table(
            ["When", "From", "Candidates (condition = value → task)", "Winner"],
            (
                (
                    e.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                    e.task_instance.task_definition.key if e.task_instance else "—",
                    format_html_join(
                        "", "<div>{}</div>", ((_candidate_text(c),) for c in e.data.get("candidates", []))
                    )
                    or "—",
                    e.data.get("winner") or "none (the ticket went on hold)",
                )
                for e in events
            ),
        )

    @admin.display(description="Conversation")
    def conversation(self, obj: Ticket) -> str:
        """Replies and internal notes (two queries however many), and a link to write one."""
        comments = ticket_comments(obj, include_internal=True)
        table = html_table(
            ["When", "Who", "Kind", "Message", "Attachments"],
            (
                (
                    c.created_at.strftime("%Y-%m-%d %H:%M"),
                    c.author,
                    "Internal note" if c.internal else "Public reply",
                    linebreaksbr(c.body),  # escapes, then keeps line breaks
                    format_html_join(
                        ", ",
                        '<a href="{}">{}</a>',
                        (
                            (reverse("attachment_download", args=[a.pk]), a.filename)
                            for a in c.attachments.all()
                        ),
                    ),
                )
                for c in comments
            ),
        )
        write = reverse("ticket_detail", args=[obj.pk]) + "#conversation"
        return format_html('{}<p><a href="{}">Write a reply or an internal note</a></p>', table, write)

    @admin.display(description="Timeline (latest first)")
    def timeline_table(self, obj: Ticket) -> str:
        events = list(
            obj.timeline.select_related("actor").order_by("-created_at", "-id")[: TIMELINE_ROWS + 1]
        )
        return _bounded_table(
            obj,
            events,
            TIMELINE_ROWS,
            ["When", "What", "Who"],
            lambda e: (e.created_at.strftime("%Y-%m-%d %H:%M:%S"), event_text(e), event_who(e)),
            "tickets_timelineevent_changelist",
            "events",
        )

    @admin.display(description="Errors (latest first)")
    def errors_table(self, obj: Ticket) -> str:
        errors = list(
            obj.errors.only("pk", "created_at", "error_type", "message", "status").order_by(
                "-created_at", "-id"
            )[: PAGE_ROWS + 1]
        )
        if not errors:
            return "—"
        return _bounded_table(
            obj,
            errors,
            PAGE_ROWS,
            ["When", "Type", "Message", "Status"],
            lambda e: (
                format_html(
                    '<a href="{}">{}</a>',
                    reverse("admin:tickets_ticketerror_change", args=[e.pk]),
                    e.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                ),
                e.get_error_type_display(),
                e.message,
                e.get_status_display(),
            ),
            "tickets_ticketerror_changelist",
            "errors",
        )

    @admin.display(description="Attachments")
    def attachments_table(self, obj: Ticket) -> str:
        files = list(
            obj.attachments.only("pk", "filename", "file_type", "size", "uploaded_at").order_by(
                "uploaded_at", "id"
            )[: PAGE_ROWS + 1]
        )
        if not files:
            return "—"
        return _bounded_table(
            obj,
            files,
            PAGE_ROWS,
            ["File", "Type", "Size (bytes)", "Uploaded"],
            lambda f: (
                format_html('<a href="{}">{}</a>', reverse("attachment_download", args=[f.pk]), f.filename),
                f.file_type,
                f.size,
                f.uploaded_at.strftime("%Y-%m-%d %H:%M"),
            ),
            "tickets_fileupload_changelist",
            "attachments",
        )


def _bounded_table(
    ticket: Ticket,
    rows: list[Any],
    limit: int,
    headers: list[str],
    cells: Callable[[Any], tuple[Any, ...]],
    changelist: str,
    what: str,
) -> str:
    """`rows` (read with one more than `limit`) as a table of at most `limit`, then a link
    to the ticket's rows in `changelist` when there are more."""
    table = html_table(headers, (cells(row) for row in rows[:limit]))
    if len(rows) <= limit:
        return table
    more = reverse(f"admin:{changelist}") + f"?ticket__id__exact={ticket.pk}"
    return format_html('{}<p><a href="{}">All {} of this ticket</a></p>', table, more, what)


@admin.register(FileUpload)
class FileUploadAdmin(ReadOnlyPageMixin, NoAddMixin, CompanyAdmin):
    list_display = ["filename", "ticket", "file_type", "size", "uploaded_at"]
    list_select_related = ["ticket"]
    search_fields = ["filename"]
    list_filter = ["file_type", "uploaded_at"]
    readonly_fields = ["ticket", "filename", "ext_key", "file_type", "size", "uploaded_by", "uploaded_at"]
    paginator = InfinitePaginator


class EventKindFilter(admin.SimpleListFilter):
    """The kinds among the company's newest events (and the one chosen), read through
    timeline_company_date, instead of a DISTINCT over its whole timeline (240 ms at 1M
    tickets)."""

    title = "kind"
    parameter_name = "kind"
    RECENT = 500

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        newest = model_admin.get_queryset(request).order_by("-created_at", "-id")
        kinds = set(newest.values_list("kind", flat=True)[: self.RECENT])
        if self.value():
            kinds.add(str(self.value()))
        return [(kind, kind) for kind in sorted(kinds)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(kind=self.value()) if self.value() else queryset


@admin.register(TimelineEvent)
class TimelineEventAdmin(ReadOnlyPageMixin, NoAddMixin, CompanyAdmin):
    list_display = ["message", "ticket", "kind", "actor", "created_at"]
    list_select_related = ["ticket", "actor"]
    search_fields = ["message", "=ticket__id"]
    list_filter = [EventKindFilter, "created_at"]
    ordering = ["-created_at", "-id"]  # newest first, from timeline_company_date
    readonly_fields = ["ticket", "task_instance", "kind", "message", "actor", "data", "created_at"]
    paginator = InfinitePaginator


def _candidate_text(candidate: dict[str, Any]) -> str:
    condition = candidate.get("condition") or ""
    target = candidate.get("to", "?")
    if not condition:
        return f"default → {target}"
    if "error" in candidate:
        return f"{condition} failed: {candidate['error']} → {target}"
    value = json.dumps(candidate.get("value"), ensure_ascii=False)
    return f"{condition} = {value} → {target}"
