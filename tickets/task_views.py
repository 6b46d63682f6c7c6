"""Worker pages: my tasks and the task form."""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts.models import User
from accounts.services import set_availability
from tickets import access
from tickets import selectors as ticket_selectors
from tickets.forms import CommentForm, SchemaForm
from tickets.paging import keyset_page
from tickets.selectors import labelled_data, task_input_rows
from workflows import services
from workflows.models import TaskInstance, TaskType


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


workers_only = access.page_requires(access.may_work_tasks, "This page needs the task worker role.")


def _task_list_columns(qs: QuerySet[TaskInstance]) -> QuerySet[TaskInstance]:
    """What the list shows, and only that: no JSON document per row."""
    return qs.select_related("task_definition", "workflow_instance__ticket__ticket_type").only(
        "id",
        "company_id",
        "status",
        "created_at",
        "task_definition__title",
        "workflow_instance__company_id",
        "workflow_instance__ticket__title",
        "workflow_instance__ticket__company_id",
        "workflow_instance__ticket__ticket_type__title",
    )


@workers_only
def task_list(request: HttpRequest) -> HttpResponse:
    page = keyset_page(
        access.open_tasks_for(_user(request)),
        key="created_at",
        newest_first=False,
        size=25,
        after=request.GET.get("after"),
        before=request.GET.get("before"),
        load=_task_list_columns,
    )
    return render(request, "workflows/task_list.html", {"page": page})


@workers_only
@require_POST
def availability(request: HttpRequest) -> HttpResponse:
    available = request.POST.get("available") == "1"
    set_availability(user=_user(request), available=available)
    messages.success(
        request, "You now receive new tasks." if available else "You receive no new tasks for now."
    )
    return redirect("task_list")


@access.page_requires(access.may_open_task_pages, "This page needs the task worker role.")
@require_http_methods(["GET", "POST"])
def task_detail(request: HttpRequest, task_id: int) -> HttpResponse:
    user = _user(request)
    task = get_object_or_404(
        access.visible_tasks(user).select_related(
            "task_definition", "workflow_instance__ticket__ticket_type", "assigned_to"
        ),
        pk=task_id,
    )
    task_def = task.task_definition
    editable = task.is_open and task_def.task_type == TaskType.FORM and access.may_complete_task(user, task)
    form = SchemaForm(
        request.POST if editable and request.method == "POST" else None,
        schema=task_def.output_schema,
        label="Your answer",
    )
    if request.method == "POST" and editable and form.is_valid():
        try:
            services.complete_form_task(
                task=task, output=form.cleaned_data["data"], actor=user, permitted=access.may_complete_task
            )
        except services.OutputInvalid as exc:
            form.add_field_errors(exc.field_errors)
        except (services.StateConflict, PermissionDenied) as exc:
            messages.error(request, str(exc))
            return redirect("task_detail", task_id=task.pk)
        else:
            messages.success(request, f"'{task_def.title}' is done.")
            return redirect("task_list")
    ticket = task.workflow_instance.ticket
    ticket_rows = labelled_data(ticket.ticket_type.fields, ticket.data)
    team = access.on_ticket_team(user, ticket)
    return render(
        request,
        "workflows/task_detail.html",
        {
            "task": task,
            "definition": task_def,
            "ticket": ticket,
            "form": form,
            "editable": editable,
            "ticket_rows": ticket_rows,
            "input_rows": task_input_rows(task, ticket_rows),
            "output_rows": labelled_data(task_def.output_schema, task.output_data),
            "comments": ticket_selectors.ticket_comments(ticket, include_internal=team),
            "comment_form": CommentForm(team=team) if access.may_reply(user, ticket) else None,
            "upload_limit": settings.UPLOAD_MAX_BYTES,
        },
    )
