from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts.decorators import role_required
from accounts.models import User
from accounts.roles import SystemRole
from tickets import selectors, services
from tickets.forms import TicketForm
from tickets.models import FileUpload
from workflows.services import StateConflict

PAGE_SIZE = 20


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


@role_required(SystemRole.USER)
def ticket_new(request: HttpRequest) -> HttpResponse:
    types = selectors.submittable_types(_user(request))
    return render(request, "tickets/new.html", {"types": types})


@role_required(SystemRole.USER)
@require_http_methods(["GET", "POST"])
def ticket_submit(request: HttpRequest, type_id: int) -> HttpResponse:
    user = _user(request)
    ticket_type = get_object_or_404(selectors.submittable_types(user), pk=type_id)
    form = TicketForm(request.POST or None, request.FILES or None, schema=ticket_type.fields, label="Details")
    if request.method == "POST" and form.is_valid():
        try:
            ticket = services.submit_ticket(
                user=user,
                ticket_type=ticket_type,
                data=form.cleaned_data["data"],
                files=form.cleaned_data["attachments"],
            )
        except services.TicketDataInvalid as exc:
            form.add_field_errors(exc.field_errors)
        except ValidationError as exc:
            form.add_error("attachments", exc)
        else:
            messages.success(request, f"Ticket #{ticket.pk} was submitted.")
            return redirect("ticket_detail", ticket_id=ticket.pk)
    return render(
        request,
        "tickets/submit.html",
        {"ticket_type": ticket_type, "form": form, "upload_limit": settings.UPLOAD_MAX_BYTES},
    )


def _ticket_list(request: HttpRequest, *, archived: bool) -> HttpResponse:
    search = request.GET.get("q", "")
    qs = selectors.ticket_list(_user(request), archived=archived, search=search)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = selectors.with_current_tasks(list(page.object_list))
    return render(
        request,
        "tickets/list.html",
        {"page": page, "rows": rows, "archived": archived, "q": search},
    )


@role_required(SystemRole.USER)
def ticket_list(request: HttpRequest) -> HttpResponse:
    return _ticket_list(request, archived=False)


@role_required(SystemRole.USER)
def ticket_archive(request: HttpRequest) -> HttpResponse:
    return _ticket_list(request, archived=True)


@login_required
def ticket_detail(request: HttpRequest, ticket_id: int) -> HttpResponse:
    user = _user(request)
    ticket = get_object_or_404(
        selectors.visible_tickets(user).select_related(
            "ticket_type", "workflow_instance", "workflow_instance__current_task", "created_by"
        ),
        pk=ticket_id,
    )
    context = selectors.ticket_detail_context(ticket, staff_view=user.has_role(SystemRole.TICKET_ADMIN))
    return render(request, "tickets/detail.html", context)


@login_required
@require_POST
def ticket_cancel(request: HttpRequest, ticket_id: int) -> HttpResponse:
    user = _user(request)
    ticket = get_object_or_404(selectors.visible_tickets(user), pk=ticket_id)
    try:
        services.cancel_ticket(ticket=ticket, actor=user)
    except StateConflict as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Ticket #{ticket.pk} was cancelled.")
    return redirect("ticket_detail", ticket_id=ticket.pk)


@login_required
def attachment_download(request: HttpRequest, upload_id: int) -> HttpResponseBase:
    user = _user(request)
    upload: FileUpload = get_object_or_404(FileUpload.objects.all(), pk=upload_id)
    ticket_id = upload.ticket_id
    visible = ticket_id is not None and (
        selectors.visible_tickets(user).filter(pk=ticket_id).exists()
        or selectors.worker_sees_ticket(user, ticket_id)
    )
    if not visible:  # same answer whether the file exists elsewhere or not at all
        raise Http404("Not found.")
    path = services.storage_path(upload)
    if not default_storage.exists(path):
        raise Http404("The file is missing.")
    return FileResponse(default_storage.open(path, "rb"), as_attachment=True, filename=upload.filename)
