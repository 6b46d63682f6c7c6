"""Worker pages: my tasks, the claimable queue tasks and the task form. Open to anyone
of the company who has work here (task workers, a submitter asked to rework their own
request, members of a queue role), not only to the task_worker role; which rows each
one sees is `tickets.access`."""

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts.models import User
from accounts.prepared import Prepared
from accounts.services import set_availability
from tickets import access
from tickets import selectors as ticket_selectors
from tickets.forms import CommentForm, SchemaForm
from tickets.selectors import labelled_data, task_input_rows, task_page_context
from workflows import services
from workflows.models import TaskType, WorkflowStatus

CLAIMABLE_LIMIT = 50


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


workers_only = access.page_requires(access.may_work_tasks, "This page needs the task worker role.")
task_pages = access.page_requires(access.in_any_company, "This page is for members of a company.")


def _task_list_query(key: str, user: User) -> QuerySet[Any]:
    """The Claimable list and the queue names, prepared (accounts.prepared): building
    these querysets cost more CPU than running them."""
    if key == "claimable":
        return access.claimable_tasks(user)[: CLAIMABLE_LIMIT + 1]
    # The queues the person may claim from, so an empty Claimable list can name them.
    return user.company_roles.order_by("name").values_list("name", flat=True)


_TASK_LIST = Prepared(_task_list_query)


@task_pages
def task_list(request: HttpRequest) -> HttpResponse:
    user = _user(request)  # in a company (task_pages)
    page = ticket_selectors.my_task_page(
        user, after=request.GET.get("after"), before=request.GET.get("before")
    )
    queues = [name for (name,) in _TASK_LIST.tuples("queues", user)]
    # Queue tasks belong to company roles: without one there is nothing to claim.
    claimable = _TASK_LIST.objects("claimable", user) if queues else []
    return render(
        request,
        "workflows/task_list.html",
        {
            "page": page,
            "claimable": claimable[:CLAIMABLE_LIMIT],
            "claimable_more": len(claimable) > CLAIMABLE_LIMIT,
            "is_worker": access.may_work_tasks(user),
            "queues": queues,
            "manages_tickets": access.manages_tickets(user),
        },
    )


@workers_only
@require_POST
def availability(request: HttpRequest) -> HttpResponse:
    available = request.POST.get("available") == "1"
    set_availability(user=_user(request), available=available)
    messages.success(
        request, "You now receive new tasks." if available else "You receive no new tasks for now."
    )
    return redirect("task_list")


@task_pages
@require_POST
def task_claim(request: HttpRequest, task_id: int) -> HttpResponse:
    user = _user(request)
    task = access.visible_tasks(user).select_related("task_definition").filter(pk=task_id).first()
    if task is None:
        if access.claimed_by_another(user, task_id):
            messages.error(request, "Another member claimed it first.")
            return redirect("task_list")
        raise Http404
    try:
        services.claim(task=task, actor=user, permitted=access.may_claim_task)
    except (services.StateConflict, PermissionDenied) as exc:
        messages.error(request, str(exc))
        return redirect("task_list")
    messages.success(request, f"'{task.task_definition.title}' is yours.")
    return redirect("task_detail", task_id=task.pk)


@task_pages
@require_POST
def task_release(request: HttpRequest, task_id: int) -> HttpResponse:
    user = _user(request)
    task = get_object_or_404(access.visible_tasks(user).select_related("task_definition"), pk=task_id)
    try:
        services.release(task=task, actor=user)
    except (services.StateConflict, PermissionDenied) as exc:
        messages.error(request, str(exc))
        return redirect("task_detail", task_id=task.pk)
    messages.success(request, f"'{task.task_definition.title}' is back in its queue.")
    return redirect("task_list")


@task_pages
@require_http_methods(["GET", "POST"])
def task_detail(request: HttpRequest, task_id: int) -> HttpResponse:
    user = _user(request)
    task = get_object_or_404(
        access.visible_tasks(user).select_related(
            "task_definition", "workflow_instance__ticket__ticket_type", "assigned_to", "queue_role"
        ),
        pk=task_id,
    )
    task_def = task.task_definition
    held = task.workflow_instance.status == WorkflowStatus.ON_HOLD
    may_complete = (
        task.is_open and task_def.task_type == TaskType.FORM and access.may_complete_task(user, task)
    )
    editable = may_complete and not held
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
    elif request.method == "POST" and held:
        messages.error(request, "The ticket is on hold: nothing was saved.")
    page = task_page_context(task, user)
    ticket = page["ticket"]
    team = access.on_ticket_team(user, ticket)
    return render(
        request,
        "workflows/task_detail.html",
        {
            **page,
            "form": form,
            "editable": editable,
            "input_rows": task_input_rows(task, page["ticket_rows"]),
            "output_rows": labelled_data(task_def.output_schema, task.output_data),
            "comments": ticket_selectors.ticket_comments(ticket, include_internal=team),
            "comment_form": CommentForm(team=team) if access.may_reply(user, ticket) else None,
            "upload_limit": settings.UPLOAD_MAX_BYTES,
            "held": held and may_complete,
            "claimable": task.is_open and task.assigned_to_id is None and task.queue_role_id is not None,
            "releasable": task.is_open and task.queue_role_id is not None and task.assigned_to_id == user.pk,
        },
    )
