"""Retry hints shared by the Stainless-SDK providers (OpenAI and Anthropic): ``retry-after``.

Both SDKs read ``retry-after-ms`` first and then ``retry-after`` (seconds, possibly
fractional). Whole seconds are sent as an integer, as the real APIs do; a sub-second hint
(chaos rules in tests) keeps its fraction so a test need not wait a whole second per retry.
"""

from __future__ import annotations

import math

from llm_simulator.core.http import Headers


def retry_after_headers(seconds: float) -> Headers:
    """``retry-after`` and ``retry-after-ms`` for a hint of ``seconds``."""
    # Clamped to a day: a hint is a hint, and an unbounded one could not be printed.
    seconds = min(max(seconds, 0.0), 86_400.0)
    ms = math.ceil(seconds * 1000)
    fraction = f"{ms / 1000:.3f}".rstrip("0").rstrip(".") or "0"
    after = str(math.ceil(seconds)) if seconds >= 1 else fraction
    return [(b"retry-after", after.encode()), (b"retry-after-ms", str(ms).encode())]


def duration_text(seconds: float) -> str:
    """A short human duration for messages: ``3s``, ``1.5s``, ``120ms``."""
    if seconds < 1:
        return f"{max(0, round(seconds * 1000))}ms"
    return f"{seconds:.3f}".rstrip("0").rstrip(".") + "s"
