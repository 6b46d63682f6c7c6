"""Built-in demo action endpoints for the sample bundles (fixtures/bundles). Mounted
under /demo/ only when DEMO_ENDPOINTS_ENABLED (default: DEBUG). They play the external
systems: a finance budget check (SYNC_ACTION) and an identity system that creates an
account and calls back later (ASYNC_ACTION)."""

import hmac
import json
import threading
import uuid
from collections.abc import Callable
from functools import wraps
from typing import Any

import requests
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from django_scopes import scopes_disabled

from workflows.actions import SIGNATURE_HEADER, sign
from workflows.models import TaskInstance

CALLBACK_DELAY_SECONDS = 1.0


def _signed_by_us(request: HttpRequest) -> bool:
    """Checks the HMAC the way a receiver would: the Idempotency-Key names the task,
    whose company holds the secret."""
    key = request.headers.get("Idempotency-Key", "")
    try:
        task_uuid = uuid.UUID(key)
    except ValueError:
        return False
    with scopes_disabled():
        task = TaskInstance.objects.filter(uuid=task_uuid).select_related("company").first()
    if task is None:
        return False
    expected = sign(task.company.action_secret, request.body)
    return hmac.compare_digest(expected, request.headers.get(SIGNATURE_HEADER, ""))


def demo_endpoint(view: Callable[[dict[str, Any]], HttpResponse]) -> Callable[[HttpRequest], HttpResponse]:
    """POST only, off unless DEMO_ENDPOINTS_ENABLED, and the body must be a JSON object
    signed by this installation; the view gets that object."""

    @csrf_exempt
    @require_POST
    @wraps(view)
    def wrapped(request: HttpRequest) -> HttpResponse:
        if not settings.DEMO_ENDPOINTS_ENABLED:
            raise Http404("Demo endpoints are disabled.")
        body = _signed_json(request)
        if body is None:
            return JsonResponse({"error": "unsigned or malformed request"}, status=400)
        return view(body)

    return wrapped


def _signed_json(request: HttpRequest) -> dict[str, Any] | None:
    """The request's JSON object, or None when it is malformed or not signed by us."""
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        return None
    return body if isinstance(body, dict) and _signed_by_us(request) else None


@demo_endpoint
def budget_check(body: dict[str, Any]) -> HttpResponse:
    amount = body.get("amount")
    if not isinstance(amount, (int, float)):
        return JsonResponse({"error": "amount must be a number"}, status=422)
    return JsonResponse({"within_budget": amount <= 5000, "reference": f"BUD-{uuid.uuid4().hex[:8].upper()}"})


def deliver_callback(url: str, token: str, payload: dict[str, Any]) -> int:
    response = requests.post(
        url, json=payload, headers={"Authorization": f"Bearer {token}"}, timeout=10, allow_redirects=False
    )
    return response.status_code


@demo_endpoint
def provision_account(body: dict[str, Any]) -> HttpResponse:
    url, token = body.get("callback_url"), body.get("callback_token")
    if not isinstance(url, str) or not isinstance(token, str):
        return JsonResponse({"error": "callback_url and callback_token are required"}, status=422)
    name = str(body.get("name") or "new.person")
    account = ".".join(name.lower().split()) or "new.person"
    # Answer now, call back a moment later: the task is PENDING by then.
    timer = threading.Timer(CALLBACK_DELAY_SECONDS, deliver_callback, args=(url, token, {"account": account}))
    timer.daemon = True
    timer.start()
    return JsonResponse({"accepted": True}, status=202)


urlpatterns = [
    path("budget-check/", budget_check, name="demo_budget_check"),
    path("provision-account/", provision_account, name="demo_provision_account"),
]
