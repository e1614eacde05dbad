"""Fast, explicit checks of JSON request bodies that fail with errors naming the field.

Shared by every provider: the messages say what was expected and where (``param`` is the
dotted path), and each provider renders them in its own error shape. Booleans are never
accepted where numbers are expected (``True`` is an ``int`` in Python, not in JSON).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import orjson

from llm_simulator.core.errors import invalid

JsonObject = dict[str, Any]
_MISSING = object()


def parse_object(body: bytes) -> JsonObject:
    """Parse a request body that must be a JSON object."""
    if not body or body.isspace():  # what ``not body.strip()`` means, without copying the body
        raise invalid("The request body is empty; expected a JSON object.", code="invalid_json")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise invalid(
            f"We could not parse the JSON body of your request: {exc}. Make sure the body is valid JSON.",
            code="invalid_json",
        ) from None
    if not isinstance(data, dict):
        raise invalid(f"The request body must be a JSON object, not {_json_type(data)}.", code="invalid_type")
    return data


# orjson parses up to 1024 levels of nesting but serialises at most 255; a request value
# that is re-serialised (to count its tokens or to quote it) must not turn that into a 500.
_PREVIEW_CHARS = 80


def json_text(value: Any, param: str) -> str:
    """``value`` as compact JSON text; a 400 naming ``param`` when it is nested too deeply."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        raise invalid(
            f"Invalid '{param}': the value is nested too deeply (at most 255 levels are supported).",
            param=param,
            code="invalid_value",
        ) from None


def preview(value: Any) -> str:
    """A short JSON rendering of ``value`` for error messages (bounded, never failing)."""
    try:
        text = orjson.dumps(value).decode()
    except TypeError:
        return "<a deeply nested value>"
    return text if len(text) <= _PREVIEW_CHARS else text[: _PREVIEW_CHARS - 1] + "…"


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def type_error(param: str, expected: str, value: Any) -> Exception:
    """The error for a field of the wrong JSON type."""
    return invalid(
        f"Invalid type for '{param}': expected {expected}, but got {_json_type(value)}.",
        param=param,
        code="invalid_type",
    )


def missing(param: str) -> Exception:
    """The error for a required field that is absent."""
    return invalid(f"Missing required parameter: '{param}'.", param=param, code="missing_required_parameter")


def get_str(obj: JsonObject, key: str, param: str | None = None, *, required: bool = False) -> str | None:
    """A string field (None when absent or null and not required)."""
    value = obj.get(key)
    name = param or key
    if value is None:
        if required:
            raise missing(name)
        return None
    if not isinstance(value, str):
        raise type_error(name, "a string", value)
    return value


def get_bool(obj: JsonObject, key: str, param: str | None = None, default: bool = False) -> bool:
    """A boolean field (``default`` when absent or null)."""
    value = obj.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise type_error(param or key, "a boolean", value)
    return value


def get_int(
    obj: JsonObject,
    key: str,
    param: str | None = None,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
) -> int | None:
    """An integer field within [minimum, maximum] (None when absent or null)."""
    value = obj.get(key)
    name = param or key
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise type_error(name, "an integer", value)
    if minimum is not None and value < minimum:
        raise invalid(
            f"Invalid '{name}': integer below minimum value. Expected a value >= {minimum}, but got {value} instead.",
            param=name,
            code="integer_below_min_value",
        )
    if maximum is not None and value > maximum:
        raise invalid(
            f"Invalid '{name}': integer above maximum value. Expected a value <= {maximum}, but got {value} instead.",
            param=name,
            code="integer_above_max_value",
        )
    return value


def get_number(
    obj: JsonObject,
    key: str,
    param: str | None = None,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
) -> float | None:
    """A finite number field within [minimum, maximum] (None when absent or null)."""
    value = obj.get(key)
    name = param or key
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise type_error(name, "a number", value)
    if minimum is not None and value < minimum:
        raise invalid(
            f"Invalid '{name}': number below minimum value. Expected a value >= {minimum}, but got {value} instead.",
            param=name,
            code="decimal_below_min_value",
        )
    if maximum is not None and value > maximum:
        raise invalid(
            f"Invalid '{name}': number above maximum value. Expected a value <= {maximum}, but got {value} instead.",
            param=name,
            code="decimal_above_max_value",
        )
    return float(value)


def get_object(obj: JsonObject, key: str, param: str | None = None) -> JsonObject | None:
    """An object field (None when absent or null)."""
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise type_error(param or key, "an object", value)
    return value


def get_list(obj: JsonObject, key: str, param: str | None = None, *, required: bool = False) -> list[Any] | None:
    """An array field (None when absent or null and not required)."""
    value = obj.get(key)
    name = param or key
    if value is None:
        if required:
            raise missing(name)
        return None
    if not isinstance(value, list):
        raise type_error(name, "an array", value)
    return value


def get_stop(obj: JsonObject, key: str, param: str | None = None, *, max_items: int = 4) -> tuple[str, ...]:
    """Stop sequences given as one string or an array of strings (empty strings dropped)."""
    value = obj.get(key)
    name = param or key
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,) if value else ()
    if not isinstance(value, list):
        raise type_error(name, "a string or an array of strings", value)
    if len(value) > max_items:
        raise invalid(
            f"Invalid '{name}': expected an array with maximum length {max_items}, "
            f"but got an array with length {len(value)} instead.",
            param=name,
            code="array_above_max_length",
        )
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise type_error(f"{name}[{i}]", "a string", item)
    return tuple(item for item in value if item)


def typed_items(values: list[Any], param: str) -> Iterator[tuple[str, JsonObject, str]]:
    """Each element of an array of tagged objects as ``(path, object, type)``.

    Content parts and tools share this shape: every element must be an object with a
    string ``type``; the path (``param[i]``) names the element in errors.
    """
    for i, item in enumerate(values):
        where = f"{param}[{i}]"
        if not isinstance(item, dict):
            raise type_error(where, "an object", item)
        kind = get_str(item, "type", f"{where}.type", required=True)
        assert kind is not None
        yield where, item, kind
