"""Anthropic's rate-limit headers: ``anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-*``.

Each budget has ``-limit``, ``-remaining`` and ``-reset``, the reset being the RFC 3339
time at which the bucket is full again. The ``tokens`` headers show the most restrictive
token budget when only input and output budgets are configured, as Anthropic documents.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from llm_simulator.core.http import Headers
from llm_simulator.engine.limits import LimitState


def rfc3339(wall: float) -> str:
    """A Unix time as RFC 3339 UTC with second precision: ``2026-11-27T15:45:08Z``."""
    return dt.datetime.fromtimestamp(round(wall), tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _triple(name: str, state: LimitState, wall: float) -> Headers:
    prefix = b"anthropic-ratelimit-" + name.encode()
    return [
        (prefix + b"-limit", str(state.limit).encode()),
        (prefix + b"-remaining", str(state.remaining).encode()),
        (prefix + b"-reset", rfc3339(wall + state.reset_s).encode()),
    ]


def limit_headers(states: Sequence[LimitState], wall: float) -> Headers:
    """The ``anthropic-ratelimit-*`` headers of the per-minute budgets."""
    minute = {s.resource: s for s in states if s.window == "minute"}
    headers: Headers = []
    for resource in ("requests", "input_tokens", "output_tokens"):
        if resource in minute:
            headers.extend(_triple(resource.replace("_", "-"), minute[resource], wall))
    tokens = minute.get("tokens")
    if tokens is None:
        split = [minute[r] for r in ("input_tokens", "output_tokens") if r in minute]
        tokens = min(split, key=lambda s: s.remaining) if split else None
    if tokens is not None:
        headers.extend(_triple("tokens", tokens, wall))
    return headers
