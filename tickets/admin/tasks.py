"""Back office for ticket admins: task instances, with reassign, complete-by-hand and
retry. Here (not in workflows) because each task links to its ticket."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.html import format_html
from unfold.decorators import action
from unfold.paginator import InfinitePaginator

from accounts.admin_base import CompanyAdmin
from accounts.models import User
from tickets import access
from tickets.admin.filters import PersonAutocompleteFilter
from tickets.admin.mixins import (
    NoAddDeleteMixin,
    ReadOnlyPageMixin,
    TicketOperationsMixin,
    run_each,
    showing_change_page,
)
from workflows import services
from workflows.models import OPEN_TASK_STATUSES, TaskInstance, TaskStatus


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


class TaskAssigneeFilter(PersonAutocompleteFilter):
    title = "assignee"
    parameter_name = "assignee"

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if not self.value():
            return queryset
        person = self.person_id()
        return queryset.filter(assigned_to_id=person) if person is not None else queryset.none()


class TaskStatusFilter(admin.SimpleListFilter):
    """Open tasks unless asked otherwise: the list is a to-do list first."""

    title = "status"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            ("open", "Open (default)"),
            *((str(v), str(t)) for v, t in TaskStatus.choices),
            ("all", "All"),
        ]

    def value(self) -> str:
        return super().value() or "open"

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if value == "open":
            return queryset.filter(status__in=OPEN_TASK_STATUSES)
        if value in TaskStatus.values:
            return queryset.filter(status=value)
        return queryset

    def choices(self, changelist: Any) -> Any:
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == str(lookup),
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }


class WorkerChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        n = obj.open_tasks
        load = f"{n} open task{'s' if n != 1 else ''}"
        return f"{obj} · {load} · {'available' if obj.is_available else 'away'}"


class ReassignForm(forms.Form):
    assignee = WorkerChoiceField(queryset=User.objects.none(), required=False, empty_label="Nobody")

    def __init__(self, *args: Any, task: TaskInstance, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Workload from the per-worker counters the engine keeps (User.open_tasks): no count per render.
        workers = access.assignable_workers(task)
        self.fields["assignee"].queryset = workers  # type: ignore[attr-defined]
        self.fields["assignee"].help_text = "Open tasks and availability shown for each worker."
        self.fields["assignee"].initial = task.assigned_to_id


class OutputForm(forms.Form):
    output = forms.JSONField(initial=dict, help_text="The step's output, a JSON object.")


@admin.register(TaskInstance)
class TaskInstanceAdmin(ReadOnlyPageMixin, NoAddDeleteMixin, TicketOperationsMixin, CompanyAdmin):
    list_display = ["__str__", "ticket_link", "status", "assigned_to", "created_at"]
    list_select_related = ["task_definition", "workflow_instance__ticket", "assigned_to"]
    list_defer = (
        "input_data",
        "output_data",
        "task_definition__input_schema",
        "task_definition__output_schema",
        "task_definition__input_transform",
        "task_definition__output_transform",
        "task_definition__edit_layout",
        "task_definition__description",
        "task_definition__ext_ref",
        "task_definition__display_layout",
        "workflow_instance__workflow_data",
        "workflow_instance__ticket__data",
        "assigned_to__password",
    )
    search_fields = ["=id", "task_definition__title", "task_definition__key"]
    list_filter = [TaskStatusFilter, OverdueFilter, TaskAssigneeFilter, "task_definition__task_type"]
    ordering = ["-created_at", "-id"]
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

    def has_open_task_permission(self, request: HttpRequest, object_id: Any = None) -> bool:
        if object_id is None or not showing_change_page(request):
            return True
        return self.get_queryset(request).filter(pk=object_id, status__in=OPEN_TASK_STATUSES).exists()

    @action(description="Reassign", url_path="reassign", permissions=["change", "open_task"], icon="person")
    def reassign_detail(self, request: HttpRequest, object_id: Any) -> HttpResponse:
        task = self._task_or_404(request, object_id)
        form = ReassignForm(request.POST or None, task=task)
        if request.method == "POST" and form.is_valid():
            actor: User = request.user  # type: ignore[assignment]
            run_each(
                request,
                "Reassign",
                [task],
                lambda t: services.reassign(
                    task=t, user=form.cleaned_data["assignee"], actor=actor, eligible=access.may_receive_task
                ),
            )
            return HttpResponseRedirect(reverse("admin:workflows_taskinstance_change", args=[task.pk]))
        return self._form_page(request, task, form, f"Reassign {task}")

    @action(
        description="Complete by hand",
        url_path="complete",
        permissions=["change", "open_task"],
        icon="task_alt",
    )
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
