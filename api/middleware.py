from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from api import keys
from api.problems import PROBLEM_TYPE, problem

API_PREFIX = "/api/v1/"


def bearer_token(header: str) -> str | None:
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


class ApiKeyMiddleware:
    """Resolves `Authorization: Bearer <key>` on /api/v1/ before the company scope is
    entered, so a key's request runs as its user, in its company, like a page does.
    Sits between AuthenticationMiddleware and CompanyScopeMiddleware."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.api_key = None  # type: ignore[attr-defined]
        if not request.path.startswith(API_PREFIX):
            return self.get_response(request)
        return as_problem(self._call(request))

    def _call(self, request: HttpRequest) -> HttpResponse:
        header = request.headers.get("Authorization", "")
        if not header:
            return self.get_response(request)
        token = bearer_token(header)
        resolved = keys.resolve(token) if token else keys.Resolved(None)
        if resolved.key is None:
            return problem(401, "The API key is missing, unknown or revoked.")
        if resolved.retry_after is not None:
            response = problem(429, "Rate limit exceeded for this API key.")
            response["Retry-After"] = str(resolved.retry_after)
            return response
        request.api_key = resolved.key  # type: ignore[attr-defined]
        request.user = resolved.key.user
        return self.get_response(request)


def as_problem(response: HttpResponse) -> HttpResponse:
    """Errors answered outside the API's own handlers (an unknown path, a wrong method,
    the upload limits' 413) are problem details too, not HTML pages."""
    if response.status_code < 400 or response.get("Content-Type", "").startswith(PROBLEM_TYPE):
        return response
    detail = ""
    if response.status_code == 413:
        detail = (
            f"The upload is too large: at most {settings.UPLOAD_MAX_FILES} files, "
            f"{settings.UPLOAD_MAX_BYTES} bytes each, {settings.UPLOAD_MAX_REQUEST_BYTES} bytes in all."
        )
    converted = problem(response.status_code, detail)
    if response.has_header("Allow"):
        converted["Allow"] = response["Allow"]
    return converted
