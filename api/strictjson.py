"""The API's door to `workflows.jsonsafe`, the one check for outside JSON: a refusal
becomes a 400 problem with the JSON path instead of a 500 from the database."""

from typing import Any

from django.http import HttpRequest
from django.utils.datastructures import MultiValueDict
from ninja.parser import Parser

from api.problems import ApiProblem
from workflows import jsonsafe


def loads(text: str | bytes) -> Any:
    try:
        return jsonsafe.loads(text)
    except jsonsafe.JSONRefused as exc:
        raise ApiProblem(400, str(exc)) from exc


def check(value: Any) -> Any:
    """For values that arrived already parsed (e.g. MCP tool arguments)."""
    refused = jsonsafe.problem(value)
    if refused is not None:
        raise ApiProblem(400, str(refused))
    return value


class StrictParser(Parser):
    def parse_body(self, request: HttpRequest) -> dict[str, Any]:
        return loads(request.body)  # type: ignore[no-any-return]

    def parse_querydict(
        self, data: MultiValueDict[str, Any], list_fields: list[str], request: HttpRequest
    ) -> dict[str, Any]:
        for key, values in data.lists():
            for value in [key, *values]:
                if isinstance(value, str) and "\x00" in value:
                    raise ApiProblem(400, "Parameters may not contain NUL (\\u0000) characters.")
        return super().parse_querydict(data, list_fields, request)
