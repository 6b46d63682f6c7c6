"""Error pages in the product's look: 403/404/500 say what happened and where to go.
Under /admin/ a back-office user gets them inside the back office (unfold's frame);
everyone else gets the pages' frame. A logged-in person without back-office access who
opens the back office is told so, with a link home, instead of the admin login form."""

import logging
from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template import loader

logger = logging.getLogger(__name__)

_TITLES = {
    403: "You do not have access to this page",
    404: "Page not found",
    500: "Something went wrong on our side",
}


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
    # look from a template that needs no admin context.
    template = "admin/error_500.html" if request.path.startswith("/admin/") else "500.html"
    try:
        body = loader.get_template(template).render({"status": 500, "title": _TITLES[500]})
    except Exception:  # the error page must never fail itself
        logger.exception("The 500 page could not be rendered")
        body = "<h1>Server error (500)</h1><p><a href='/'>Go to the home page</a></p>"
    return HttpResponse(body, status=500)


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
