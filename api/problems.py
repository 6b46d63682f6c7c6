"""RFC 9457 problem details: every error the API answers is one of these."""

import json
from http import HTTPStatus
from typing import Any

from django.http import HttpResponse

PROBLEM_TYPE = "application/problem+json"


def problem(status: int, detail: str = "", **extra: Any) -> HttpResponse:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    body.update(extra)
    response = HttpResponse(json.dumps(body), status=status, content_type=PROBLEM_TYPE)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="api"'
    return response


class ApiProblem(Exception):
    """Raised by API code to answer with a problem; `extra` adds members (e.g. `errors`)."""

    def __init__(self, status: int, detail: str = "", **extra: Any) -> None:
        self.status = status
        self.detail = detail
        self.extra = extra
        super().__init__(detail)
