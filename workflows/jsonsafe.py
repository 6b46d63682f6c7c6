"""The one check for JSON that comes from outside (forms, callbacks, action answers,
bundles, imports): what the database can store and the code can walk, or a clear
message with the JSON path of the first offending value.

Refused: NUL characters (PostgreSQL text and jsonb cannot hold them), lone surrogates
(not encodable as UTF-8), NaN and +/-Infinity (not JSON; `1e400` overflows to
Infinity), integers outside 64-bit signed range, and nesting deeper than `MAX_DEPTH`.
Raw input must be UTF-8; it is never repaired."""

import json
import math
from typing import Any

# Arrays and objects nested deeper than this are refused (documented in README).
MAX_DEPTH = 64
_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1


class JSONRefused(ValueError):
    def __init__(self, path: str, message: str) -> None:
        self.path, self.message = path, message
        super().__init__(f"{path}: {message}" if path != "$" else message)


def _refuse_constant(name: str) -> Any:
    raise JSONRefused("$", f"{name} is not a JSON number; send a finite number or null.")


def loads(raw: str | bytes) -> Any:
    """Parses untrusted JSON strictly and checks it; raises JSONRefused."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise JSONRefused("$", f"Not UTF-8: invalid byte at offset {exc.start}.") from exc
    if raw.startswith("\ufeff"):
        raw = raw[1:]
    try:
        value = json.loads(raw, parse_constant=_refuse_constant)
    except RecursionError as exc:
        raise JSONRefused("$", f"Nested deeper than {MAX_DEPTH} levels.") from exc
    except JSONRefused:
        raise
    except ValueError as exc:  # JSONDecodeError, or an integer with too many digits
        raise JSONRefused("$", f"Not valid JSON: {exc}") from exc
    check(value)
    return value


def problem(value: Any) -> JSONRefused | None:
    """The first reason `value` (already parsed) cannot be stored, or None."""
    try:
        check(value)
    except JSONRefused as exc:
        return exc
    return None


def check(value: Any) -> None:
    """Raises JSONRefused for the first value that cannot be stored. Iterative, so
    any depth is walked safely."""
    stack: list[tuple[Any, str, int]] = [(value, "$", 0)]
    while stack:
        item, path, depth = stack.pop()
        if isinstance(item, str):
            _check_text(item, path)
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int):
            if not _INT_MIN <= item <= _INT_MAX:
                raise JSONRefused(path, "Integer out of range (64-bit signed).")
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise JSONRefused(path, "Number out of range: NaN and Infinity are not allowed.")
        elif isinstance(item, (dict, list, tuple)):
            if depth >= MAX_DEPTH:
                raise JSONRefused(path, f"Nested deeper than {MAX_DEPTH} levels.")
            if isinstance(item, dict):
                for key, child in item.items():
                    if not isinstance(key, str):
                        raise JSONRefused(path, "Object keys must be strings.")
                    _check_text(key, f"{path}.{key}")
                    stack.append((child, f"{path}.{key}", depth + 1))
            else:
                stack.extend((child, f"{path}[{i}]", depth + 1) for i, child in enumerate(item))
        else:
            raise JSONRefused(path, f"Not a JSON value ({type(item).__name__}).")


def _check_text(text: str, path: str) -> None:
    if "\x00" in text:
        raise JSONRefused(path, "Contains a NUL character (\\u0000), which cannot be stored.")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise JSONRefused(path, "Contains a lone surrogate (an unpaired \\ud800-\\udfff escape).") from exc
