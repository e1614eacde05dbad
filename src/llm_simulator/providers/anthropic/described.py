"""Constraints the SDKs moved into descriptions, restored for generation.

The official SDKs' ``transform_schema`` (behind ``messages.parse``) drops what structured
outputs refuse — ``minimum``, ``maxLength``, ``minItems: 3``… — and appends it to the
property's description as ``{minimum: 1, maximum: 10}``, so that the model *might* follow
it; the SDK then validates the answer against the original pydantic model. Claude reads those
descriptions and usually complies, so the simulator does too: a ``Field(ge=1, le=10)`` does
not make ``parse`` fail at random. Only the schema used to *generate* changes; the request's
schema is checked as sent.
"""

from __future__ import annotations

import re
from typing import Any

from llm_simulator.engine.schema import SchemaError, check_schema

# Numeric keywords worth restoring; anything else in the braces is left as prose.
RESTORABLE = frozenset(
    {
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "multipleOf",
        "minLength",
        "maxLength",
        "minItems",
        "maxItems",
    }
)
_DATA_KEYWORDS = frozenset({"enum", "const", "default", "examples"})
# The SDK's suffix: ``{key: value, key: value}`` at the end of the description.
_SUFFIX = re.compile(r"\{([^{}]*)\}\s*$")
_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][-+]?\d+)?")


def restore_described(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with described numeric constraints turned back into keywords (``schema`` itself if none).

    The result is used only when the generator accepts it (a description could state bounds
    that contradict the schema); otherwise the schema as sent is generated from.
    """
    restored, changed = _restore(schema)
    if not changed:
        return schema
    try:
        check_schema(restored)
    except SchemaError:
        return schema
    assert isinstance(restored, dict)
    return restored


def _restore(node: Any) -> tuple[Any, bool]:
    """A copy of ``node`` with constraints restored, and whether anything changed."""
    if isinstance(node, list):
        items = [_restore(item) for item in node]
        return [item for item, _ in items], any(changed for _, changed in items)
    if not isinstance(node, dict):
        return node, False
    changed = False
    copy: dict[str, Any] = {}
    for key, value in node.items():
        # enum, const, default and examples hold data, not subschemas.
        copy[key], sub_changed = (value, False) if key in _DATA_KEYWORDS else _restore(value)
        changed = changed or sub_changed
    description = node.get("description")
    if isinstance(description, str):
        for key, number in _described(description).items():
            if key not in copy:
                copy[key] = number
                changed = True
    return copy, changed


def _described(description: str) -> dict[str, int | float]:
    """The restorable ``key: number`` pairs of a description's ``{…}`` suffix."""
    match = _SUFFIX.search(description)
    if match is None:
        return {}
    found: dict[str, int | float] = {}
    for part in match.group(1).split(","):
        key, _, raw = part.partition(":")
        key, raw = key.strip(), raw.strip()
        if key in RESTORABLE and _NUMBER.fullmatch(raw):
            found[key] = float(raw) if any(c in raw for c in ".eE") else int(raw)
    return found
