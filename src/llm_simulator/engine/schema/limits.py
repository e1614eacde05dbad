"""Static limits checked once per schema, so that no request can make generation hang.

Schemas and their data (enum values, property names) come from untrusted requests. Checked
here, before anything is generated: the cost of every ``pattern`` (``backtracking``), the
strings that will be matched against those patterns, numbers and strings JSON cannot carry,
and how far ``$ref``/``allOf``/``anyOf`` expand one subschema. The generator enforces the rest
(output size, work) with budgets as it goes.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from llm_simulator.engine.schema import backtracking
from llm_simulator.engine.schema.errors import SchemaError, format_path
from llm_simulator.engine.schema.normalize import LIST_KEYWORDS, MAP_KEYWORDS, SINGLE_KEYWORDS, Schema
from llm_simulator.engine.schema.refs import lookup

MAX_STRING_LENGTH = 100_000
"""Longest string generated (and largest ``minLength`` honoured) when no pattern says less."""
PATTERN_STRING_LENGTH = 10_000
"""Longest string matched against a pattern: data strings, and strings drawn from a pattern."""
MAX_PATTERNS = 100
"""Distinct patterns per schema (``re`` caches 512 compiled patterns; more would recompile)."""
DATA_BUDGET = 2 * backtracking.COST_BUDGET
"""Matching steps allowed for all enum/const strings and property names together."""
STEPS_PER_UNIT = 1000
"""Worst-case matching steps per unit of the generator's work budget (about 10 µs)."""
MAX_EXPANSION = 5_000
"""Most subschemas one node may expand to through ``$ref``/``allOf``/``anyOf``/``oneOf``/``not``."""
EXAMPLE_SIZE = 100_000
"""Largest ``examples``/``default`` value (in characters) the generator reuses."""
INT64 = (-(2**63), 2**63 - 1)
"""The integers every JSON consumer (and ``orjson``) can carry."""

_SURROGATE = re.compile("[\ud800-\udfff]")
_SAME_LEVEL = ("not", "if", "then", "else")
_ALTERNATIVES = ("allOf", "anyOf", "oneOf")
_EXPANSION_CAP = 1 << 40

Node = tuple[tuple[str, ...], dict[str, Any]]
"""A subschema with its path in the document."""


@dataclass
class Limits:
    """What the document's patterns allow: the longest string anywhere, and their ratings."""

    string_cap: int = MAX_STRING_LENGTH
    ratings: set[backtracking.Rating] = field(default_factory=set)

    def cost(self, length: int) -> int:
        """Steps the costliest pattern may take on a string of ``length`` characters."""
        return max((factor * length**degree for degree, factor in self.ratings), default=0)

    def search_units(self, length: int) -> int:
        """Work units to charge for one search of a string of ``length`` characters."""
        return self.cost(length) // STEPS_PER_UNIT

    def units(self, value: object) -> int:
        """Work units to charge for matching ``value``'s strings (and keys) against the patterns."""
        if not self.ratings:
            return 0
        steps = 0
        stack = [value]
        while stack:
            item = stack.pop()
            if isinstance(item, str):
                steps += self.cost(len(item))
            elif isinstance(item, dict):
                stack.extend(item)
                stack.extend(item.values())
            elif isinstance(item, list):
                stack.extend(item)
        return steps // STEPS_PER_UNIT

    @property
    def data_cap(self) -> int:
        """Longest data string that may be matched against the document's patterns (if any)."""
        return min(self.string_cap, PATTERN_STRING_LENGTH) if self.ratings else sys.maxsize


def reachable(root: Schema) -> list[Node]:
    """Every object subschema of ``root``: by its keywords, and where ``$ref``s point elsewhere.

    A ``$ref`` may point into a place no keyword walk reaches (``#/x/y``); that subschema is
    generated and validated all the same, so it is checked too. Each node is listed once.
    """
    out: list[Node] = []
    seen: set[int] = set()
    stack: list[tuple[tuple[str, ...], object]] = [((), root)]
    while stack:
        path, node = stack.pop()
        if not isinstance(node, dict) or id(node) in seen:
            continue
        seen.add(id(node))
        out.append((path, node))
        ref = node.get("$ref")
        if isinstance(ref, str):
            stack.append((_pointer(ref), lookup(root, ref, format_path(path))))
        for key, value in reversed(node.items()):
            if key in SINGLE_KEYWORDS:
                stack.append(((*path, key), value))
            elif key in MAP_KEYWORDS and isinstance(value, dict):
                stack.extend(((*path, key, str(name)), sub) for name, sub in reversed(value.items()))
            elif key in LIST_KEYWORDS and isinstance(value, list):
                stack.extend(((*path, key, str(i)), sub) for i, sub in reversed(list(enumerate(value))))
    return out


def _pointer(ref: str) -> tuple[str, ...]:
    if "#/" not in ref:
        return ()
    return tuple(unquote(t).replace("~1", "/").replace("~0", "~") for t in ref.split("#/", 1)[1].split("/"))


def pattern_limits(nodes: list[Node]) -> Limits:
    """Rate every ``pattern`` and ``patternProperties`` key; raises ``SchemaError`` for costly ones."""
    found: dict[str, str] = {}
    for path, node in nodes:
        pattern = node.get("pattern")
        if isinstance(pattern, str):
            found.setdefault(pattern, format_path((*path, "pattern")))
        keyed = node.get("patternProperties")
        if isinstance(keyed, dict):
            for key in keyed:
                found.setdefault(key, format_path((*path, "patternProperties")))
    if len(found) > MAX_PATTERNS:
        raise SchemaError(f"the schema uses more than {MAX_PATTERNS} distinct patterns")
    limits = Limits()
    for pattern, where in found.items():
        try:
            limits.string_cap = min(limits.string_cap, backtracking.subject_cap(pattern, MAX_STRING_LENGTH))
            limits.ratings.add(backtracking.rate(pattern))
        except backtracking.TooComplex as exc:
            raise SchemaError(f"pattern too complex: {exc}", where) from None
    return limits


def check_data(nodes: list[Node], limits: Limits) -> None:
    """Raise ``SchemaError`` for enum/const values and property names the generator cannot use.

    Numbers must fit JSON consumers (64-bit integers, finite floats) and strings must be valid
    Unicode (no lone surrogates); where the document has patterns, strings are also bounded in
    length, one by one and (weighted by the patterns' cost) all together.
    """
    spent = 0
    for path, node in nodes:
        for key in ("enum", "const"):
            if key in node:
                where = format_path((*path, key))
                spent += _scan(node[key], limits, where, strict=True)
        where = format_path(path)
        for name in _property_names(node):
            spent += _scan(name, limits, where, strict=True)
        if spent > DATA_BUDGET:
            raise SchemaError("the enum/const values and property names are too long for this schema's patterns")


def _property_names(node: dict[str, Any]) -> list[object]:
    names: list[object] = []
    for key in ("properties", "dependentRequired"):
        if isinstance(node.get(key), dict):
            names += list(node[key])
    for key in ("required", "propertyOrdering"):
        if isinstance(node.get(key), list):
            names += node[key]
    if isinstance(node.get("dependentRequired"), dict):
        names += [n for deps in node["dependentRequired"].values() if isinstance(deps, list) for n in deps]
    return names


def usable(value: object, limits: Limits) -> bool:
    """Whether an ``examples``/``default`` value is safe to reuse (else it is simply skipped)."""
    try:
        return _scan(value, limits, "", strict=False) <= DATA_BUDGET
    except SchemaError:
        return False


def _scan(value: object, limits: Limits, where: str, *, strict: bool) -> int:
    """The matching cost of ``value``'s strings; raises ``SchemaError`` for unusable data."""
    spent = size = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            size += len(item)
            if _SURROGATE.search(item):
                raise SchemaError("a string holds a lone surrogate, which JSON text cannot carry", where)
            if len(item) > limits.data_cap:
                raise SchemaError(
                    f"a string of {len(item)} characters is longer than the {limits.data_cap} "
                    "this schema's patterns may be matched against",
                    where,
                )
            spent += limits.cost(len(item))
        elif isinstance(item, bool) or item is None:
            size += 1
        elif isinstance(item, int):
            size += 1
            if not INT64[0] <= item <= INT64[1]:
                raise SchemaError(f"the integer {item} is outside the signed 64-bit range", where)
        elif isinstance(item, float):
            size += 1
            if not math.isfinite(item):
                raise SchemaError(f"the number {item} cannot be written as JSON", where)
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        if not strict and size > EXAMPLE_SIZE:
            raise SchemaError("too large to reuse", where)
    return spent


def expansions(nodes: list[Node], resolve: Callable[[str], Schema]) -> dict[int, int]:
    """How many subschemas each node expands to at its own level; raises ``SchemaError`` if too many.

    ``allOf`` parts that ``$ref`` the same definition twice, nested, double at each level:
    without this bound both generation and validation would take exponential time.
    """
    memo: dict[int, int] = {}
    for path, node in nodes:
        if expansion(node, resolve, memo, store=True) > MAX_EXPANSION:
            raise SchemaError(
                f"the schema expands to more than {MAX_EXPANSION} subschemas through $ref/allOf/anyOf/oneOf",
                format_path(path),
            )
    return memo


def expansion(node: object, resolve: Callable[[str], Schema], memo: dict[int, int], *, store: bool = False) -> int:
    """The size of ``node`` with same-level ``$ref``s and applicators expanded (memoised by id).

    Only nodes of the document are stored (``store``): ids of temporary schemas are reused.
    Needs a document without same-level ``$ref`` loops (checked before).
    """
    if not isinstance(node, dict):
        return 1
    known = memo.get(id(node))
    if known is not None:
        return known
    total = 1
    ref = node.get("$ref")
    if isinstance(ref, str):
        total += expansion(resolve(ref), resolve, memo, store=store)
    for key in _SAME_LEVEL:
        total += expansion(node[key], resolve, memo, store=store) if isinstance(node.get(key), dict) else 0
    for key in _ALTERNATIVES:
        for sub in node.get(key) or ():
            total += expansion(sub, resolve, memo, store=store)
    total = min(total, _EXPANSION_CAP)
    if store:
        memo[id(node)] = total
    return total
