import json

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from workflows.background import CallbackOutcome, accept_callback

_MAX_CALLBACK_BYTES = 1024 * 1024


@csrf_exempt
@require_POST
def callback(request: HttpRequest, task_uuid: str) -> HttpResponse:
    """ASYNC_ACTION callback: `Authorization: Bearer <token>` and a JSON object body."""
    auth = request.headers.get("Authorization", "")
    if not auth.startswith("Bearer ") or len(request.body) > _MAX_CALLBACK_BYTES:
        return JsonResponse({"error": "not found"}, status=404)
    try:
        payload = json.loads(request.body or b"{}")
    except ValueError:
        return JsonResponse({"error": "The body must be JSON."}, status=400)
    if not isinstance(payload, dict):
        return JsonResponse({"error": "The body must be a JSON object."}, status=400)
    outcome = accept_callback(task_uuid=task_uuid, token=auth[7:].strip(), payload=payload)  # type: ignore[arg-type]
    if outcome is CallbackOutcome.NOT_FOUND:
        return JsonResponse({"error": "not found"}, status=404)
    if outcome is CallbackOutcome.CONFLICT:
        return JsonResponse({"error": "This task is no longer waiting for a callback."}, status=409)
    return JsonResponse({"status": "duplicate" if outcome is CallbackOutcome.DUPLICATE else "accepted"})
