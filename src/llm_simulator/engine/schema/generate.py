"""The recursive generator: type and anyOf/oneOf choices with backtracking, depth bounding.

Objects and arrays are built in ``objects``/``arrays``, scalars in ``numbers``/``strings``.
Every random draw goes through the injected ``random.Random`` and iterates only over ordered
data (lists, dicts), so a seed reproduces the same instance.
"""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass
from typing import Any

from llm_simulator.engine.schema import arrays, heights, limits, numbers, objects, strings
from llm_simulator.engine.schema.errors import Infeasible, SchemaError, join_path
from llm_simulator.engine.schema.merge import Flat, absorb, flatten
from llm_simulator.engine.schema.normalize import Schema
from llm_simulator.engine.schema.prepare import Prepared, is_valid

NODE_BUDGET = 10_000
"""Most values one instance may contain; a larger demand is refused as too complex."""
SIZE_BUDGET = 1_000_000
"""Most characters of JSON one instance may take (strings and keys counted in full)."""
WORK_BUDGET = 40_000
"""Work units (roughly 10 µs each) one ``generate`` call may spend, retries included: values
drawn, subschemas merged and validated, draws rejected by checks, characters sampled."""
DEPTH_SLACK = 12
"""Levels past ``max_depth`` tolerated while forced recursion is being wound down."""
CHECK_ATTEMPTS = 8
"""Draws per node whose ``not``/``oneOf`` constraints are verified after the fact."""

# Beyond max_depth the cheapest kinds come first: they end the recursion.
_DEEP_ORDER = ("null", "boolean", "integer", "number", "string", "array", "object")
_MISSING: Any = object()
_EMPTY: tuple[Any, ...] = ([], {}, "")


@dataclass
class Budget:
    """The work left for one ``generate`` call, shared by its attempts."""

    work: int = WORK_BUDGET


def _is_null_only(schema: Schema) -> bool:
    return isinstance(schema, dict) and schema.get("type") == "null"


class Generator:
    """One generation pass over a prepared schema (holds the remaining node and size budgets)."""

    def __init__(self, prepared: Prepared, rng: random.Random, max_depth: int, budget: Budget) -> None:
        self.prepared = prepared
        self.rng = rng
        self.max_depth = max_depth
        self.budget = budget
        self.nodes = NODE_BUDGET
        self.size = SIZE_BUDGET
        self.exact = True
        """Whether the instance is valid by construction (see ``_plain``)."""

    def value(self, schema: Schema, depth: int, name: str | None, path: str) -> Any:
        """A value for ``schema`` at nesting ``depth``; ``name`` is the property it fills."""
        self.nodes -= 1
        if self.nodes < 0:
            raise SchemaError(f"the schema demands more than {NODE_BUDGET} values", path)
        # Merging and (later) validating this node visit its whole same-level expansion.
        self.spend(self.prepared.expansion(schema), path)
        if depth > self.max_depth + DEPTH_SLACK:
            raise Infeasible(f"the schema forces nesting deeper than {self.max_depth} levels", path)
        return self._resolved(flatten(schema, self.prepared.resolve, path), depth, name)

    def spend(self, units: int, path: str) -> None:
        """Charge ``units`` of work; raises ``SchemaError`` once the call's budget is gone.

        Bounds what the node budget does not: backtracking through combinations of ``anyOf``
        branches, retries for ``not``/``oneOf``, large ``$ref`` expansions, pattern sampling.
        """
        self.budget.work -= units
        if self.budget.work < 0:
            raise SchemaError("the schema needs too much work to generate (backtracking or expansion)", path)

    def count(self, chars: int, path: str) -> None:
        """Charge ``chars`` characters of output to the instance's size budget."""
        self.size -= chars
        if self.size < 0:
            raise SchemaError(f"the schema requires an instance larger than {SIZE_BUDGET} characters", path)

    def _resolved(self, flat: Flat, depth: int, name: str | None) -> Any:
        if flat.any_of or flat.one_of:
            return self._choose(flat, depth, name)
        for attempt in range(CHECK_ATTEMPTS if flat.checks else 1):
            if attempt:
                self.spend(1 + sum(self.prepared.expansion(check) for check in flat.checks), flat.path)
            value = self._plain(flat, depth, name)
            if flat.checks:
                self.spend(len(flat.checks) * self.prepared.limits.units(value), flat.path)
            if all(is_valid(self.prepared, value, check) for check in flat.checks):
                return value
        raise Infeasible("no value satisfied the not/oneOf constraints", flat.path)

    def _choose(self, flat: Flat, depth: int, name: str | None) -> Any:
        """Pick a branch of the first anyOf/oneOf group, merge it in and go on; backtrack on dead ends."""
        rest = flat.copy()
        label, group = ("anyOf", rest.any_of.pop(0)) if rest.any_of else ("oneOf", rest.one_of.pop(0))
        failure = Infeasible(f"no {label} branch can be generated", flat.path)
        for index in self._branch_order(group, depth):
            self.spend(self.prepared.expansion(group[index]), flat.path)
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
            table = self.prepared.heights
            nesting = [heights.height(branch, table) for branch in group]
            return sorted(range(len(group)), key=lambda i: nesting[i])
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
        self.spend(2, flat.path)  # a draw: a few dozen microseconds for a bounded number
        # Every keyword of ``kw`` is honoured by construction (values drawn to fit, enum/const/
        # examples and not/oneOf/contains verified with jsonschema), except an approximated
        # merge and unevaluated*, whose meaning depends on which subschemas evaluated what.
        # Only then does the finished instance need the final validation.
        if not flat.exact or "unevaluatedProperties" in kw or "unevaluatedItems" in kw:
            self.exact = False
        if "const" in kw:
            self.spend(self.prepared.limits.units(kw["const"]), flat.path)
            if not is_valid(self.prepared, kw["const"], kw):
                raise Infeasible("the const value breaks the other keywords", flat.path)
            return self._copy(kw["const"], flat.path)
        if "enum" in kw:
            options = list(kw["enum"])
            self.rng.shuffle(options)
            for option in options:
                # Each option is matched against the patterns: charged, as options are data.
                self.spend(1 + self.prepared.limits.units(option), flat.path)
                if is_valid(self.prepared, option, kw):
                    return self._copy(option, flat.path)
            raise Infeasible("no enum value satisfies the other keywords", flat.path)
        example = self._example(kw, flat.path)
        if example is not _MISSING:
            return example
        failure: Infeasible | None = None
        for kind in self._kinds(kw, depth, name):
            try:
                return self._typed(kind, flat, depth, name)
            except Infeasible as exc:
                failure = exc
        raise failure or Infeasible("no type to generate", flat.path)

    def _example(self, kw: dict[str, Any], path: str) -> Any:
        """Sometimes reuse a valid ``examples`` entry or the ``default``: realistic and cheap.

        Annotations are not checked with the schema, so one JSON cannot carry, or too long to
        match against the schema's patterns, is skipped rather than refused.
        """
        pool = list(kw["examples"]) if isinstance(kw.get("examples"), list) else []
        pool += [kw[key] for key in ("example", "default") if key in kw]  # "example": OpenAPI 3.0
        # An empty default (pydantic's ``tags: list[str] = []``) is a placeholder, not an answer.
        pool = [choice for choice in pool if choice not in _EMPTY]
        if not pool or self.rng.random() >= 0.25:
            return _MISSING
        choice = self.rng.choice(pool)
        if not limits.usable(choice, self.prepared.limits):
            return _MISSING
        self.spend(self.prepared.limits.units(choice), path)
        if not is_valid(self.prepared, choice, kw):
            return _MISSING
        return self._copy(choice, path)

    def _copy(self, data: Any, path: str) -> Any:
        """A copy of schema data (const, enum, example) for the output, charged to its size."""
        self.count(_json_size(data), path)
        return copy.deepcopy(data)

    def _kinds(self, kw: dict[str, Any], depth: int, name: str | None) -> list[str]:
        declared = kw.get("type")
        if declared is None:
            return [heights.infer_kind(kw, name)]
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
            found = self.prepared.limits
            text = strings.string(kw, name, self.rng, path, extra, found, lambda n: self.spend(n, path))
            self.count(len(text), path)
            return text
        if kind == "object":
            return objects.make_object(self, kw, depth, path)
        if kind == "array":
            return arrays.make_array(self, kw, depth, name, path)
        raise SchemaError(f"unknown type {kind!r}", path)


def _json_size(data: Any) -> int:
    """Roughly how many characters ``data`` takes as JSON (strings and keys in full)."""
    size = 0
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            size += len(item) + 2
        elif isinstance(item, dict):
            size += 2 + sum(len(key) + 4 for key in item)
            stack.extend(item.values())
        elif isinstance(item, list):
            size += 2 + len(item)
            stack.extend(item)
        else:
            size += 8
    return size
