"""Static checks (metaschema, ``$ref``s, unsupported keywords, limits) of one schema document."""

from __future__ import annotations

import functools
import json
import random
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from llm_simulator.engine.schema import backtracking, heights, limits
from llm_simulator.engine.schema.errors import SchemaError, format_path
from llm_simulator.engine.schema.merge import canonical
from llm_simulator.engine.schema.normalize import (
    LIST_KEYWORDS,
    MAP_KEYWORDS,
    SINGLE_KEYWORDS,
    Schema,
    iter_subschemas,
    normalize,
)
from llm_simulator.engine.schema.refs import lookup

# Keywords whose semantics the generator cannot honour (even by retrying), with the reason.
_UNSUPPORTED = {
    "if": "conditional schemas (if/then/else) are not supported",
    "dependentSchemas": "dependentSchemas is not supported",
    "$dynamicRef": "$dynamicRef is not supported",
    "$recursiveRef": "$recursiveRef is not supported",
}
# Annotations that change neither validation nor generation: left out of the cache key, so a
# schema that differs only in its descriptions is checked once.
_ANNOTATIONS = ("title", "description", "$comment")


def _unique_items(validator: Any, unique: Any, instance: Any, schema: Any) -> Iterator[Any]:
    import jsonschema.exceptions  # loaded by ``validator_class`` already

    # jsonschema compares unsortable items (objects, mixed types) pairwise: quadratic, 20 s for
    # 6,000 objects. Canonical JSON keys give the same equality (1 == 1.0, true != 1) in one pass.
    if unique and validator.is_type(instance, "array"):
        keys: set[str] = set()
        for item in instance:
            key = canonical(item)
            if key in keys:
                yield jsonschema.exceptions.ValidationError("the array has non-unique elements")
                return
            keys.add(key)


@functools.cache
def validator_class() -> Any:
    """Draft 2020-12 validation with a linear-time ``uniqueItems`` (jsonschema's class, untyped).

    jsonschema (with referencing, rpds and attrs) takes ~0.1 s to import: it is loaded with
    the first schema a request brings, not when the server starts.
    """
    import jsonschema.validators

    extend: Any = jsonschema.validators.extend
    return extend(jsonschema.Draft202012Validator, {"uniqueItems": _unique_items})


@dataclass
class Prepared:
    """A normalised, checked schema with its validator and the generator's tables."""

    root: Schema
    validator: Any
    limits: limits.Limits
    heights: dict[str, float]
    """The minimal nesting height of every ``$ref`` (see ``heights``)."""
    expansions: dict[int, int]
    """Same-level expansion size of every subschema, by id (see ``limits.expansion``)."""
    trial: bytes | None = None
    """JSON of the instance ``check_schema`` generated: the fallback for failed seeded draws."""

    def resolve(self, ref: str) -> Schema:
        """The subschema ``ref`` points to (checked already, so this does not fail)."""
        return lookup(self.root, ref)

    def expansion(self, schema: Schema) -> int:
        """How many subschemas generating and validating ``schema`` visits at its level."""
        return limits.expansion(schema, self.resolve, self.expansions)


def cache_key(schema: object) -> str:
    """The JSON text identifying ``schema`` for caching: annotations left out, key order kept."""
    if not isinstance(schema, dict | bool):
        raise SchemaError(f"a schema must be an object or a boolean, not {type(schema).__name__}")
    try:
        return json.dumps(_strip(schema), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise SchemaError(f"the schema is not JSON data: {exc}") from exc
    except RecursionError:
        raise SchemaError("the schema is nested too deeply") from None


def _strip(node: object) -> object:
    """``node`` without string-valued annotations in any subschema (a copy; data is shared)."""
    if not isinstance(node, dict):
        return node
    out: dict[str, object] = {}
    for key, value in node.items():
        if key in _ANNOTATIONS and isinstance(value, str):
            continue
        if key in SINGLE_KEYWORDS or (key == "items" and isinstance(value, list)):
            out[key] = [_strip(v) for v in value] if isinstance(value, list) else _strip(value)
        elif key in (*MAP_KEYWORDS, "dependencies") and isinstance(value, dict):
            out[key] = {k: _strip(v) for k, v in value.items()}
        elif key in LIST_KEYWORDS and isinstance(value, list):
            out[key] = [_strip(v) for v in value]
        else:
            out[key] = value
    return out


def build(text: str) -> Prepared:
    """Normalise and statically check the schema whose ``cache_key`` is ``text``.

    Raises ``SchemaError`` naming the offending subschema. The checks are cheap next to the
    metaschema check, and all of them are bounded in time by the size of the schema.
    """
    root = normalize(json.loads(text))
    _check_pattern_lengths(root)
    validator = validator_class()
    import jsonschema  # loaded with the validator class

    try:
        with warnings.catch_warnings():
            # Checking the "regex" format compiles each pattern; Python's FutureWarnings about
            # patterns such as "[[:alpha:]]" are not the caller's concern. (The compiled
            # pattern is cached by ``re``, so later searches do not warn again.)
            warnings.simplefilter("ignore", FutureWarning)
            jsonschema.Draft202012Validator.check_schema(root)
    except jsonschema.exceptions.SchemaError as exc:
        raise SchemaError(f"invalid schema: {exc.message}", format_path(exc.absolute_path)) from None
    nodes = limits.reachable(root)
    for path, node in nodes:
        for keyword, reason in _UNSUPPORTED.items():
            if keyword in node:
                raise SchemaError(reason, format_path(path))
    _check_ref_loops(root, nodes)
    found = limits.pattern_limits(nodes)
    limits.check_data(nodes, found)
    resolve = functools.partial(lookup, root)
    sizes = limits.expansions(nodes, resolve)
    refs = [node["$ref"] for _, node in nodes if isinstance(node.get("$ref"), str)]
    return Prepared(root, validator(root), found, heights.ref_heights(refs, resolve), sizes)


def _check_pattern_lengths(root: Schema) -> None:
    # Before the metaschema check compiles them: a megabyte-long pattern is refused unread.
    for path, node in iter_subschemas(root):
        keyed = node.get("patternProperties")
        found = [("pattern", node.get("pattern"))]
        found += [("patternProperties", key) for key in (keyed if isinstance(keyed, dict) else ())]
        for keyword, pattern in found:
            if isinstance(pattern, str) and len(pattern) > backtracking.MAX_PATTERN_LENGTH:
                raise SchemaError(
                    f"pattern too complex: longer than {backtracking.MAX_PATTERN_LENGTH} characters",
                    format_path((*path, keyword)),
                )


# Applicators whose subschemas apply to the same instance as their parent: a $ref loop through
# only these never reaches a nested value, so neither generation nor validation would end.
_SAME_LEVEL_SINGLE = ("not", "if", "then", "else")
_SAME_LEVEL_LISTS = ("allOf", "anyOf", "oneOf")


def _check_ref_loops(root: Schema, nodes: list[limits.Node]) -> None:
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

    for path, node in nodes:
        visit(node, path)


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

    def count(self, chars: int, path: str) -> None:
        """Charge ``chars`` characters of output (e.g. an object key) to the size budget."""
        ...

    def spend(self, units: int, path: str) -> None:
        """Charge ``units`` of work (about 10 µs each) to the call's work budget."""
        ...
