"""The recursive generator: type and anyOf/oneOf choices with backtracking, depth bounding.

Objects and arrays are built in ``objects``/``arrays``, scalars in ``numbers``/``strings``.
Every random draw goes through the injected ``random.Random`` and iterates only over ordered
data (lists, dicts), so a seed reproduces the same instance.
"""

from __future__ import annotations

import copy
import math
import random
from typing import Any

from llm_simulator.engine.schema import arrays, hints, numbers, objects, strings
from llm_simulator.engine.schema.errors import Infeasible, SchemaError, join_path
from llm_simulator.engine.schema.merge import Flat, absorb, element, flatten
from llm_simulator.engine.schema.normalize import Schema
from llm_simulator.engine.schema.prepare import Prepared, is_valid

NODE_BUDGET = 20_000
"""Most values one instance may contain; a larger demand is refused as too complex."""
DEPTH_SLACK = 12
"""Levels past ``max_depth`` tolerated while forced recursion is being wound down."""
CHECK_ATTEMPTS = 8
"""Draws per node whose ``not``/``oneOf`` constraints are verified after the fact."""

_SCALARS = ("null", "boolean", "integer", "number", "string")
# Beyond max_depth the cheapest kinds come first: they end the recursion.
_DEEP_ORDER = ("null", "boolean", "integer", "number", "string", "array", "object")
_INFERENCE = (
    ("object", ("properties", "required", "additionalProperties", "patternProperties", "minProperties")),
    ("object", ("maxProperties", "propertyNames", "dependentRequired", "unevaluatedProperties")),
    ("array", ("items", "prefixItems", "minItems", "maxItems", "uniqueItems", "contains", "unevaluatedItems")),
    ("string", ("minLength", "maxLength", "pattern", "format")),
    ("number", ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")),
)
_MISSING: Any = object()


def _is_null_only(schema: Schema) -> bool:
    return isinstance(schema, dict) and schema.get("type") == "null"


class Generator:
    """One generation pass over a prepared schema (holds the remaining node budget)."""

    def __init__(self, prepared: Prepared, rng: random.Random, max_depth: int) -> None:
        self.prepared = prepared
        self.rng = rng
        self.max_depth = max_depth
        self.budget = NODE_BUDGET

    def value(self, schema: Schema, depth: int, name: str | None, path: str) -> Any:
        """A value for ``schema`` at nesting ``depth``; ``name`` is the property it fills."""
        self.budget -= 1
        if self.budget < 0:
            raise SchemaError(f"the schema demands more than {NODE_BUDGET} values", path)
        if depth > self.max_depth + DEPTH_SLACK:
            raise Infeasible(f"the schema forces nesting deeper than {self.max_depth} levels", path)
        return self._resolved(flatten(schema, self.prepared.resolve, path), depth, name)

    def _resolved(self, flat: Flat, depth: int, name: str | None) -> Any:
        if flat.any_of or flat.one_of:
            return self._choose(flat, depth, name)
        for _ in range(CHECK_ATTEMPTS if flat.checks else 1):
            value = self._plain(flat, depth, name)
            if all(is_valid(self.prepared, value, check) for check in flat.checks):
                return value
        raise Infeasible("no value satisfied the not/oneOf constraints", flat.path)

    def _choose(self, flat: Flat, depth: int, name: str | None) -> Any:
        """Pick a branch of the first anyOf/oneOf group, merge it in and go on; backtrack on dead ends."""
        rest = flat.copy()
        label, group = ("anyOf", rest.any_of.pop(0)) if rest.any_of else ("oneOf", rest.one_of.pop(0))
        failure = Infeasible(f"no {label} branch can be generated", flat.path)
        for index in self._branch_order(group, depth):
            branch = rest.copy()
            branch.path = join_path(flat.path, label, index)
            try:
                absorb(branch, group[index], self.prepared.resolve)
                return self._resolved(branch, depth, name)
            except Infeasible as exc:
                failure = exc
        raise failure

    def _branch_order(self, group: list[Schema], depth: int) -> list[int]:
        if depth >= self.max_depth:
            heights = [self._height(branch, frozenset()) for branch in group]
            return sorted(range(len(group)), key=lambda i: heights[i])
        # A weighted shuffle: a bare null branch is a fallback more than a first choice.
        weights = [0.25 if _is_null_only(branch) else 1.0 for branch in group]
        left = list(range(len(group)))
        order: list[int] = []
        while left:
            pick = self.rng.choices(left, weights=[weights[i] for i in left])[0]
            order.append(pick)
            left.remove(pick)
        return order

    def _plain(self, flat: Flat, depth: int, name: str | None) -> Any:
        kw = flat.kw
        if "const" in kw:
            if not is_valid(self.prepared, kw["const"], kw):
                raise Infeasible("the const value breaks the other keywords", flat.path)
            return copy.deepcopy(kw["const"])
        if "enum" in kw:
            options = list(kw["enum"])
            self.rng.shuffle(options)
            for option in options:
                if is_valid(self.prepared, option, kw):
                    return copy.deepcopy(option)
            raise Infeasible("no enum value satisfies the other keywords", flat.path)
        example = self._example(kw)
        if example is not _MISSING:
            return example
        failure: Infeasible | None = None
        for kind in self._kinds(kw, depth, name):
            try:
                return self._typed(kind, flat, depth, name)
            except Infeasible as exc:
                failure = exc
        raise failure or Infeasible("no type to generate", flat.path)

    def _example(self, kw: dict[str, Any]) -> Any:
        """Sometimes reuse a valid ``examples`` entry or the ``default``: realistic and cheap."""
        pool = list(kw["examples"]) if isinstance(kw.get("examples"), list) else []
        pool += [kw[key] for key in ("example", "default") if key in kw]  # "example": OpenAPI 3.0
        if not pool or self.rng.random() >= 0.25:
            return _MISSING
        choice = self.rng.choice(pool)
        return copy.deepcopy(choice) if is_valid(self.prepared, choice, kw) else _MISSING

    def _kinds(self, kw: dict[str, Any], depth: int, name: str | None) -> list[str]:
        declared = kw.get("type")
        if declared is None:
            return [_infer(kw, name)]
        kinds = [declared] if isinstance(declared, str) else list(dict.fromkeys(declared))
        if len(kinds) <= 1:
            return kinds
        if depth >= self.max_depth:
            return sorted(kinds, key=_DEEP_ORDER.index)
        others = [k for k in kinds if k != "null"]
        self.rng.shuffle(others)
        if "null" not in kinds:
            return others
        return ["null", *others] if self.rng.random() < 0.15 else [*others, "null"]

    def _typed(self, kind: str, flat: Flat, depth: int, name: str | None) -> Any:
        kw, path = flat.kw, flat.path
        if kind == "null":
            return None
        if kind == "boolean":
            return self.rng.random() < 0.5
        if kind in ("integer", "number"):
            return numbers.number(kw, kind == "integer", name, self.rng, path)
        if kind == "string":
            # Patterns of merged allOf parts: sampled together, not just checked afterwards.
            extra = tuple(c["pattern"] for c in flat.checks if isinstance(c, dict) and list(c) == ["pattern"])
            return strings.string(kw, name, self.rng, path, extra)
        if kind == "object":
            return objects.make_object(self, kw, depth, path)
        if kind == "array":
            return arrays.make_array(self, kw, depth, name, path)
        raise SchemaError(f"unknown type {kind!r}", path)

    def _height(self, schema: Schema, seen: frozenset[str]) -> float:
        """How many containers an instance of ``schema`` must at least nest (inf: unbounded).

        Used past ``max_depth`` to try the branch that ends recursion soonest first. Results
        reached through a ``$ref`` are memoised per prepared schema, keyed by the refs already
        being expanded too, so the memo never makes output depend on earlier calls.
        """
        if not isinstance(schema, dict):
            return 0.0
        result = 0.0
        ref = schema.get("$ref")
        if isinstance(ref, str):
            if ref in seen:
                return math.inf
            memo_key = (ref, seen)
            memo = self.prepared.heights.get(memo_key)
            if memo is None:
                memo = self._height(self.prepared.resolve(ref), seen | {ref})
                self.prepared.heights[memo_key] = memo
            result = memo
        for part in schema.get("allOf", ()):
            result = max(result, self._height(part, seen))
        for key in ("anyOf", "oneOf"):
            if key in schema:
                result = max(result, min(self._height(branch, seen) for branch in schema[key]))
        declared = schema.get("type")
        kinds = [declared] if isinstance(declared, str) else (declared or [_infer(schema, None)])
        if any(kind in _SCALARS for kind in kinds):
            return result
        own = math.inf
        if "object" in kinds:
            props = schema.get("properties", {})
            needed = [self._height(props.get(k, True), seen) for k in schema.get("required", ())]
            own = 1 + max(needed, default=-1)
        if "array" in kinds:
            first = element(schema, 0)
            own = min(own, 1 + self._height(first, seen) if schema.get("minItems", 0) > 0 else 0)
        return max(result, own)


def _infer(kw: dict[str, Any], name: str | None) -> str:
    """The type to generate for a schema without ``type``: what its keywords talk about."""
    for kind, keys in _INFERENCE:
        if any(key in kw for key in keys):
            return kind
    return hints.kind_hint(name) or "string"
