"""Proto-JSON field access as Google's REST front end does it.

Google parses request bodies as protocol-buffer JSON: every field may be written in
lowerCamelCase or in its original snake_case (the google-genai SDK sends nested objects in
snake_case), int32 fields may be JSON strings, and an unknown field is an error naming it.
Errors use Google's own wording: ``Invalid value at 'generation_config.max_output_tokens'
(TYPE_INT32), "abc"``.
"""

from __future__ import annotations

import functools
import math
import re
from typing import Any

from llm_simulator.core.errors import SimulatorError, invalid
from llm_simulator.providers.validation import JsonObject, preview

_CAMEL_BOUNDARY = re.compile(r"(?<!^)(?=[A-Z])")
INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1


@functools.cache
def snake(name: str) -> str:
    """``maxOutputTokens`` → ``max_output_tokens`` (cached: only the API's own field names come here)."""
    return _CAMEL_BOUNDARY.sub("_", name).lower()


@functools.cache
def _both_casings(known: tuple[str, ...]) -> frozenset[str]:
    return frozenset(known) | {snake(k) for k in known}


def get(obj: JsonObject, camel: str) -> Any:
    """The value of a field written in either casing (None when absent)."""
    value = obj.get(camel)
    if value is None:
        value = obj.get(snake(camel))
    return value


def check_known(obj: JsonObject, known: tuple[str, ...], where: str) -> None:
    """Reject fields the API does not know, naming the first one as Google does."""
    allowed = _both_casings(known)
    for key in obj:
        if key not in allowed:
            at = f" at '{where}'" if where else ""
            raise invalid(f'Invalid JSON payload received. Unknown name "{key}"{at}: Cannot find field.', param=key)


def _bad_value(where: str, proto_type: str, value: Any) -> SimulatorError:
    return invalid(f"Invalid value at '{where}' ({proto_type}), {preview(value)}", param=where)


def enum_value(value: Any, where: str, allowed: frozenset[str], proto: str) -> str | None:
    """An enum field's ``value``, named in any casing as Google reads enum names (None when absent).

    Any other value is the proto value error, naming the field and the enum's type.
    """
    if value is None:
        return None
    if not isinstance(value, str) or value.upper() not in allowed:
        raise _bad_value(where, f"type.googleapis.com/{proto}", value)
    return value


def get_int(obj: JsonObject, camel: str, where: str, *, minimum: int | None = None) -> int | None:
    """An int32 field (a JSON number with no fraction, or a numeric string, in int32 range)."""
    raw = value = get(obj, camel)
    if value is None:
        return None
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]{1,20}", value.strip()):
        value = int(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not INT32_MIN <= value <= INT32_MAX:
        raise _bad_value(where, "TYPE_INT32", raw)
    if minimum is not None and value < minimum:
        raise invalid(f"* {where}: must be at least {minimum}, got {value}.", param=where)
    return value


def get_float(obj: JsonObject, camel: str, where: str) -> float | None:
    """A float field (a finite JSON number or numeric string)."""
    raw = value = get(obj, camel)
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise _bad_value(where, "TYPE_FLOAT", raw) from None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _bad_value(where, "TYPE_FLOAT", raw)
    return float(value)


def get_str(obj: JsonObject, camel: str, where: str) -> str | None:
    """A string field."""
    value = get(obj, camel)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _bad_value(where, "TYPE_STRING", value)
    return value


def get_bool(obj: JsonObject, camel: str, where: str) -> bool | None:
    """A bool field."""
    value = get(obj, camel)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise _bad_value(where, "TYPE_BOOL", value)
    return value


def get_object(obj: JsonObject, camel: str, where: str) -> JsonObject | None:
    """A message (object) field."""
    value = get(obj, camel)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise invalid(
            f"Invalid JSON payload received. Expected an object for '{where}', got {preview(value)}.",
            param=where,
        )
    return value


def get_list(obj: JsonObject, camel: str, where: str) -> list[Any] | None:
    """A repeated field."""
    value = get(obj, camel)
    if value is None:
        return None
    if not isinstance(value, list):
        raise invalid(
            f"Invalid JSON payload received. Expected a list for '{where}', got {preview(value)}.",
            param=where,
        )
    return value
