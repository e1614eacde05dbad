"""Static checks (metaschema, ``$ref``s, unsupported keywords) and a cache of checked schemas."""

from __future__ import annotations

import functools
import json
import random
import warnings
from dataclasses import dataclass, field
from typing import Any, Protocol

import jsonschema
import jsonschema.exceptions

from llm_simulator.engine.schema.errors import SchemaError, format_path
from llm_simulator.engine.schema.normalize import Schema, iter_subschemas, normalize
from llm_simulator.engine.schema.refs import lookup

# Keywords whose semantics the generator cannot honour (even by retrying), with the reason.
_UNSUPPORTED = {
    "if": "conditional schemas (if/then/else) are not supported",
    "dependentSchemas": "dependentSchemas is not supported",
    "$dynamicRef": "$dynamicRef is not supported",
    "$recursiveRef": "$recursiveRef is not supported",
}


@dataclass
class Prepared:
    """A normalised, checked schema with its validator and the generator's memo tables."""

    root: Schema
    validator: jsonschema.Draft202012Validator
    heights: dict[tuple[str, frozenset[str]], float] = field(default_factory=dict)
    trial_passed: bool = False

    def resolve(self, ref: str) -> Schema:
        """The subschema ``ref`` points to (checked already, so this does not fail)."""
        return lookup(self.root, ref)


# Applicators whose subschemas apply to the same instance as their parent: a $ref loop through
# only these never reaches a nested value, so neither generation nor validation would end.
_SAME_LEVEL_SINGLE = ("not", "if", "then", "else")
_SAME_LEVEL_LISTS = ("allOf", "anyOf", "oneOf")


def _check_ref_loops(root: Schema) -> None:
    """Raise ``SchemaError`` for a ``$ref`` cycle that does not pass through a property or item."""
    done: set[int] = set()
    active: set[int] = set()

    def visit(node: object, path: tuple[str, ...]) -> None:
        if not isinstance(node, dict) or id(node) in done:
            return
        if id(node) in active:
            raise SchemaError("$ref loop that never nests into a property or item", format_path(path))
        active.add(id(node))
        ref = node.get("$ref")
        if isinstance(ref, str):
            visit(lookup(root, ref, format_path(path)), (*path, "$ref"))
        for key in _SAME_LEVEL_SINGLE:
            visit(node.get(key), (*path, key))
        for key in _SAME_LEVEL_LISTS:
            for i, sub in enumerate(node.get(key, ())):
                visit(sub, (*path, key, str(i)))
        active.discard(id(node))
        done.add(id(node))

    for path, node in iter_subschemas(root):
        visit(node, path)


def prepare(schema: object) -> Prepared:
    """Normalise and statically check ``schema``; cached by its JSON text.

    The metaschema check costs tens of milliseconds for a large schema while generation takes
    well under one, and the same tool schemas come back on every request of a conversation.
    """
    if not isinstance(schema, dict | bool):
        raise SchemaError(f"a schema must be an object or a boolean, not {type(schema).__name__}")
    try:
        text = json.dumps(schema)
    except (TypeError, ValueError) as exc:
        raise SchemaError(f"the schema is not JSON data: {exc}") from exc
    except RecursionError:
        raise SchemaError("the schema is nested too deeply") from None
    try:
        return _prepare_text(text)
    except RecursionError:
        raise SchemaError("the schema is nested too deeply") from None


@functools.lru_cache(maxsize=256)
def _prepare_text(text: str) -> Prepared:
    root = normalize(json.loads(text))
    try:
        with warnings.catch_warnings():
            # Checking the "regex" format compiles each pattern; Python's FutureWarnings about
            # patterns such as "[[:alpha:]]" are not the caller's concern. (The compiled
            # pattern is cached by ``re``, so later searches do not warn again.)
            warnings.simplefilter("ignore", FutureWarning)
            jsonschema.Draft202012Validator.check_schema(root)
    except jsonschema.exceptions.SchemaError as exc:
        raise SchemaError(f"invalid schema: {exc.message}", format_path(exc.absolute_path)) from None
    for path, node in iter_subschemas(root):
        where = format_path(path)
        for keyword, reason in _UNSUPPORTED.items():
            if keyword in node:
                raise SchemaError(reason, where)
        ref = node.get("$ref")
        if isinstance(ref, str):
            lookup(root, ref, where)
    _check_ref_loops(root)
    return Prepared(root, jsonschema.Draft202012Validator(root))


def is_valid(prepared: Prepared, value: object, schema: Any) -> bool:
    """Whether ``value`` is valid against ``schema``, a subschema of ``prepared``'s document.

    ``evolve`` keeps the root's reference resolver, so ``$ref``s inside ``schema`` resolve
    against the whole document.
    """
    return bool(prepared.validator.evolve(schema=schema).is_valid(value))


class Context(Protocol):
    """What the object and array makers need from the generator driving them."""

    prepared: Prepared
    rng: random.Random
    max_depth: int

    def value(self, schema: Schema, depth: int, name: str | None, path: str) -> Any:
        """A value for ``schema`` at nesting ``depth`` (``name``: the property it fills)."""
        ...
