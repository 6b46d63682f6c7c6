"""First-run pages: the template gallery (install a sample bundle in one click)."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.models import User
from tickets import access, onboarding
from tickets.bundles import BundleInvalid

_MESSAGE = "Templates are installed by company admins and workflow creators."


@access.page_requires(access.edits_definitions, _MESSAGE)
def template_gallery(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    installed = onboarding.installed_keys(access.company_id(user) or 0)
    return render(
        request, "tickets/templates.html", {"samples": onboarding.samples(), "installed": installed}
    )


@access.page_requires(access.edits_definitions, _MESSAGE)
@require_POST
def install_template(request: HttpRequest, key: str) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    try:
        onboarding.install_sample(user=user, key=key)
    except onboarding.UnknownSample:
        messages.error(request, "There is no such template.")
        return redirect("template_gallery")
    except BundleInvalid as exc:  # e.g. a key already used differently in this company
        messages.error(request, f"The template could not be installed: {exc.problems[0].message}")
        return redirect("template_gallery")
    title = next((s.title for s in onboarding.samples() if s.key == key), key)
    unstaffed = onboarding.unstaffed_steps(user, key)
    if unstaffed:  # its tickets would wait unassigned: say so now, not on the first ticket
        messages.warning(
            request,
            "Nobody can do these steps yet, so their tasks would wait unassigned: "
            + "; ".join(unstaffed)
            + " Give people those roles on their user page in the back office, or make "
            "yourself available on My tasks.",
        )
    closed = onboarding.closed_types(user, key)
    if closed:
        whom = "; ".join(f"'{name}' is for members of {', '.join(roles)}" for name, roles in closed)
        messages.success(
            request,
            f"'{title}' is installed. {whom}: add people (yourself too, to try it) to that role "
            "on their user page in the back office, then submit a ticket.",
        )
        return redirect("home")
    messages.success(
        request,
        f"'{title}' is installed. Submit a ticket to try it, or edit it in the back office.",
    )
    return redirect("home")
