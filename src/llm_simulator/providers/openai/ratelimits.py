"""OpenAI's rate-limit headers: ``x-ratelimit-{limit,remaining,reset}-{requests,tokens}``.

Resets are Go-style durations (``1s``, ``6m0s``, ``8.64s``, ``120ms``): the time until the
bucket is full again. Only the per-minute request and token budgets have headers.
"""

from __future__ import annotations

from collections.abc import Sequence

from llm_simulator.core.http import Headers
from llm_simulator.engine.limits import LimitState


def go_duration(seconds: float) -> str:
    """``seconds`` as Go's ``time.Duration`` prints it, to the millisecond: ``6m0s``, ``120ms``."""
    ms = max(0, round(seconds * 1000))
    if ms == 0:
        return "0s"
    if ms < 1000:
        return f"{ms}ms"
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    whole, frac = divmod(rest, 1000)
    secs = f"{whole}.{frac:03d}".rstrip("0").rstrip(".") if frac else str(whole)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


def limit_headers(states: Sequence[LimitState], wall: float) -> Headers:
    """The ``x-ratelimit-*`` headers of the per-minute request and token budgets."""
    headers: Headers = []
    for state in states:
        if state.window != "minute" or state.resource not in ("requests", "tokens"):
            continue
        suffix = state.resource.encode()
        headers.append((b"x-ratelimit-limit-" + suffix, str(state.limit).encode()))
        headers.append((b"x-ratelimit-remaining-" + suffix, str(state.remaining).encode()))
        headers.append((b"x-ratelimit-reset-" + suffix, go_duration(state.reset_s).encode()))
    return headers
