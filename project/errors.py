"""Error pages in the product's look: 403/404/500 say what happened and where to go.
Under /admin/ a back-office user gets them inside the back office (unfold's frame);
everyone else gets the pages' frame. A logged-in person without back-office access who
opens the back office is told so, with a link home, instead of the admin login form."""

import logging
import sys
from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template import loader

from api.problems import problem
from workflows.resilience import transient_database_error

logger = logging.getLogger(__name__)

_TITLES = {
    403: "You do not have access to this page",
    404: "Page not found",
    500: "Something went wrong on our side",
    503: "The service is busy for a moment",
}
UNAVAILABLE_EXPLANATION = (
    "The database did not answer, so this request may not have finished. Check what it "
    "changed before you repeat it in a few seconds."
)
RETRY_AFTER_SECONDS = 5
API_DETAIL = {
    500: "Something went wrong on our side; nothing was changed.",
    503: "The database did not answer; the request may not have finished. Check before retrying.",
}


def database_unavailable(exception: BaseException | None) -> bool:
    """A lost or refused connection, a deadlock, a lock or statement timeout: the
    request can succeed if retried, so the answer is 503, not a bug's 500."""
    return transient_database_error(exception)


def _in_back_office(request: HttpRequest) -> bool:
    user = getattr(request, "user", None)
    return request.path.startswith("/admin/") and bool(user and user.is_authenticated and user.is_staff)


def _reason(exception: Exception | None) -> str:
    # The refusals we raise say which role is missing; 404 texts are for developers
    # ("No Ticket matches the given query.") and are not shown.
    if exception is None or not exception.args or not isinstance(exception.args[0], str):
        return ""
    return exception.args[0]


def _page(request: HttpRequest, status: int, reason: str) -> HttpResponse:
    context: dict[str, Any] = {"status": status, "title": _TITLES[status], "reason": reason}
    if _in_back_office(request):
        context.update(admin.site.each_context(request))
        return render(request, "admin/error.html", context, status=status)
    return render(request, "error.html", context, status=status)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _page(request, 403, _reason(exception))


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _page(request, 404, "")


def server_error(request: HttpRequest) -> HttpResponse:
    # No database reads here: the failure may be the database. The back office gets its
    # look from a template that needs no admin context. Django calls this view while
    # handling the exception, so sys.exc_info() names it.
    status = 503 if database_unavailable(sys.exc_info()[1]) else 500
    if request.path.startswith("/api/"):  # failed before the API's own handlers (session, key)
        response = problem(status, API_DETAIL[status])
    else:
        response = _server_error_page(request, status)
    if status == 503:
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _server_error_page(request: HttpRequest, status: int) -> HttpResponse:
    context: dict[str, Any] = {"status": status, "title": _TITLES[status]}
    if status == 503:
        context["explanation"] = UNAVAILABLE_EXPLANATION
    template = "admin/error_500.html" if request.path.startswith("/admin/") else "500.html"
    try:
        body = loader.get_template(template).render(context)
    except Exception:  # the error page must never fail itself
        logger.exception("The %s page could not be rendered", status)
        body = f"<h1>Server error ({status})</h1><p><a href='/'>Go to the home page</a></p>"
    return HttpResponse(body, status=status)


def no_back_office(request: HttpRequest) -> HttpResponse | None:
    """For a logged-in person without back-office access: a page saying so (403).
    None when the ordinary admin login applies."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or admin.site.has_permission(request):
        return None
    return render(
        request,
        "error.html",
        {
            "status": 403,
            "title": "The back office is not part of your account",
            "reason": (
                "The back office is for company admins, ticket admins and workflow creators. "
                "Your account has none of these roles; ask your company admin if you need one."
            ),
        },
        status=403,
    )


def admin_login(request: HttpRequest) -> HttpResponse:
    return no_back_office(request) or admin.site.login(request)
