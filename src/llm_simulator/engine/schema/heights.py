"""Minimal nesting heights: which ``anyOf`` branch ends recursion soonest past ``max_depth``.

The height of a schema is how many containers an instance must at least nest (``inf``: the
schema forces endless nesting). A ``$ref``'s height depends on the heights of the refs its
target uses, recursively and often cyclically, so following refs on demand explores every
path through the reference graph: exponential for definitions that all refer to each other.
Instead, ``ref_heights`` computes every ref's height once per schema as a fixed point.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from typing import Any

from llm_simulator.engine.schema import hints
from llm_simulator.engine.schema.merge import element
from llm_simulator.engine.schema.normalize import Schema

SCALARS = ("null", "boolean", "integer", "number", "string")
_INFERENCE = (
    ("object", ("properties", "required", "additionalProperties", "patternProperties", "minProperties")),
    ("object", ("maxProperties", "propertyNames", "dependentRequired", "unevaluatedProperties")),
    ("array", ("items", "prefixItems", "minItems", "maxItems", "uniqueItems", "contains", "unevaluatedItems")),
    ("string", ("minLength", "maxLength", "pattern", "format")),
    ("number", ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")),
)


def infer_kind(kw: dict[str, Any], name: str | None) -> str:
    """The type to generate for a schema without ``type``: what its keywords talk about."""
    for kind, keys in _INFERENCE:
        if any(key in kw for key in keys):
            return kind
    return hints.kind_hint(name) or "string"


def ref_heights(refs: list[str], resolve: Callable[[str], Schema]) -> dict[str, float]:
    """The height of every ``$ref`` in ``refs`` (and of those their targets use).

    Starts every ref at ``inf`` and recomputes a ref whenever one it reads got lower, until
    nothing changes. Heights only ever decrease, and each value is backed by an actual finite
    instance shape, so the result is the least height: a ref stays ``inf`` only when every
    way through it recurses forever. Each ref is recomputed a bounded number of times, and a
    recomputation walks only its target (the refs inside it are read from the table).
    """
    table: dict[str, float] = {}
    users: dict[str, dict[str, None]] = {}
    queue: deque[str] = deque()
    queued: set[str] = set()

    def discover(ref: str) -> None:
        if ref not in table:
            table[ref] = math.inf
            users[ref] = {}
            queue.append(ref)
            queued.add(ref)

    for ref in refs:
        discover(ref)
    while queue:
        ref = queue.popleft()
        queued.discard(ref)
        reads: dict[str, None] = {}
        value = height(resolve(ref), table, reads)
        for used in reads:
            discover(used)
            users[used][ref] = None
        if value < table[ref]:
            table[ref] = value
            for user in users[ref]:
                if user not in queued:
                    queue.append(user)
                    queued.add(user)
    return table


def height(schema: Schema, table: dict[str, float], reads: dict[str, None] | None = None) -> float:
    """The height of ``schema``, taking each ``$ref``'s height from ``table`` (missing: ``inf``).

    ``reads`` collects the refs consulted. A walk of ``schema`` itself, never through a ref.
    """
    if not isinstance(schema, dict):
        return 0.0
    result = 0.0
    ref = schema.get("$ref")
    if isinstance(ref, str):
        if reads is not None:
            reads[ref] = None
        result = table.get(ref, math.inf)
    for part in schema.get("allOf", ()):
        result = max(result, height(part, table, reads))
    for key in ("anyOf", "oneOf"):
        if key in schema:
            result = max(result, min(height(branch, table, reads) for branch in schema[key]))
    declared = schema.get("type")
    kinds = [declared] if isinstance(declared, str) else (declared or [infer_kind(schema, None)])
    if any(kind in SCALARS for kind in kinds):
        return result
    own = math.inf
    if "object" in kinds:
        props = schema.get("properties", {})
        needed = [height(props.get(k, True), table, reads) for k in schema.get("required", ())]
        own = 1 + max(needed, default=-1)
    if "array" in kinds:
        first = element(schema, 0)
        own = min(own, 1 + height(first, table, reads) if schema.get("minItems", 0) > 0 else 0)
    return max(result, own)
