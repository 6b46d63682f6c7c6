from uuid import UUID

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from workflows import jsonsafe
from workflows.background import CallbackOutcome, accept_callback, authenticate_callback

MAX_CALLBACK_BYTES = 1024 * 1024


@csrf_exempt
@require_POST
def callback(request: HttpRequest, task_uuid: UUID) -> HttpResponse:
    """ASYNC_ACTION callback: `Authorization: Bearer <token>` and a JSON object body.
    Authenticates first (404 for an unknown task or a wrong token, the body unread),
    then refuses an oversized body (413) and bad JSON (400), then accepts."""
    auth = request.headers.get("Authorization", "")
    token = auth[7:].strip() if auth.startswith("Bearer ") else ""
    caller = authenticate_callback(task_uuid=task_uuid, token=token)
    if caller is None:
        return JsonResponse({"error": "not found"}, status=404)
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return JsonResponse({"error": "Bad Content-Length."}, status=400)
    if declared > MAX_CALLBACK_BYTES:
        return JsonResponse({"error": f"The body is larger than {MAX_CALLBACK_BYTES} bytes."}, status=413)
    try:
        payload = jsonsafe.loads(request.body or b"{}")
    except jsonsafe.JSONRefused as exc:
        return JsonResponse({"error": f"The body is not acceptable JSON: {exc}"}, status=400)
    if not isinstance(payload, dict):
        return JsonResponse({"error": "The body must be a JSON object."}, status=400)
    outcome = accept_callback(caller=caller, token=token, payload=payload)
    if outcome is CallbackOutcome.NOT_FOUND:
        return JsonResponse({"error": "not found"}, status=404)
    if outcome is CallbackOutcome.CONFLICT:
        return JsonResponse({"error": "This task is no longer waiting for a callback."}, status=409)
    return JsonResponse({"status": "duplicate" if outcome is CallbackOutcome.DUPLICATE else "accepted"})
