from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from accounts.tenancy import user_scope


class CompanyScopeMiddleware:
    """Runs each authenticated request inside its user's company scope. Anonymous
    requests get no scope: any scoped query they make raises."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if not user.is_authenticated:
            return self.get_response(request)
        with user_scope(user):  # type: ignore[arg-type]
            return self.get_response(request)
