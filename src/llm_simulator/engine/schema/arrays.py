"""Arrays: how many items, ``prefixItems``, ``contains`` placement and ``uniqueItems``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from llm_simulator.engine.schema import hints
from llm_simulator.engine.schema.errors import Infeasible, SchemaError, join_path
from llm_simulator.engine.schema.merge import both, canonical, element
from llm_simulator.engine.schema.normalize import Schema
from llm_simulator.engine.schema.prepare import Context, is_valid

MAX_ITEMS = 5_000
"""Largest ``minItems`` honoured (the node and work budgets of ``generate`` allow no more)."""


@dataclass
class _Fill:
    """What every item of one array is drawn from."""

    prefix: list[Any]
    items: Any
    contains: Any
    need: int
    seen: dict[str, None] | None
    path: str


def make_array(gen: Context, kw: dict[str, Any], depth: int, name: str | None, path: str) -> list[Any]:
    """An array for the (flattened) keywords ``kw``: 1–3 items by default, fewer when deep.

    Items are named after the singular of ``name`` (``cities`` → ``city``) for plausible values.
    """
    prefix: list[Any] = kw.get("prefixItems", [])
    items = kw.get("items", kw.get("unevaluatedItems"))
    low, high = kw.get("minItems", 0), kw.get("maxItems")
    if items is False:
        high = len(prefix) if high is None else min(high, len(prefix))
    if low > MAX_ITEMS:
        raise SchemaError(f"minItems {low} is larger than the supported {MAX_ITEMS}", path)
    contains = kw.get("contains")
    need = kw.get("minContains", 1) if contains is not None else 0
    if depth >= gen.max_depth:
        count = max(low, need)
    else:
        count = max(len(prefix) or gen.rng.randint(1, max(1, 3 - depth // 2)), low, need)
        count = count if high is None else min(count, high)
    if count < max(low, need):
        raise Infeasible(f"minItems/minContains exceed maxItems {high}", path)
    fill = _Fill(prefix, items, contains, need, {} if kw.get("uniqueItems") else None, path)
    if contains is None:
        return _fill(gen, fill, count, low, 0, depth, hints.singular(name))
    # Where the contains-items go: first; after the prefixItems; or alone (for maxContains).
    group = {k: kw[k] for k in ("contains", "minContains", "maxContains") if k in kw}
    plans = [(count, 0), (max(count, len(prefix) + need), len(prefix)), (max(low, need), 0)]
    failure = Infeasible("the items do not satisfy contains/minContains/maxContains", path)
    for total, start in plans:
        if high is not None and total > high:
            continue
        fill.seen = {} if kw.get("uniqueItems") else None
        try:
            values = _fill(gen, fill, total, max(low, start + need), start, depth, hints.singular(name))
        except Infeasible as exc:
            failure = exc
            continue
        gen.spend(gen.prepared.limits.units(values), path)  # contains: every item is matched
        if is_valid(gen.prepared, values, group):
            return values
    raise failure


def _fill(gen: Context, fill: _Fill, count: int, must: int, start: int, depth: int, name: str | None) -> list[Any]:
    """``count`` items (at least ``must``), contains-items at ``start``; stops early on a dead end."""
    values: list[Any] = []
    for i in range(count):
        sub = element({"prefixItems": fill.prefix, "items": fill.items}, i)
        if start <= i < start + fill.need:
            sub = both(sub, fill.contains)
        child = join_path(fill.path, "prefixItems", i) if i < len(fill.prefix) else join_path(fill.path, "items")
        try:
            values.append(_item(gen, True if sub is None else sub, depth, name, child, fill.seen))
        except Infeasible:
            if i < must:
                raise
            break
    return values


def _item(gen: Context, schema: Schema, depth: int, name: str | None, path: str, seen: dict[str, None] | None) -> Any:
    if seen is None:
        return gen.value(schema, depth + 1, name, path)
    for _ in range(12):
        value = gen.value(schema, depth + 1, name, path)
        key = canonical(value)
        if key not in seen:
            seen[key] = None
            return value
    raise Infeasible("could not find enough distinct items for uniqueItems", path)
