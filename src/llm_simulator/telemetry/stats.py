"""In-process statistics behind ``/admin/stats`` (resettable)."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from llm_simulator.telemetry.histogram import Histogram


class EmitErrorStats:
    """The simulator's own timing error: actual minus scheduled token release time.

    Implements the engine's ``TimingObserver``. Late releases go to ``late``; releases
    before their due time (within the scheduler's early-release window) to ``early``.
    """

    def __init__(self) -> None:
        self.late = Histogram()
        self.early = Histogram()

    def record_emit_error(self, error_s: float) -> None:
        """Record one token's error in seconds."""
        if error_s >= 0:
            self.late.observe(error_s)
        else:
            self.early.observe(-error_s)

    def snapshot(self) -> dict[str, Any]:
        """Summaries in milliseconds."""
        return {"unit": "ms", "late": self.late.summary(), "early": self.early.summary()}


class Stats:
    """Request counters, durations and the emit-error histogram."""

    def __init__(self) -> None:
        # Gauges of what is in flight now: a reset must not touch them, or the requests
        # still running would drive them below zero when they end.
        self.active_streams = 0
        self.active_requests = 0
        self.reset()

    def reset(self) -> None:
        """Start counting afresh (counters and histograms; the in-flight gauges stay)."""
        self.since = time.time()
        self.emit_error = EmitErrorStats()
        self.requests: Counter[tuple[str, str, int]] = Counter()
        self.durations: dict[str, Histogram] = {}

    def record_emit_error(self, error_s: float) -> None:
        """Engine hook (``TimingObserver``): one token's emit-time error in seconds."""
        self.emit_error.record_emit_error(error_s)

    def record_request(self, provider: str, endpoint: str, status: int, duration_s: float) -> None:
        """Count one finished request and its duration."""
        self.requests[(provider, endpoint, status)] += 1
        hist = self.durations.get(endpoint)
        if hist is None:
            hist = self.durations[endpoint] = Histogram()
        hist.observe(duration_s)

    def snapshot(self) -> dict[str, Any]:
        """Everything as plain JSON-ready data."""
        return {
            "since": self.since,
            "active_requests": self.active_requests,
            "active_streams": self.active_streams,
            "requests": [
                {"provider": p, "endpoint": e, "status": s, "count": c}
                for (p, e, s), c in sorted(self.requests.items())
            ],
            "duration_ms": {endpoint: h.summary() for endpoint, h in sorted(self.durations.items())},
            "emit_error": self.emit_error.snapshot(),
        }
