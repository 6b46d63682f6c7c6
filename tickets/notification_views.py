"""In-app notices and email preferences."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts.models import User
from tickets import notifications, selectors, services
from tickets.forms import NotificationPreferencesForm
from tickets.models import DIGEST_KINDS


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def preferences_form(user: User, data: object = None) -> NotificationPreferencesForm:
    return NotificationPreferencesForm(
        data,
        groups=notifications.kind_groups_for(user),
        digest_kinds=tuple(str(k) for k in DIGEST_KINDS),
        initial=selectors.notification_choices(user),
    )


@login_required
def notification_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.notices_for(_user(request)), 25).get_page(request.GET.get("page"))
    return render(request, "notifications/list.html", {"page": page})


@login_required
@require_POST
def notification_read(request: HttpRequest, notification_id: int) -> HttpResponse:
    """Marks one notice read; with `open` it then goes to what the notice is about."""
    notice = selectors.notices_for(_user(request)).filter(pk=notification_id).first()
    if notice is None:  # someone else's notice, or none at all
        raise Http404("Not found.")
    services.mark_notifications_read(user=_user(request), notification_id=notice.pk)
    if request.POST.get("open") and notice.url.startswith("/"):
        return redirect(notice.url)
    return redirect("notification_list")


@login_required
@require_POST
def notification_read_all(request: HttpRequest) -> HttpResponse:
    changed = services.mark_notifications_read(user=_user(request))
    messages.success(request, f"{changed} notice{'s' if changed != 1 else ''} marked as read.")
    return redirect("notification_list")


@login_required
@require_http_methods(["GET", "POST"])
def notification_preferences(request: HttpRequest) -> HttpResponse:
    """Shown on the profile page; saved here."""
    user = _user(request)
    form = preferences_form(user, request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        services.set_notification_preferences(user=user, choices=form.cleaned_data)
        messages.success(request, "Your email choices were saved.")
        return redirect("profile")
    return render(
        request,
        "notifications/preferences.html",
        {"preferences_form": form},
        status=400 if request.method == "POST" else 200,
    )
