"""Worker pages: my tasks and the task form."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts.decorators import role_required
from accounts.models import User
from accounts.roles import SystemRole
from accounts.services import set_availability
from tickets.forms import SchemaForm
from tickets.selectors import labelled_data
from workflows import selectors, services
from workflows.models import TaskType


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


@role_required(SystemRole.TASK_WORKER)
def task_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.open_tasks_for(_user(request)), 25).get_page(request.GET.get("page"))
    return render(request, "workflows/task_list.html", {"page": page})


@role_required(SystemRole.TASK_WORKER)
@require_POST
def availability(request: HttpRequest) -> HttpResponse:
    available = request.POST.get("available") == "1"
    set_availability(user=_user(request), available=available)
    messages.success(
        request, "You now receive new tasks." if available else "You receive no new tasks for now."
    )
    return redirect("task_list")


@require_http_methods(["GET", "POST"])
def task_detail(request: HttpRequest, task_id: int) -> HttpResponse:
    user = _user(request)
    if not user.is_authenticated:
        return redirect(f"/accounts/login/?next={request.path}")
    if not (user.has_role(SystemRole.TASK_WORKER) or user.has_role(SystemRole.TICKET_ADMIN)):
        raise PermissionDenied("This page needs the task worker role.")
    task = get_object_or_404(selectors.visible_tasks(user), pk=task_id)
    task_def = task.task_definition
    editable = task.is_open and task_def.task_type == TaskType.FORM and services.can_complete(task, user)
    form = SchemaForm(
        request.POST if editable and request.method == "POST" else None,
        schema=task_def.output_schema,
        label="Your answer",
    )
    if request.method == "POST" and editable and form.is_valid():
        try:
            services.complete_form_task(task=task, output=form.cleaned_data["data"], actor=user)
        except services.OutputInvalid as exc:
            form.add_field_errors(exc.field_errors)
        except services.StateConflict as exc:
            messages.error(request, str(exc))
            return redirect("task_detail", task_id=task.pk)
        else:
            messages.success(request, f"'{task_def.title}' is done.")
            return redirect("task_list")
    ticket = task.workflow_instance.ticket
    return render(
        request,
        "workflows/task_detail.html",
        {
            "task": task,
            "definition": task_def,
            "ticket": ticket,
            "form": form,
            "editable": editable,
            "ticket_rows": labelled_data(ticket.ticket_type.fields, ticket.data),
        },
    )
