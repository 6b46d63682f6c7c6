"""Back office for ticket admins: tickets, tasks, errors, with the engine's operations
as admin actions. Every action calls a service; permissions are the admin's own
(`change` on tickets/tasks, which ticket admins hold and workflow creators do not)."""

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Exists, OuterRef, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from unfold.decorators import action
from unfold.paginator import InfinitePaginator

from accounts.admin_base import CompanyAdmin, CompanyTabularInline, scope_for
from accounts.models import User
from accounts.roles import SystemRole
from tickets import definitions_admin  # noqa: F401  (registers the definition admins)
from tickets import services as ticket_services
from tickets.models import ErrorStatus, FileUpload, Ticket, TicketError, TimelineEvent
from workflows import services
from workflows.models import OPEN_TASK_STATUSES, TaskInstance, WorkflowInstance, WorkflowStatus


class TicketStatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(str(v), str(label)) for v, label in WorkflowStatus.choices]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(workflow_instance__status=self.value()) if self.value() else queryset


class AssigneeFilter(admin.SimpleListFilter):
    """Tickets with an open task assigned to a worker of the user's company."""

    title = "assignee"
    parameter_name = "assignee"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        workers = scope_for(request, User.objects.filter(groups__name=SystemRole.TASK_WORKER, is_active=True))
        return [("none", "Unassigned"), *((str(u.pk), str(u)) for u in workers.order_by("email")[:200])]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if not value:
            return queryset
        open_tasks = TaskInstance.objects.filter(
            workflow_instance=OuterRef("workflow_instance"), status__in=OPEN_TASK_STATUSES
        )
        if value == "none":
            return queryset.filter(Exists(open_tasks.filter(assigned_to__isnull=True)))
        if not value.isdigit():
            return queryset.none()
        return queryset.filter(Exists(open_tasks.filter(assigned_to_id=int(value))))


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


class ErrorInline(CompanyTabularInline):
    model = TicketError
    fields = ["created_at", "error_type", "message", "status"]
    readonly_fields = ["created_at", "error_type", "message", "status"]
    can_delete = False
    max_num = 0
    show_change_link = True


class AttachmentInline(CompanyTabularInline):
    model = FileUpload
    fields = ["filename", "file_type", "size", "uploaded_at"]
    readonly_fields = fields
    can_delete = False
    max_num = 0


TIMELINE_ROWS = 100


def _table(headers: list[str], rows: Any) -> str:
    """A small read-only HTML table for the ticket page (values are escaped)."""
    head = format_html_join("", '<th class="text-left">{}</th>', ((h,) for h in headers))
    body = format_html_join(
        "", "<tr>{}</tr>", ((format_html_join("", "<td>{}</td>", ((c,) for c in row)),) for row in rows)
    )
    return format_html(
        '<table class="w-full"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>', head, body
    )


def _run(request: HttpRequest, label: str, items: list[Any], operation: Callable[[Any], None]) -> None:
    """Applies `operation` to each item; reports successes and each refusal."""
    done = 0
    for item in items:
        try:
            operation(item)
            done += 1
        except (services.StateConflict, ValidationError, PermissionDenied) as exc:
            messages.error(request, f"{item}: {exc.messages[0] if isinstance(exc, ValidationError) else exc}")
    if done:
        messages.success(request, f"{label}: {done} done.")


class TicketOperationsMixin:
    """Retry / hold / resume / cancel, as bulk actions and on the ticket page."""

    def _instances(self, request: HttpRequest, queryset: QuerySet[Any]) -> list[WorkflowInstance]:
        raise NotImplementedError

    def _operate(
        self, request: HttpRequest, queryset: QuerySet[Any], label: str, op: Callable[..., None]
    ) -> None:
        actor: User = request.user  # type: ignore[assignment]
        _run(request, label, self._instances(request, queryset), lambda i: op(instance=i, actor=actor))

    def _detail(
        self, request: HttpRequest, object_id: Any, label: str, op: Callable[..., None]
    ) -> HttpResponse:
        queryset = self.get_queryset(request).filter(pk=object_id)  # type: ignore[attr-defined]
        if not queryset.exists():
            raise Http404("Not found.")
        self._operate(request, queryset, label, op)
        return HttpResponseRedirect(request.META.get("HTTP_REFERER") or "..")

    @action(description="Retry the failed step", permissions=["change"])
    def retry_selected(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        self._operate(request, queryset, "Retry", services.retry)

    @action(description="Put on hold", permissions=["change"])
    def hold_selected(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        self._operate(request, queryset, "Hold", services.hold)

    @action(description="Resume", permissions=["change"])
    def resume_selected(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        self._operate(request, queryset, "Resume", services.resume)

    @action(description="Cancel the ticket", permissions=["change"])
    def cancel_selected(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        self._operate(request, queryset, "Cancel", services.cancel)

    @action(description="Retry", url_path="retry", permissions=["change"], icon="replay")
    def retry_detail(self, request: HttpRequest, object_id: Any) -> HttpResponse:
        return self._detail(request, object_id, "Retry", services.retry)

    @action(description="Hold", url_path="hold", permissions=["change"], icon="pause")
    def hold_detail(self, request: HttpRequest, object_id: Any) -> HttpResponse:
        return self._detail(request, object_id, "Hold", services.hold)

    @action(description="Resume", url_path="resume", permissions=["change"], icon="play_arrow")
    def resume_detail(self, request: HttpRequest, object_id: Any) -> HttpResponse:
        return self._detail(request, object_id, "Resume", services.resume)

    @action(description="Cancel ticket", url_path="cancel", permissions=["change"], icon="cancel")
    def cancel_detail(self, request: HttpRequest, object_id: Any) -> HttpResponse:
        return self._detail(request, object_id, "Cancel", services.cancel)


_BULK = ["retry_selected", "hold_selected", "resume_selected", "cancel_selected"]
_DETAIL = ["retry_detail", "hold_detail", "resume_detail", "cancel_detail"]


@admin.register(Ticket)
class TicketAdmin(TicketOperationsMixin, CompanyAdmin):
    list_display = ["__str__", "ticket_type", "status", "current_step", "created_by", "created_at"]
    list_select_related = [
        "ticket_type",
        "workflow_instance",
        "workflow_instance__current_task",
        "created_by",
    ]
    search_fields = ["=id", "title", "ticket_type__title", "created_by__email"]
    list_filter = [TicketStatusFilter, "ticket_type", AssigneeFilter, "created_at", OpenErrorFilter]
    readonly_fields = [
        "title",
        "ticket_type",
        "status",
        "data",
        "created_by",
        "created_at",
        "updated_at",
        "tasks_table",
        "timeline_table",
    ]
    fields = readonly_fields
    inlines = [ErrorInline, AttachmentInline]
    paginator = InfinitePaginator
    actions = _BULK
    actions_detail = _DETAIL

    def _instances(self, request: HttpRequest, queryset: QuerySet[Any]) -> list[WorkflowInstance]:
        return [t.workflow_instance for t in queryset.select_related("workflow_instance")]

    @admin.display(description="Status", ordering="workflow_instance__status")
    def status(self, obj: Ticket) -> str:
        return obj.workflow_instance.get_status_display()

    @admin.display(description="Current step")
    def current_step(self, obj: Ticket) -> str:
        task = obj.workflow_instance.current_task
        return task.title if task else "—"

    @admin.display(description="Tasks")
    def tasks_table(self, obj: Ticket) -> str:
        tasks = obj.workflow_instance.tasks.select_related("task_definition", "assigned_to").order_by("id")
        return _table(
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

    @admin.display(description="Timeline (latest first)")
    def timeline_table(self, obj: Ticket) -> str:
        events = list(
            obj.timeline.select_related("actor").order_by("-created_at", "-id")[: TIMELINE_ROWS + 1]
        )
        table = _table(
            ["When", "What", "Who"],
            (
                (e.created_at.strftime("%Y-%m-%d %H:%M:%S"), e.message, e.actor or "—")
                for e in events[:TIMELINE_ROWS]
            ),
        )
        if len(events) <= TIMELINE_ROWS:
            return table
        more = reverse("admin:tickets_timelineevent_changelist") + f"?ticket__id__exact={obj.pk}"
        return format_html('{}<p><a href="{}">All events of this ticket</a></p>', table, more)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class OverdueFilter(admin.SimpleListFilter):
    title = "view"
    parameter_name = "view"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("unassigned", "Unassigned"), ("overdue", "Overdue")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        from workflows.selectors import overdue_tasks, unassigned_tasks

        if self.value() == "unassigned":
            return unassigned_tasks(queryset)
        if self.value() == "overdue":
            return overdue_tasks(queryset)
        return queryset


class ReassignForm(forms.Form):
    assignee = forms.ModelChoiceField(queryset=User.objects.none(), required=False, empty_label="Nobody")

    def __init__(self, *args: Any, request: HttpRequest, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        workers = User.objects.filter(groups__name=SystemRole.TASK_WORKER, is_active=True)
        self.fields["assignee"].queryset = scope_for(request, workers).order_by("email")  # type: ignore[attr-defined]


class OutputForm(forms.Form):
    output = forms.JSONField(initial=dict, help_text="The step's output, a JSON object.")


@admin.register(TaskInstance)
class TaskInstanceAdmin(TicketOperationsMixin, CompanyAdmin):
    list_display = ["__str__", "ticket_link", "status", "assigned_to", "created_at"]
    list_select_related = ["task_definition", "workflow_instance__ticket", "assigned_to"]
    search_fields = ["=id", "task_definition__title", "task_definition__key"]
    list_filter = [OverdueFilter, "status", "assigned_to", "task_definition__task_type"]
    readonly_fields = [
        "uuid",
        "workflow_instance",
        "task_definition",
        "status",
        "assigned_to",
        "input_data",
        "output_data",
        "attempts",
        "deadline_at",
        "started_at",
        "completed_at",
        "created_at",
        "assigned_at",
    ]
    fields = readonly_fields
    paginator = InfinitePaginator
    actions = ["retry_selected"]
    actions_detail = ["reassign_detail", "complete_detail", "retry_detail"]

    def _instances(self, request: HttpRequest, queryset: QuerySet[Any]) -> list[WorkflowInstance]:
        return [t.workflow_instance for t in queryset.select_related("workflow_instance")]

    @admin.display(description="Ticket")
    def ticket_link(self, obj: TaskInstance) -> str:
        ticket = obj.workflow_instance.ticket
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:tickets_ticket_change", args=[ticket.pk]), ticket
        )

    def _task_or_404(self, request: HttpRequest, object_id: Any) -> TaskInstance:
        task = self.get_queryset(request).select_related("task_definition").filter(pk=object_id).first()
        if task is None:
            raise Http404("Not found.")
        return task

    def _form_page(
        self, request: HttpRequest, task: TaskInstance, form: forms.Form, title: str
    ) -> HttpResponse:
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "form": form,
            "task": task,
            "opts": self.model._meta,
        }
        return render(request, "admin/workflows/task_action.html", context)

    @action(description="Reassign", url_path="reassign", permissions=["change"], icon="person")
    def reassign_detail(self, request: HttpRequest, object_id: Any) -> HttpResponse:
        task = self._task_or_404(request, object_id)
        form = ReassignForm(request.POST or None, request=request)
        if request.method == "POST" and form.is_valid():
            actor: User = request.user  # type: ignore[assignment]
            _run(
                request,
                "Reassign",
                [task],
                lambda t: services.reassign(task=t, user=form.cleaned_data["assignee"], actor=actor),
            )
            return HttpResponseRedirect(reverse("admin:workflows_taskinstance_change", args=[task.pk]))
        return self._form_page(request, task, form, f"Reassign {task}")

    @action(description="Complete by hand", url_path="complete", permissions=["change"], icon="task_alt")
    def complete_detail(self, request: HttpRequest, object_id: Any) -> HttpResponse:
        task = self._task_or_404(request, object_id)
        form = OutputForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            actor: User = request.user  # type: ignore[assignment]
            try:
                services.complete_by_hand(task=task, output=form.cleaned_data["output"], actor=actor)
            except services.OutputInvalid as exc:
                form.add_error("output", exc)
            except services.StateConflict as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, f"{task} completed by hand.")
                return HttpResponseRedirect(reverse("admin:workflows_taskinstance_change", args=[task.pk]))
        return self._form_page(request, task, form, f"Complete {task} by hand")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class TicketErrorForm(forms.ModelForm):
    class Meta:
        model = TicketError
        fields = ["status", "resolution_notes"]

    def clean_status(self) -> str:
        order = [ErrorStatus.NEW, ErrorStatus.REVIEWED, ErrorStatus.RESOLVED]
        new = self.cleaned_data["status"]
        old = TicketError._base_manager.filter(pk=self.instance.pk).values_list("status", flat=True).first()
        if old and order.index(ErrorStatus(new)) < order.index(ErrorStatus(old)):
            raise ValidationError("An error's status only moves forward: new → reviewed → resolved.")
        return new


@admin.register(TicketError)
class TicketErrorAdmin(CompanyAdmin):
    form = TicketErrorForm
    list_display = ["__str__", "error_type", "status", "short_message", "created_at"]
    list_select_related = ["ticket", "ticket__ticket_type"]
    search_fields = ["message", "=ticket__id"]
    list_filter = ["status", "error_type", "created_at"]
    fields = [
        "ticket",
        "task_instance",
        "error_type",
        "message",
        "stack_trace",
        "status",
        "resolution_notes",
        "created_at",
        "updated_at",
    ]
    readonly_fields = [
        "ticket",
        "task_instance",
        "error_type",
        "message",
        "stack_trace",
        "created_at",
        "updated_at",
    ]
    paginator = InfinitePaginator
    actions = ["mark_reviewed", "mark_resolved"]

    @admin.display(description="Message")
    def short_message(self, obj: TicketError) -> str:
        return obj.message[:120]

    def _mark(self, request: HttpRequest, queryset: QuerySet[Any], status: str) -> None:
        actor: User = request.user  # type: ignore[assignment]
        _run(
            request,
            f"Mark {status.lower()}",
            list(queryset),
            lambda e: ticket_services.set_error_status(error=e, status=status, notes="", actor=actor),
        )

    @action(description="Mark reviewed", permissions=["change"])
    def mark_reviewed(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        self._mark(request, queryset, ErrorStatus.REVIEWED)

    @action(description="Mark resolved", permissions=["change"])
    def mark_resolved(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        self._mark(request, queryset, ErrorStatus.RESOLVED)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(FileUpload)
class FileUploadAdmin(CompanyAdmin):
    list_display = ["filename", "ticket", "file_type", "size", "uploaded_at"]
    list_select_related = ["ticket"]
    search_fields = ["filename"]
    list_filter = ["file_type", "uploaded_at"]
    readonly_fields = ["ticket", "filename", "ext_key", "file_type", "size", "uploaded_by", "uploaded_at"]
    paginator = InfinitePaginator

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(TimelineEvent)
class TimelineEventAdmin(CompanyAdmin):
    list_display = ["message", "ticket", "kind", "actor", "created_at"]
    list_select_related = ["ticket", "actor"]
    search_fields = ["message", "=ticket__id"]
    list_filter = ["kind", "created_at"]
    readonly_fields = ["ticket", "task_instance", "kind", "message", "actor", "data", "created_at"]
    paginator = InfinitePaginator

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
