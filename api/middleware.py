from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from api import keys
from api.problems import problem

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
