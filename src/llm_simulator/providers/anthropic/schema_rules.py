"""The JSON Schema subset Anthropic's structured outputs accept (``output_config.format``, strict tools).

Constrained decoding compiles the schema into a grammar, so the API refuses, with a 400, any
keyword the grammar cannot enforce rather than ignoring it. The rules and the wording follow
the API's own errors (``For 'array' type, property 'maxItems' is not supported``):

* every object sets ``additionalProperties: false`` (absent is refused too);
* no numeric bounds (``minimum``, ``maximum``, ``exclusive*``, ``multipleOf``), no string
  lengths, no array bounds beyond ``minItems`` of 0 or 1, no ``uniqueItems``;
* string ``format`` only from the supported list; ``pattern`` is accepted;
* composition by ``anyOf`` and ``allOf`` only (``oneOf``, ``not``, ``if`` are refused);
* ``enum`` values are primitives of the declared type; ``$ref`` is local and not recursive.

Annotations (``title``, ``description``, ``default``, ``examples``…) are accepted anywhere.
The official SDKs' ``transform_schema`` rewrites a pydantic or zod schema into this subset
(moving unsupported constraints into the description), so their ``parse`` helpers pass.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

# The documented string formats (the SDK's ``SupportedStringFormats`` is the same list).
STRING_FORMATS = frozenset(
    {"date-time", "time", "date", "duration", "email", "hostname", "uri", "ipv4", "ipv6", "uuid"}
)
# Keywords the grammar cannot enforce, by the instance type they constrain.
UNSUPPORTED: dict[str, tuple[str, ...]] = {
    "number": ("exclusiveMaximum", "exclusiveMinimum", "maximum", "minimum", "multipleOf"),
    "integer": ("exclusiveMaximum", "exclusiveMinimum", "maximum", "minimum", "multipleOf"),
    "string": ("contentEncoding", "contentMediaType", "maxLength", "minLength"),
    "array": (
        "contains",
        "maxContains",
        "maxItems",
        "minContains",
        "prefixItems",
        "unevaluatedItems",
        "uniqueItems",
    ),
    "object": (
        "dependentRequired",
        "dependentSchemas",
        "maxProperties",
        "minProperties",
        "patternProperties",
        "propertyNames",
        "unevaluatedProperties",
    ),
}
# Composition keywords the API refuses outright (``Schema type 'oneOf' is not supported``).
UNSUPPORTED_COMPOSITION = ("oneOf", "not", "if", "then", "else", "$dynamicRef", "$dynamicAnchor")
# Subschema-holding keywords to descend into, as (keyword, holds a map of schemas).
_CHILD_MAPS = ("properties", "$defs", "definitions")
_CHILD_LISTS = ("anyOf", "allOf")
_TYPE_KEYS = frozenset({"properties", "required", "additionalProperties"})


class SchemaRuleError(ValueError):
    """A schema outside the supported subset; the message is the API's (without the field prefix)."""


def check_subset(schema: Any) -> None:
    """Raise ``SchemaRuleError`` when ``schema`` uses something structured outputs refuse."""
    if not isinstance(schema, dict):
        raise SchemaRuleError(f"Invalid schema: expected an object, got {_kind(schema)}")
    _check_refs(schema)
    for node in _walk(schema):
        _check_node(node)


def optional_and_union_counts(schema: Any) -> tuple[int, int]:
    """How many optional properties and union-typed properties ``schema`` holds (for the request limits).

    A property is optional when its object does not list it in ``required``; it is a union
    when its schema has ``anyOf`` or a list ``type`` (``Optional[str]`` from pydantic is one).
    """
    optional = unions = 0
    if not isinstance(schema, dict):
        return 0, 0
    for node in _walk(schema):
        properties = node.get("properties")
        if not isinstance(properties, dict):
            continue
        required = node.get("required")
        listed = set(required) if isinstance(required, list) else set()
        for name, sub in properties.items():
            optional += name not in listed
            if isinstance(sub, dict) and ("anyOf" in sub or isinstance(sub.get("type"), list)):
                unions += 1
    return optional, unions


def _walk(schema: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every subschema (objects only), depth first; iterative, so deep schemas cannot overflow."""
    stack = [schema]
    while stack:
        node = stack.pop()
        yield node
        for key in _CHILD_MAPS:
            children = node.get(key)
            if isinstance(children, dict):
                stack.extend(sub for sub in children.values() if isinstance(sub, dict))
        for key in _CHILD_LISTS:
            children = node.get(key)
            if isinstance(children, list):
                stack.extend(sub for sub in children if isinstance(sub, dict))
        for key in ("items", "additionalProperties"):
            child = node.get(key)
            if isinstance(child, dict):
                stack.append(child)


def _types(node: dict[str, Any]) -> list[str]:
    """The instance types ``node`` constrains (its ``type``, or ``object`` implied by ``properties``)."""
    kind = node.get("type")
    if isinstance(kind, str):
        return [kind]
    if isinstance(kind, list):
        return [k for k in kind if isinstance(k, str)]
    return ["object"] if _TYPE_KEYS & node.keys() else []


def _check_node(node: dict[str, Any]) -> None:
    for keyword in UNSUPPORTED_COMPOSITION:
        if keyword in node:
            raise SchemaRuleError(f"Schema type '{keyword}' is not supported")
    types = _types(node)
    for kind in types:
        bad = [k for k in UNSUPPORTED.get(kind, ()) if k in node]
        if len(bad) == 1:
            raise SchemaRuleError(f"For '{kind}' type, property '{bad[0]}' is not supported")
        if bad:
            raise SchemaRuleError(f"For '{kind}' type, properties {', '.join(bad)} are not supported")
    if "object" in types:
        extra = node.get("additionalProperties")
        if extra is None:
            raise SchemaRuleError("For 'object' type, 'additionalProperties' must be explicitly set to false")
        if extra is not False:
            raise SchemaRuleError("For 'object' type, 'additionalProperties: true' is not supported.")
    if "array" in types:
        low = node.get("minItems", 0)
        if low not in (0, 1) or isinstance(low, bool):
            raise SchemaRuleError(
                f"For 'array' type, 'minItems' values other than 0 or 1 are not supported (got: {low})"
            )
    if "string" in types:
        fmt = node.get("format")
        if fmt is not None and fmt not in STRING_FORMATS:
            supported = ", ".join(sorted(STRING_FORMATS))
            raise SchemaRuleError(f"For 'string' type, format {fmt!r} is not supported (supported: {supported})")
    _check_enum(node, types)


def _check_enum(node: dict[str, Any], types: list[str]) -> None:
    values = node.get("enum")
    if not isinstance(values, list):
        return
    declared = node.get("type")
    for value in values:
        if isinstance(value, dict | list):
            raise SchemaRuleError(f"Enum value {_quote(value)} is not supported: enum values must be primitives")
        if types and not any(_fits(value, kind) for kind in types):
            shown = declared if isinstance(declared, str) else orjson.dumps(declared).decode()
            raise SchemaRuleError(f"Enum value {_quote(value)} does not match declared type '{shown}'")


def _fits(value: Any, kind: str) -> bool:
    if kind == "null":
        return value is None
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "string":
        return isinstance(value, str)
    if kind == "integer":
        whole = isinstance(value, float) and value.is_integer()
        return (isinstance(value, int) and not isinstance(value, bool)) or whole
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return False  # an object or array type cannot hold a primitive enum value


def _quote(value: Any) -> str:
    return f"'{value}'" if isinstance(value, str) else orjson.dumps(value).decode()


def _check_refs(schema: dict[str, Any]) -> None:
    """Local ``$ref`` only, and no definition that reaches itself through references."""
    definitions: dict[str, dict[str, Any]] = {}
    for key in ("$defs", "definitions"):
        defs = schema.get(key)
        if isinstance(defs, dict):
            definitions.update({f"#/{key}/{name}": sub for name, sub in defs.items() if isinstance(sub, dict)})
    for node in _walk(schema):
        ref = node.get("$ref")
        if isinstance(ref, str) and not ref.startswith("#"):
            raise SchemaRuleError(f"External $ref is not supported: '{ref}'. Only local references (#/$defs/...) are")
        if ref == "#":  # the root referring to itself: recursion without a definition
            raise SchemaRuleError(
                "Circular reference detected in schema definitions: # -> #. "
                "Self-referencing or mutually-referencing definitions are not supported."
            )
    # References from each definition to others; a cycle is a recursive schema.
    edges = {name: sorted(_refs_in(sub) & definitions.keys()) for name, sub in definitions.items()}
    for start in edges:
        cycle = _cycle_from(start, edges)
        if cycle:
            names = " -> ".join(ref.rsplit("/", 1)[-1] for ref in cycle)
            raise SchemaRuleError(
                f"Circular reference detected in schema definitions: {names}. "
                "Self-referencing or mutually-referencing definitions are not supported."
            )


def _refs_in(schema: dict[str, Any]) -> set[str]:
    """The ``$ref`` targets used inside ``schema`` (not descending into nested ``$defs``)."""
    return {node["$ref"] for node in _walk(schema) if isinstance(node.get("$ref"), str)}


def _cycle_from(start: str, edges: dict[str, list[str]]) -> list[str] | None:
    """A reference path from ``start`` back to itself (``[start, …, start]``), if there is one."""
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    seen: set[str] = set()
    while stack:
        node, path = stack.pop()
        for target in edges.get(node, ()):
            if target == start:
                return [*path, start]
            if target not in seen:
                seen.add(target)
                stack.append((target, [*path, target]))
    return None


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, list):
        return "an array"
    return "null" if value is None else type(value).__name__
