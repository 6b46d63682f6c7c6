"""JMESPath conditions and transforms, evaluated against a plain-JSON context:
`{"ticket": ..., "tasks": {key: output}, "output": ..., "response": ...}`.

JMESPath is specified, side-effect free and not Turing-complete, so definitions written
by people or an AI assistant cannot run arbitrary code."""

from functools import lru_cache
from typing import Any

import jmespath
from jmespath.exceptions import JMESPathError
from jmespath.parser import ParsedResult


class ExpressionError(Exception):
    def __init__(self, expression: str, reason: str) -> None:
        self.expression = expression
        self.reason = reason
        super().__init__(f"Expression {expression!r} failed: {reason}")


@lru_cache(maxsize=2048)
def compile_expression(expression: str) -> ParsedResult:
    """Compiles once per process; raises ExpressionError naming the expression."""
    try:
        return jmespath.compile(expression)
    except JMESPathError as exc:
        raise ExpressionError(expression, _reason(exc)) from exc


def _reason(exc: JMESPathError) -> str:
    return " ".join(str(exc).split())


def evaluate(expression: str, context: dict[str, Any]) -> Any:
    parsed = compile_expression(expression)
    try:
        return parsed.search(context)
    except JMESPathError as exc:
        raise ExpressionError(expression, _reason(exc)) from exc


def is_truthy(value: Any) -> bool:
    """JMESPath truthiness: null, false, "", [] and {} are false; everything else true."""
    if value is None or value is False:
        return False
    if isinstance(value, (str, list, dict)):
        return len(value) > 0
    return True  # numbers, including 0, are true in JMESPath


def apply_transform(transform: dict[str, str] | None, context: dict[str, Any]) -> dict[str, Any] | None:
    """Returns the transformed object, or None when there is no transform."""
    if not transform:
        return None
    return {key: evaluate(expr, context) for key, expr in transform.items()}
