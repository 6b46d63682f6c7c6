from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from accounts.models import User
from tickets import access, diagrams, selectors, services
from tickets.forms import CommentForm, TicketForm
from tickets.models import FileUpload, Ticket
from tickets.paging import keyset_page
from workflows.services import StateConflict

PAGE_SIZE = 20


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


submitters_only = access.page_requires(access.may_submit_tickets, "This page needs the submitter role.")


@submitters_only
def ticket_new(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    types = list(access.submittable_types(user))
    return render(
        request,
        "tickets/new.html",
        {"types": types, "can_build": not types and access.edits_definitions(user)},
    )


@submitters_only
@require_http_methods(["GET", "POST"])
def ticket_submit(request: HttpRequest, type_id: int) -> HttpResponse:
    user = _user(request)
    ticket_type = access.submittable_type(user, type_id)
    if ticket_type is None:
        raise Http404("Not found.")
    posted = request.method == "POST"  # an empty POST is still an answer (all fields missing)
    form = TicketForm(
        request.POST if posted else None,
        request.FILES if posted else None,
        schema=ticket_type.fields,
        label="Details",
    )
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
    user = _user(request)
    page = keyset_page(
        lambda: selectors.ticket_list(user, archived=archived, search=search),
        key="created_at",
        newest_first=True,
        size=PAGE_SIZE,
        after=request.GET.get("after"),
        before=request.GET.get("before"),
        load=selectors.ticket_list_columns,
        first_page=(
            None
            if search.strip()
            else lambda: selectors.first_ticket_page(user, archived=archived, size=PAGE_SIZE)
        ),
    )
    rows = selectors.with_current_tasks(page.rows)
    return render(
        request,
        "tickets/list.html",
        {"page": page, "rows": rows, "archived": archived, "q": search},
    )


@submitters_only
def ticket_list(request: HttpRequest) -> HttpResponse:
    return _ticket_list(request, archived=False)


@submitters_only
def ticket_archive(request: HttpRequest) -> HttpResponse:
    return _ticket_list(request, archived=True)


@login_required
def ticket_detail(request: HttpRequest, ticket_id: int) -> HttpResponse:
    user = _user(request)
    ticket = selectors.page_ticket(user, ticket_id)
    if ticket is None:
        raise Http404("No Ticket matches the given query.")
    team = access.on_ticket_team(user, ticket)
    context = selectors.ticket_detail_context(
        ticket, staff_view=access.sees_staff_detail(user), team_view=team
    )
    context["comment_form"] = CommentForm(team=team)
    context["upload_limit"] = settings.UPLOAD_MAX_BYTES
    context["diagram"] = diagrams.ticket_diagram(ticket, context["tasks"], simple=True)
    return render(request, "tickets/detail.html", context)


class CancelForm(forms.Form):
    reason = forms.CharField(
        label="Why cancel this ticket?",
        max_length=400,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Shown on the ticket's timeline.",
    )


@login_required
@require_POST
def comment_add(request: HttpRequest, ticket_id: int) -> HttpResponse:
    """A reply or internal note from the ticket page or the task page (`next`)."""
    user = _user(request)
    ticket = get_object_or_404(access.commentable_tickets(user), pk=ticket_id)
    team = access.on_ticket_team(user, ticket)
    form = CommentForm(request.POST, request.FILES, team=team)
    back = _back_url(request, ticket)
    if form.is_valid():
        try:
            services.add_comment(
                ticket=ticket,
                author=user,
                body=form.cleaned_data["body"],
                internal=bool(form.cleaned_data.get("internal")),
                files=form.cleaned_data["attachments"],
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(
                request,
                "Your note was added." if form.cleaned_data.get("internal") else "Your reply was sent.",
            )
            return redirect(back)
    return render(
        request,
        "tickets/comment_error.html",
        {"ticket": ticket, "comment_form": form, "back": back, "upload_limit": settings.UPLOAD_MAX_BYTES},
        status=400,
    )


def _back_url(request: HttpRequest, ticket: Ticket) -> str:
    """Only a local path may be the `next` target (no open redirect)."""
    target = request.POST.get("next") or ""
    if target.startswith("/") and url_has_allowed_host_and_scheme(target, allowed_hosts=None):
        return target
    return reverse("ticket_detail", args=[ticket.pk])


@login_required
@require_http_methods(["GET", "POST"])
def ticket_cancel(request: HttpRequest, ticket_id: int) -> HttpResponse:
    """GET asks for confirmation and a reason; only the POST cancels."""
    user = _user(request)
    ticket = get_object_or_404(
        access.visible_tickets(user).select_related("workflow_instance", "ticket_type"), pk=ticket_id
    )
    if not access.may_cancel_ticket(user, ticket):  # an assignee sees the ticket, no cancel form
        raise Http404("No such ticket.")
    form = CancelForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            services.cancel_ticket(ticket=ticket, actor=user, reason=form.cleaned_data["reason"])
        except StateConflict as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, f"Ticket #{ticket.pk} was cancelled.")
        return redirect("ticket_detail", ticket_id=ticket.pk)
    return render(request, "tickets/cancel.html", {"ticket": ticket, "form": form})


@login_required
def attachment_download(request: HttpRequest, upload_id: int) -> HttpResponseBase:
    # Same answer whether the file exists elsewhere or not at all.
    upload: FileUpload = get_object_or_404(access.visible_attachments(_user(request)), pk=upload_id)
    path = services.storage_path(upload)
    if not default_storage.exists(path):
        raise Http404("The file is missing.")
    return FileResponse(default_storage.open(path, "rb"), as_attachment=True, filename=upload.filename)
