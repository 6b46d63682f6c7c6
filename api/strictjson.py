"""JSON the database can store: refuses NaN/Infinity, NUL characters and absurd nesting
with a clear message instead of a 500 from PostgreSQL's jsonb."""

import json
from typing import Any

from django.http import HttpRequest
from django.utils.datastructures import MultiValueDict
from ninja.parser import Parser

from api.problems import ApiProblem

MAX_DEPTH = 64


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _check(value: Any, depth: int = 0) -> None:
    if depth > MAX_DEPTH:
        raise ApiProblem(400, f"JSON nested deeper than {MAX_DEPTH} levels.")
    if isinstance(value, str):
        if "\x00" in value:
            raise ApiProblem(400, "Text may not contain NUL (\\u0000) characters.")
    elif isinstance(value, dict):
        for key, item in value.items():
            _check(key, depth + 1)
            _check(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check(item, depth + 1)


def loads(text: str | bytes) -> Any:
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except RecursionError as exc:
        raise ApiProblem(400, f"JSON nested deeper than {MAX_DEPTH} levels.") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiProblem(400, f"Not valid JSON: {exc}") from exc
    _check(value)
    return value


def check(value: Any) -> Any:
    """For values that arrived already parsed (e.g. MCP tool arguments)."""
    _check(value)
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
