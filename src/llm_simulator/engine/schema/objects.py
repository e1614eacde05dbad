"""Objects: which properties to emit, in which order, and extra keys when they are needed."""

from __future__ import annotations

import math
import re
from typing import Any

from llm_simulator.engine.schema import strings, words
from llm_simulator.engine.schema.errors import Infeasible, join_path
from llm_simulator.engine.schema.merge import both, outside
from llm_simulator.engine.schema.normalize import Schema
from llm_simulator.engine.schema.prepare import Context, is_valid

_KEY_LENGTH = 64
"""Longest key drawn from a ``propertyNames``/``patternProperties`` pattern."""
OPTIONAL_CHANCE = 0.9
"""Chance that an optional property of a top-level object is filled (less when nested)."""


def make_object(gen: Context, kw: dict[str, Any], depth: int, path: str) -> dict[str, Any]:
    """An object for the (flattened) keywords ``kw``: required keys always, optional ones by chance.

    Keys follow ``propertyOrdering``, then ``properties`` order; keys beyond ``properties`` are
    added only to reach ``minProperties`` or to fill a map-like ``additionalProperties`` object.
    """
    required = dict.fromkeys(kw.get("required", ()))
    most = kw.get("maxProperties", math.inf)
    if len(required) > most or kw.get("minProperties", 0) > most:
        raise Infeasible(f"required properties or minProperties exceed maxProperties {most}", path)
    order = _key_order(kw)
    if "propertyNames" in kw:
        for key in [k for k in order if not is_valid(gen.prepared, k, kw["propertyNames"])]:
            if key in required:
                raise Infeasible(f"required property {key!r} breaks propertyNames", path)
            order.remove(key)
    picked = _pick_keys(gen, kw, order, required, depth, path)
    # A key that dependentRequired demands but that cannot be made: drop the optional
    # key that demanded it and try again (each round drops at least one key).
    while True:
        try:
            result = _fill_object(gen, kw, order, picked, required, depth, path)
            break
        except _DroppedTrigger as drop:
            for key in drop.keys:
                picked.pop(key, None)
    _extras(gen, kw, result, depth, path)
    return result


def _pick_keys(
    gen: Context, kw: dict[str, Any], order: list[str], required: dict[str, None], depth: int, path: str
) -> dict[str, None]:
    """Required keys (and what they demand), then optional ones while maxProperties allows."""
    props: dict[str, Any] = kw.get("properties", {})
    deps: dict[str, list[str]] = kw.get("dependentRequired", {})
    most = kw.get("maxProperties", math.inf)
    picked = dict(required)
    for key in required:
        picked.update(_closure(key, deps))
    if len(picked) > most:
        raise Infeasible(f"required and dependent properties exceed maxProperties {most}", path)

    def room_for(key: str) -> bool:
        grows = [k for k in (key, *_closure(key, deps)) if k not in picked]
        return key not in picked and props.get(key) is not False and len(picked) + len(grows) <= most

    # Models fill most optional properties: 90 % each at the top, thinning out with depth
    # so recursive schemas stay small. An object with properties is never left empty above
    # max_depth (no model answers ``{}``; instructor's create_iterable cannot parse it).
    chance = 0.0 if depth >= gen.max_depth else OPTIONAL_CHANCE * (1 - depth / (gen.max_depth + 1))
    for key in order:
        if room_for(key) and gen.rng.random() < chance:
            picked[key] = None
    if not picked and depth < gen.max_depth:
        candidates = [key for key in order if key in props and room_for(key)]
        if candidates:
            picked[gen.rng.choice(candidates)] = None
    for key in order:
        if len(picked) >= kw.get("minProperties", 0):
            break
        if key in props and room_for(key):
            picked[key] = None
    return picked


def _fill_object(
    gen: Context,
    kw: dict[str, Any],
    order: list[str],
    picked: dict[str, None],
    required: dict[str, None],
    depth: int,
    path: str,
) -> dict[str, Any]:
    deps: dict[str, list[str]] = kw.get("dependentRequired", {})
    demanded = {key: _closure(key, deps) for key in picked}  # dependentRequired, transitively
    chosen = dict(picked)
    for keys in demanded.values():
        chosen.update(keys)
    result: dict[str, Any] = {}
    for key in [*order, *(k for k in chosen if k not in order)]:
        if key not in chosen:
            continue
        sub = property_schema(kw, key)
        child = join_path(path, "properties", key)
        try:
            if sub is False:
                raise Infeasible(f"required property {key!r} is not allowed by the schema", child)
            if key not in order and "propertyNames" in kw and not is_valid(gen.prepared, key, kw["propertyNames"]):
                raise Infeasible(f"property {key!r} (from dependentRequired) breaks propertyNames", child)
            _charge_key(gen, kw, key, child)
            result[key] = gen.value(sub, depth + 1, key, child)
        except Infeasible:
            if key in required or any(key in demanded[r] for r in required if r in demanded):
                raise
            triggers = [t for t, keys in demanded.items() if key in keys and t not in required]
            if triggers:
                raise _DroppedTrigger(triggers) from None
            # an optional property that cannot be made is simply left out
    return result


def _charge_key(gen: Context, kw: dict[str, Any], key: str, path: str) -> None:
    """Charge one key: its characters, and the pattern searches made for it.

    Each key is searched with every ``patternProperties`` pattern (here and again when the
    instance is validated): thousands of keys times a hundred patterns add up.
    """
    gen.count(len(key) + 4, path)
    names = kw.get("propertyNames")
    checks = gen.prepared.expansion(names) if names is not None else 0
    searches = len(kw.get("patternProperties", ())) + (names is not None)
    gen.spend(searches // 4 + checks + searches * gen.prepared.limits.search_units(len(key)), path)


def property_schema(kw: dict[str, Any], key: str) -> Schema:
    """The schema governing ``key``: its ``properties`` entry with matching ``patternProperties``."""
    props: dict[str, Any] = kw.get("properties", {})
    if key not in props:
        sub = outside(kw, key)
        if sub is None and kw.get("unevaluatedProperties") is False:
            return False
        return True if sub is None else sub
    sub = props[key]
    for pattern, extra in kw.get("patternProperties", {}).items():
        if re.search(pattern, key):
            sub = both(sub, extra)
    return True if sub is None else sub


def _extras(gen: Context, kw: dict[str, Any], result: dict[str, Any], depth: int, path: str) -> None:
    """Keys beyond ``properties``: to reach ``minProperties``, or a few for map-like objects."""
    need = kw.get("minProperties", 0) - len(result)
    extra = kw.get("additionalProperties")
    if need <= 0 and not kw.get("properties") and isinstance(extra, dict) and depth < gen.max_depth:
        need = gen.rng.randint(1, 2)
    need = min(need, kw.get("maxProperties", math.inf) - len(result))
    if need <= 0:
        return
    for key in _extra_keys(gen, kw):
        if need <= 0:
            break
        if key in result or key in kw.get("properties", {}):
            continue
        if "propertyNames" in kw and not is_valid(gen.prepared, key, kw["propertyNames"]):
            continue
        sub = property_schema(kw, key)
        if sub is False:
            continue
        where = join_path(path, "additionalProperties")
        _charge_key(gen, kw, key, where)
        try:
            result[key] = gen.value(sub, depth + 1, key, where)
        except Infeasible:
            continue
        need -= 1
    if len(result) < kw.get("minProperties", 0):
        raise Infeasible(f"found no allowed keys to reach minProperties {kw['minProperties']}", path)


def _extra_keys(gen: Context, kw: dict[str, Any], count: int = 3) -> list[str]:
    names = kw.get("propertyNames")
    keys: list[str] = []
    if isinstance(names, dict):
        keys += [v for v in names.get("enum", ()) if isinstance(v, str)]
        patterns = [names["pattern"]] if "pattern" in names else []
    else:
        patterns = []
    patterns += list(kw.get("patternProperties", {}))
    for pattern in patterns:
        fits = strings.matcher([pattern], low=1, high=_KEY_LENGTH)
        for _ in range(count):
            found = strings.from_patterns([pattern], gen.rng, fits, high=_KEY_LENGTH)
            if found is not None:
                keys.append(found)
    return [*keys, *words.EXTRA_KEYS, *(f"field_{i}" for i in range(1, 33))]


class _DroppedTrigger(Exception):
    """Optional keys whose dependentRequired keys cannot be made."""

    def __init__(self, keys: list[str]) -> None:
        super().__init__(keys)
        self.keys = keys


def _closure(key: str, deps: dict[str, list[str]]) -> dict[str, None]:
    """The keys ``key`` demands through ``dependentRequired``, transitively (itself excluded)."""
    out: dict[str, None] = {}
    queue = list(deps.get(key, ()))
    while queue:
        dep = queue.pop(0)
        if dep not in out and dep != key:
            out[dep] = None
            queue.extend(deps.get(dep, ()))
    return out


def _key_order(kw: dict[str, Any]) -> list[str]:
    """``propertyOrdering`` first (Gemini), then ``properties`` order, then other required keys."""
    props = kw.get("properties", {})
    ordering = kw.get("propertyOrdering")
    first = [k for k in ordering if k in props] if isinstance(ordering, list) else []
    return list(dict.fromkeys([*first, *props, *kw.get("required", ())]))
