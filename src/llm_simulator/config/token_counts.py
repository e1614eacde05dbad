"""Distributions of token counts, written with token-named fields.

The distribution specs are shared with latency, so their fields are named in milliseconds
(``mean_ms``, ``p99_ms``). An output length is a number of tokens, so its config says
``mean_tokens``, ``p99_tokens`` (and ``value_tokens``, ``min_tokens``, ``max_tokens``,
``std_dev_tokens``, ``p50_tokens``, ``scale_tokens``, ``values_tokens``). The engine samples
the same spec either way: the token names are translated on the way in and back on the way
out (so a dumped config, which workers reload, keeps them). The old ``*_ms`` spelling still
loads, with a ``FutureWarning`` (shown to users by default, unlike ``DeprecationWarning``).
"""

from __future__ import annotations

import warnings
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

from llm_simulator.config.distributions import DistributionSpec

TOKENS = "_tokens"
MS = "_ms"


def _renamed(tree: Any, old: str, new: str, seen: list[str]) -> Any:
    """``tree`` with every field ending in ``old`` renamed to end in ``new`` (mixtures included)."""
    if not isinstance(tree, dict):
        return tree
    out: dict[str, Any] = {}
    for given, value in tree.items():
        name = given
        if isinstance(given, str) and given.endswith(old):
            seen.append(given)
            name = given[: -len(old)] + new
        renamed = value
        if name == "components" and isinstance(value, (list, tuple)):
            renamed = [
                {**c, "dist": _renamed(c["dist"], old, new, seen)} if isinstance(c, dict) and "dist" in c else c
                for c in value
            ]
        if name in out:
            raise ValueError(f"{name[: -len(MS)]}{TOKENS} and {name} are one field: give one of them")
        out[name] = renamed
    return out


def _from_config(value: Any) -> Any:
    """Token-named fields to the spec's own names; the old ``*_ms`` names with a warning."""
    if not isinstance(value, dict):
        return value  # an already built spec (a default), or something the union will refuse
    old: list[str] = []
    _renamed(value, MS, MS, old)
    if old:
        new = ", ".join(name[: -len(MS)] + TOKENS for name in old)
        warnings.warn(
            f"output_tokens: {', '.join(old)} is a number of tokens, not milliseconds; write {new} "
            "(the *_ms spelling is deprecated and will stop loading in a future release)",
            FutureWarning,
            stacklevel=2,
        )
    return _renamed(value, TOKENS, MS, [])


def _to_config(spec: Any) -> dict[str, Any]:
    """The spec as config writes it: token-named fields."""
    data = spec.model_dump() if hasattr(spec, "model_dump") else dict(spec)
    renamed: dict[str, Any] = _renamed(data, MS, TOKENS, [])
    return renamed


TokenCountSpec = Annotated[
    DistributionSpec,
    BeforeValidator(_from_config),
    PlainSerializer(_to_config, return_type=dict[str, Any]),
]
"""A distribution of token counts (``generation.output_tokens``, ``models.add[].output_tokens``)."""
