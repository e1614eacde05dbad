"""Bring OpenAPI 3.0 / Gemini and older-draft spellings to plain JSON Schema 2020-12.

Providers accept schemas in their own dialects (Gemini: ``"type": "OBJECT"``,
``nullable: true``, ``format: "enum"``, ``propertyOrdering``; OpenAPI 3.0: boolean
``exclusiveMinimum``; draft-07: array-form ``items``). Everything downstream — the metaschema
check, ``$ref`` lookup and generation — sees only the normalised form.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from llm_simulator.engine.schema.errors import SchemaError

Schema = dict[str, Any] | bool
"""A JSON Schema: an object or one of the boolean schemas."""

JSON_TYPES = ("null", "boolean", "object", "array", "number", "string", "integer")

# Keywords whose value is one subschema, a map of subschemas, or a list of them. Only these are
# walked: values of ``const``, ``enum``, ``default`` and ``examples`` are data, not schemas.
SINGLE_KEYWORDS = (
    "items",
    "additionalProperties",
    "not",
    "contains",
    "if",
    "then",
    "else",
    "propertyNames",
    "unevaluatedItems",
    "unevaluatedProperties",
    "contentSchema",
    "additionalItems",
)
MAP_KEYWORDS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
LIST_KEYWORDS = ("allOf", "anyOf", "oneOf", "prefixItems")

_DOCUMENT_KEYWORDS = ("$schema", "$id", "$defs", "definitions")

# Integer-valued keywords that Gemini's proto-JSON form may spell as digit strings ("int64").
_COUNT_KEYWORDS = ("minItems", "maxItems", "minLength", "maxLength", "minProperties", "maxProperties")


def normalize(schema: object) -> Schema:
    """A normalised copy of ``schema`` (never mutates the input).

    - upper-case ``type`` names (``"OBJECT"``, ``["STRING", "NULL"]``) become lower case, and
      Gemini's ``TYPE_UNSPECIFIED`` is dropped; on such nodes digit-string counts become ints;
    - ``nullable: true`` adds ``"null"`` to ``type`` (or wraps the node in an ``anyOf`` with
      ``{"type": "null"}`` when it has no type); next to ``enum``/``const`` it is dropped,
      following OpenAPI 3.0.3, where null must also be listed in the enum;
    - ``format: "enum"`` (Gemini's marker for string enums) is dropped;
    - OpenAPI 3.0 boolean ``exclusiveMinimum``/``exclusiveMaximum`` become numeric bounds;
    - draft-07 ``items: [...]`` becomes ``prefixItems`` (``additionalItems`` becomes ``items``)
      and ``dependencies`` becomes ``dependentRequired``/``dependentSchemas``.

    ``propertyOrdering`` is kept as is: the generator follows it. Raises ``SchemaError`` when
    ``schema`` is neither an object nor a boolean, and when a ``propertyOrdering`` is not a
    list of strings.
    """
    return _normalize(schema, ())


def _normalize(node: object, path: tuple[str, ...]) -> Schema:
    if isinstance(node, bool):
        return node
    if not isinstance(node, dict):
        where = ".".join(path)
        raise SchemaError(f"a schema must be an object or a boolean, not {type(node).__name__}", where)
    out: dict[str, Any] = dict(node)
    gemini = _normalize_type(out)
    if gemini:
        for key in _COUNT_KEYWORDS:
            value = out.get(key)
            if isinstance(value, str) and value.isdigit():
                out[key] = int(value)
    if out.get("format") == "enum":
        del out["format"]
    ordering = out.get("propertyOrdering")
    if "propertyOrdering" in out and not (isinstance(ordering, list) and all(isinstance(k, str) for k in ordering)):
        # Not in the metaschema (a Gemini keyword), yet the generator reads it as key names.
        raise SchemaError(
            "propertyOrdering must be a list of property names (strings)", ".".join((*path, "propertyOrdering"))
        )
    _normalize_exclusive(out)
    _normalize_draft7(out)
    for key, value in list(out.items()):
        if key in SINGLE_KEYWORDS and isinstance(value, dict | bool):
            out[key] = _normalize(value, (*path, key))
        elif key in MAP_KEYWORDS and isinstance(value, dict):
            out[key] = {k: _normalize_soft(v, (*path, key, str(k))) for k, v in value.items()}
        elif key in LIST_KEYWORDS and isinstance(value, list):
            out[key] = [_normalize_soft(v, (*path, key, str(i))) for i, v in enumerate(value)]
    return _normalize_nullable(out)


def _normalize_soft(node: object, path: tuple[str, ...]) -> object:
    # Malformed members (``"properties": {"a": 5}``) are left for the metaschema check, which
    # reports them with a better message than "not a schema".
    return _normalize(node, path) if isinstance(node, dict | bool) else node


def _normalize_type(out: dict[str, Any]) -> bool:
    """Lower-case OpenAPI-style type names in place; True when the node used them."""
    kind = out.get("type")
    if isinstance(kind, str) and kind.isupper():
        if kind == "TYPE_UNSPECIFIED":
            del out["type"]
        elif kind.lower() in JSON_TYPES:
            out["type"] = kind.lower()
        return True
    if isinstance(kind, list) and any(isinstance(k, str) and k.isupper() for k in kind):
        out["type"] = [k.lower() if isinstance(k, str) and k.lower() in JSON_TYPES else k for k in kind]
        return True
    return False


def _normalize_exclusive(out: dict[str, Any]) -> None:
    # OpenAPI 3.0 / draft-04: ``exclusiveMinimum: true`` qualifies ``minimum``.
    for flag, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        value = out.get(flag)
        if isinstance(value, bool):
            del out[flag]
            if value and bound in out:
                out[flag] = out.pop(bound)


def _normalize_draft7(out: dict[str, Any]) -> None:
    items = out.get("items")
    if isinstance(items, list) and "prefixItems" not in out:
        out["prefixItems"] = items
        if "additionalItems" in out:
            out["items"] = out.pop("additionalItems")
        else:
            del out["items"]
    deps = out.get("dependencies")
    if isinstance(deps, dict):
        del out["dependencies"]
        required = {k: v for k, v in deps.items() if isinstance(v, list)}
        schemas = {k: v for k, v in deps.items() if not isinstance(v, list)}
        if required:
            out.setdefault("dependentRequired", required)
        if schemas:
            out.setdefault("dependentSchemas", schemas)


def _normalize_nullable(out: dict[str, Any]) -> Schema:
    nullable = out.get("nullable")
    if not isinstance(nullable, bool):
        return out
    del out["nullable"]
    if not nullable or "enum" in out or "const" in out:
        return out
    kind = out.get("type")
    if isinstance(kind, str):
        out["type"] = [kind, "null"] if kind != "null" else kind
    elif isinstance(kind, list):
        if "null" not in kind:
            out["type"] = [*kind, "null"]
    else:
        # Definitions and document keywords stay at the top so "#/$defs/..." still resolves.
        outer = {k: out.pop(k) for k in _DOCUMENT_KEYWORDS if k in out}
        return {**outer, "anyOf": [out, {"type": "null"}]}
    return out


def iter_subschemas(node: Schema, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], dict[str, Any]]]:
    """Every object subschema of ``node`` (itself included) with its path, depth first."""
    if not isinstance(node, dict):
        return
    yield path, node
    for key, value in node.items():
        if key in SINGLE_KEYWORDS and isinstance(value, dict):
            yield from iter_subschemas(value, (*path, key))
        elif key in MAP_KEYWORDS and isinstance(value, dict):
            for name, sub in value.items():
                if isinstance(sub, dict):
                    yield from iter_subschemas(sub, (*path, key, str(name)))
        elif key in LIST_KEYWORDS and isinstance(value, list):
            for i, sub in enumerate(value):
                if isinstance(sub, dict):
                    yield from iter_subschemas(sub, (*path, key, str(i)))
