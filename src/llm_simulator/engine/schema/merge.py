"""Flatten ``$ref`` and ``allOf`` into one keyword map, so generation sees a single node.

Merging is shallow and lazy: where two parts both constrain a nested location (the same
property, ``items``, ``additionalProperties``) the result is ``{"allOf": [a, b]}``, flattened
only if generation ever descends there. That keeps recursive schemas finite. What cannot be
merged (``not``, a second ``pattern``, a second ``oneOf``) becomes a *check*: a schema the
finished value must also satisfy, verified by the caller.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from llm_simulator.engine.schema.errors import Infeasible
from llm_simulator.engine.schema.normalize import Schema

Resolve = Callable[[str], Schema]
"""Looks a ``$ref`` up in the root document."""

_LOWER_BOUNDS = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties")
_UPPER_BOUNDS = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties")
_SKIPPED = ("$ref", "allOf", "$defs", "definitions", "$schema", "$id", "$comment", "$anchor")
_NESTED = ("additionalProperties", "propertyNames", "unevaluatedProperties", "unevaluatedItems")


@dataclass
class Flat:
    """One node with ``$ref``/``allOf`` resolved.

    ``kw`` is itself a valid schema; ``any_of``/``one_of`` are groups of alternatives still to
    be chosen from; ``checks`` must also hold for the final value (each ``oneOf`` group is
    among them, since exactly one branch has to match).
    """

    path: str
    kw: dict[str, Any] = field(default_factory=dict)
    any_of: list[list[Schema]] = field(default_factory=list)
    one_of: list[list[Schema]] = field(default_factory=list)
    checks: list[Schema] = field(default_factory=list)
    exact: bool = True
    """False once a merge only approximated a conjunction (two ``multipleOf``s: their float
    least common multiple may fail jsonschema's division test), so the value needs validating."""

    def copy(self) -> Flat:
        """A copy that can absorb more parts without changing this one."""
        return Flat(self.path, dict(self.kw), list(self.any_of), list(self.one_of), list(self.checks), self.exact)


def canonical(value: object) -> str:
    """A key equal for JSON-equal values (``1 == 1.0``, but ``true != 1``), as JSON Schema compares."""
    return json.dumps(_canon(value), sort_keys=True, separators=(",", ":"))


def _canon(value: object) -> object:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _canon(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_canon(v) for v in value]
    return value


def flatten(schema: Schema, resolve: Resolve, path: str) -> Flat:
    """Resolve ``$ref`` and ``allOf`` at the top of ``schema``; raises ``Infeasible`` on a contradiction."""
    flat = Flat(path)
    absorb(flat, schema, resolve)
    return flat


def absorb(flat: Flat, schema: Schema, resolve: Resolve, seen: frozenset[str] = frozenset()) -> None:
    """Merge ``schema`` into ``flat`` in place (conjunction)."""
    if schema is True:
        return
    if schema is False:
        raise Infeasible("the schema 'false' admits no value", flat.path)
    ref = schema.get("$ref")
    if isinstance(ref, str):
        if ref in seen:
            raise Infeasible(f"$ref {ref!r} refers to itself without nesting", flat.path)
        absorb(flat, resolve(ref), resolve, seen | {ref})
    for part in schema.get("allOf", ()):
        absorb(flat, part, resolve, seen)
    if "properties" in schema or "patternProperties" in schema or "additionalProperties" in schema:
        _merge_properties(flat.kw, schema)
    if "prefixItems" in schema or "items" in schema:
        _merge_items(flat.kw, schema)
    if "contains" in schema:
        group: dict[str, Any] = {k: schema[k] for k in ("contains", "minContains", "maxContains") if k in schema}
        if "contains" in flat.kw:
            flat.checks.append(group)
        else:
            flat.kw.update(group)
    for key, value in schema.items():
        if key in _SKIPPED or key in ("properties", "patternProperties", "additionalProperties"):
            continue
        if key in ("prefixItems", "items", "contains", "minContains", "maxContains"):
            continue
        _merge_keyword(flat, key, value)


def _merge_keyword(flat: Flat, key: str, value: Any) -> None:
    kw = flat.kw
    if key in ("anyOf", "oneOf"):
        group = list(value)
        if key == "anyOf":
            flat.any_of.append(group)
        else:
            flat.one_of.append(group)
            flat.checks.append({"oneOf": group})
    elif key == "not":
        flat.checks.append({"not": value})
    elif key in ("if", "then", "else", "dependentSchemas"):
        flat.checks.append({key: value})
    elif key not in kw:
        kw[key] = list(value) if isinstance(value, list) else value
    elif key in _LOWER_BOUNDS:
        kw[key] = max(kw[key], value)
    elif key in _UPPER_BOUNDS:
        kw[key] = min(kw[key], value)
    elif key == "uniqueItems":
        kw[key] = kw[key] or value
    elif key == "required":
        kw[key] = [*kw[key], *(name for name in value if name not in kw[key])]
    elif key == "dependentRequired":
        merged = dict(kw[key])
        for name, deps in value.items():
            merged[name] = [*merged.get(name, ()), *(d for d in deps if d not in merged.get(name, ()))]
        kw[key] = merged
    elif key == "type":
        kw[key] = _intersect_types(kw[key], value, flat.path)
    elif key == "enum":
        allowed = {canonical(v) for v in value}
        kw[key] = [v for v in kw[key] if canonical(v) in allowed]
        if not kw[key]:
            raise Infeasible("no enum value satisfies every allOf part", flat.path)
    elif key == "const":
        if canonical(kw[key]) != canonical(value):
            raise Infeasible("allOf parts require different constants", flat.path)
    elif key == "multipleOf":
        flat.exact = flat.exact and kw[key] == value
        kw[key] = _lcm(kw[key], value)
    elif key in _NESTED:
        kw[key] = both(kw[key], value)
    elif key == "pattern" and kw[key] != value:
        flat.checks.append({"pattern": value})
    # Anything else (annotations, format, propertyOrdering): the first part wins.


def _intersect_types(left: str | list[str], right: str | list[str], path: str) -> list[str]:
    a = [left] if isinstance(left, str) else list(left)
    b = [right] if isinstance(right, str) else list(right)
    # "integer" is a subset of "number", so integer ∧ number = integer.
    out = [t for t in a if t in b or (t == "integer" and "number" in b)]
    out += [t for t in b if t == "integer" and "number" in a and t not in out]
    if not out:
        raise Infeasible(f"allOf parts allow no common type ({a} vs {b})", path)
    return out


def _lcm(a: float, b: float) -> float:
    x, y = Fraction(str(a)), Fraction(str(b))
    lcm = Fraction(math.lcm(x.numerator, y.numerator), math.gcd(x.denominator, y.denominator))
    return int(lcm) if lcm.denominator == 1 else float(lcm)


def both(a: Any, b: Any) -> Any:
    """The conjunction of two optional subschemas (``None`` = keyword absent)."""
    if a is None or a is True:
        return b
    if b is None or b is True:
        return a
    if a is False or b is False:
        return False
    if a == b:
        return a
    return {"allOf": [a, b]}


def outside(schema: dict[str, Any], name: str) -> Any:
    """What ``schema`` says about a property it does not list (``None`` = nothing)."""
    matching = [s for p, s in schema.get("patternProperties", {}).items() if re.search(p, name)]
    if matching:
        out: Any = None
        for sub in matching:
            out = both(out, sub)
        return out
    return schema.get("additionalProperties")


def _merge_properties(kw: dict[str, Any], part: dict[str, Any]) -> None:
    mine: dict[str, Any] = kw.get("properties", {})
    theirs: dict[str, Any] = part.get("properties", {})
    # A property one part lists is still subject to the other part's additional/pattern rules.
    merged = {name: both(sub, theirs[name] if name in theirs else outside(part, name)) for name, sub in mine.items()}
    for name, sub in theirs.items():
        if name not in mine:
            merged[name] = both(sub, outside(kw, name)) if kw else sub
    if merged:
        kw["properties"] = merged
    patterns = dict(kw.get("patternProperties", {}))
    for pattern, sub in part.get("patternProperties", {}).items():
        patterns[pattern] = both(patterns.get(pattern), sub)
    if patterns:
        kw["patternProperties"] = patterns
    extra = both(kw.get("additionalProperties"), part.get("additionalProperties"))
    if extra is not None:
        kw["additionalProperties"] = extra


def element(schema: dict[str, Any], index: int) -> Any:
    """The schema for array position ``index`` (``None`` = unconstrained)."""
    prefix = schema.get("prefixItems", ())
    return prefix[index] if index < len(prefix) else schema.get("items")


def _merge_items(kw: dict[str, Any], part: dict[str, Any]) -> None:
    size = max(len(kw.get("prefixItems", ())), len(part.get("prefixItems", ())))
    prefix = [both(element(kw, i), element(part, i)) for i in range(size)]
    items = both(kw.get("items"), part.get("items"))
    if prefix:
        kw["prefixItems"] = [True if p is None else p for p in prefix]
    if items is not None:
        kw["items"] = items
