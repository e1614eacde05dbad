"""The aggregates behind ``/metrics``, ``/admin/stats`` and the stats export (resettable).

One ``Stats`` per worker. A finished request is folded in once (``record``): a few dict
updates and histogram bisects, no locks, no I/O. Everything is plain data that another
worker can merge (``to_data`` / ``merge_data``), which is how ``/metrics`` stays correct
with several worker processes.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable
from typing import Any

from llm_simulator.core.record import RequestRecord
from llm_simulator.telemetry.histogram import (
    DURATION_EDGES,
    FINE_EDGES,
    ITL_EDGES,
    PRECISION_EDGES,
    TTFT_EDGES,
    Histogram,
)

NO_MODEL = "none"  # the model label of requests that name none (health checks, listings)
RequestKey = tuple[str, str, str, int]  # provider, model, endpoint, status
RouteKey = tuple[str, str, str]  # provider, model, endpoint


class EmitErrorStats:
    """The simulator's own timing error: actual minus scheduled token release time.

    Implements the engine's ``TimingObserver``. Late releases go to ``late``; releases
    before their due time (within the scheduler's early-release window) to ``early``.
    """

    def __init__(self) -> None:
        self.late = Histogram(FINE_EDGES)
        self.early = Histogram(FINE_EDGES)

    def record_emit_error(self, error_s: float) -> None:
        """Record one token's error in seconds."""
        if error_s >= 0:
            self.late.observe(error_s)
        else:
            self.early.observe(-error_s)

    def record_emit_errors(self, errors: list[float]) -> None:
        """Record several tokens' errors in seconds."""
        if errors and min(errors) >= 0:  # the common case: no early release, nothing to split
            self.late.observe_many(errors)
            return
        self.late.observe_many([e for e in errors if e >= 0])
        self.early.observe_many([-e for e in errors if e < 0])

    def snapshot(self) -> dict[str, Any]:
        """Summaries in milliseconds."""
        return {"unit": "ms", "late": self.late.summary_ms(digits=4), "early": self.early.summary_ms(digits=4)}


class ModelTotals:
    """Counters and latency histograms of one (provider, model)."""

    __slots__ = ("chunks", "cost", "errors", "input_tokens", "itl", "output_tokens", "requests", "ttft")

    def __init__(self) -> None:
        self.requests = 0
        self.errors = 0
        self.input_tokens = 0
        self.output_tokens = 0
        self.chunks = 0
        self.cost = 0.0
        self.ttft = Histogram(TTFT_EDGES)
        self.itl = Histogram(ITL_EDGES)

    def to_data(self) -> dict[str, Any]:
        """Plain data for merging."""
        return {
            "requests": self.requests,
            "errors": self.errors,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "chunks": self.chunks,
            "cost": self.cost,
            "ttft": self.ttft.to_data(),
            "itl": self.itl.to_data(),
        }

    def merge_data(self, data: dict[str, Any]) -> None:
        """Add another worker's totals."""
        self.requests += data["requests"]
        self.errors += data["errors"]
        self.input_tokens += data["input_tokens"]
        self.output_tokens += data["output_tokens"]
        self.chunks += data["chunks"]
        self.cost += data["cost"]
        self.ttft.merge_data(data["ttft"])
        self.itl.merge_data(data["itl"])


class KeyTotals:
    """Usage of one (provider, model, masked API key), for the stats export."""

    __slots__ = ("cost", "errors", "input_tokens", "output_tokens", "requests")

    def __init__(self) -> None:
        self.requests = 0
        self.errors = 0
        self.input_tokens = 0
        self.output_tokens = 0
        self.cost = 0.0


_KEY_FIELDS = ("requests", "errors", "input_tokens", "output_tokens", "cost")
# Most distinct (provider, model, endpoint, key) combinations remembered by the fast path.
_MAX_SLOTS = 10_000
# Most distinct models and per-key rows kept; beyond them new ones are folded into OTHER, so
# callers inventing model ids (with models.accept_unknown) or keys cannot grow memory and
# every scrape without bound.
MAX_MODELS = 500
MAX_KEYS = 10_000
OTHER = "other"
Prices = Callable[[str], tuple[float, float]]  # model → (input, output) $ per million tokens
KeyNamer = Callable[[str], str]  # raw API key → the fingerprint stats may show


class _Slot:
    """Everything one kind of request updates, resolved once.

    The same (provider, model, endpoint, key) then costs one dict lookup instead of four
    lookups, a fingerprint and a price search.
    """

    __slots__ = ("duration", "per_key", "price_in", "price_out", "shown_key", "statuses", "totals")

    def __init__(
        self,
        statuses: dict[int, int],
        duration: Histogram,
        totals: ModelTotals | None,
        per_key: KeyTotals | None,
        prices: tuple[float, float],
        shown_key: str,
    ) -> None:
        self.statuses = statuses
        self.duration = duration
        self.totals = totals
        self.per_key = per_key
        self.price_in, self.price_out = prices
        self.shown_key = shown_key


class Stats:
    """Request counters, per-model totals and latency histograms, and the emit-error histogram."""

    def __init__(self) -> None:
        # Gauges of what is in flight now: a reset must not touch them, or the requests
        # still running would drive them below zero when they end.
        self.active_streams = 0
        self.active_requests = 0
        # Worker processes these aggregates cover (more than one once merged).
        self.workers = 1
        # Workers that died without shutting down and were replaced (known once merged).
        self.worker_restarts = 0
        # Live values the hub copies in before sharing (gauges, and the sinks' own counters).
        self.running = 0
        self.waiting = 0
        self.sinks: dict[str, list[int]] = {}  # sink name → [sent, dropped]
        # With several workers: the reset epoch these counts belong to (``SharedStats``). Resets
        # are matched by epoch, never by comparing wall-clock times, which a clock step breaks.
        self.epoch = 0.0
        self.reset()

    def reset(self) -> None:
        """Start counting afresh (counters and histograms; the in-flight gauges stay)."""
        self.since = time.time()
        self.emit_error = EmitErrorStats()
        self.loop_lag = Histogram(PRECISION_EDGES)
        # Status counts and one duration histogram per (provider, model, endpoint): a request
        # is observed once; per-endpoint and per-model views are merged from these when read.
        self.statuses: dict[RouteKey, dict[int, int]] = {}
        self.durations: dict[RouteKey, Histogram] = {}
        self._slots: dict[tuple[str, str, str, str], _Slot] = {}
        self.models: dict[tuple[str, str], ModelTotals] = {}
        self.keys: dict[tuple[str, str, str], KeyTotals] = {}
        self.errors: Counter[tuple[str, str]] = Counter()
        self.chaos: Counter[str] = Counter()
        self.rate_limits: Counter[str] = Counter()
        self.auth_failures: Counter[str] = Counter()

    def record_emit_error(self, error_s: float) -> None:
        """Engine hook (``TimingObserver``): one token's emit-time error in seconds."""
        self.emit_error.record_emit_error(error_s)

    def record_emit_errors(self, errors: list[float]) -> None:
        """Engine hook (``TimingObserver``): several tokens' emit-time errors (a stream's, at its end)."""
        self.emit_error.record_emit_errors(errors)

    @property
    def requests(self) -> dict[RequestKey, int]:
        """Request counts by (provider, model, endpoint, status)."""
        return {(*route, status): c for route, counts in self.statuses.items() for status, c in counts.items()}

    def record_request(self, provider: str, endpoint: str, status: int, duration_s: float) -> None:
        """Count a request that has no record (CORS preflights)."""
        counts = self._statuses((provider, NO_MODEL, endpoint))
        counts[status] = counts.get(status, 0) + 1
        self._duration((provider, NO_MODEL, endpoint)).observe(duration_s)

    def _statuses(self, route: RouteKey) -> dict[int, int]:
        counts = self.statuses.get(route)
        if counts is None:
            counts = self.statuses[route] = {}
        return counts

    def _duration(self, route: RouteKey) -> Histogram:
        hist = self.durations.get(route)
        if hist is None:
            hist = self.durations[route] = Histogram(DURATION_EDGES)
        return hist

    def _slot(self, rec: RequestRecord, prices: Prices, key_of: KeyNamer) -> _Slot:
        """Resolve (and remember) what requests like ``rec`` update."""
        provider, endpoint = rec.provider, rec.endpoint
        model = rec.model or NO_MODEL
        if rec.model and (provider, model) not in self.models and len(self.models) >= MAX_MODELS:
            model = OTHER
        route = (provider, model, endpoint)
        totals: ModelTotals | None = None
        per_key: KeyTotals | None = None
        shown_key = key_of(rec.api_key) if rec.api_key else ""
        if rec.model:
            totals = self.models.get((provider, model))
            if totals is None:
                totals = self.models[(provider, model)] = ModelTotals()
            if shown_key and (provider, model, shown_key) not in self.keys and len(self.keys) >= MAX_KEYS:
                shown_key = OTHER
            if shown_key:
                per_key = self.keys.get((provider, model, shown_key))
                if per_key is None:
                    per_key = self.keys[(provider, model, shown_key)] = KeyTotals()
        slot = _Slot(
            self._statuses(route),
            self._duration(route),
            totals,
            per_key,
            prices(model) if rec.model else (0.0, 0.0),
            shown_key,
        )
        if len(self._slots) >= _MAX_SLOTS:  # model ids and keys come from callers: stay bounded
            self._slots.clear()
        self._slots[(provider, rec.model, endpoint, rec.api_key)] = slot
        return slot

    def record(self, rec: RequestRecord, duration_s: float, prices: Prices, key_of: KeyNamer) -> tuple[int, float, str]:
        """Fold one finished request in; its (output tokens, cost in dollars, shown key).

        Output tokens: all of a successful response's; for a stream cut short, one per
        released step (a lower bound with several choices); none for an error before the
        first token. Cost = (input tokens × input price + output tokens × output price) / 10⁶,
        input counted only for answered requests.
        """
        slot = self._slots.get((rec.provider, rec.model, rec.endpoint, rec.api_key))
        if slot is None:
            slot = self._slot(rec, prices, key_of)
        status = rec.status
        statuses = slot.statuses
        statuses[status] = statuses.get(status, 0) + 1
        # Histogram.observe, inlined: this runs once per request.
        duration = slot.duration
        duration.counts[bisect_left(duration.edges, duration_s)] += 1
        duration.count += 1
        duration.sum += duration_s
        if duration_s > duration.max:  # noqa: PLR1730 (a comparison costs less than a max() call)
            duration.max = duration_s
        if rec.error_type:
            self._count_causes(rec)
        elif rec.chaos:
            self.chaos[rec.chaos] += 1  # a latency or stall injection that did not fail the request
        totals = slot.totals
        if totals is None:
            return 0, 0.0, slot.shown_key
        broken = rec.broken
        if status < 400:
            prompt = rec.prompt_tokens
            output = rec.completion_tokens if not broken else _released(rec)
        else:
            prompt = 0
            output = _released(rec) if rec.first_token else 0
        cost = (prompt * slot.price_in + output * slot.price_out) / 1_000_000
        totals.requests += 1
        totals.input_tokens += prompt
        totals.output_tokens += output
        totals.cost += cost
        totals.chunks += rec.chunks
        failed = status >= 400 or broken
        if failed:
            totals.errors += 1
        if rec.first_token:
            totals.ttft.observe(rec.first_token - rec.started)
            totals.itl.observe_many(rec.gaps)
        per_key = slot.per_key
        if per_key is not None:
            per_key.requests += 1
            per_key.errors += failed
            per_key.input_tokens += prompt
            per_key.output_tokens += output
            per_key.cost += cost
        return output, cost, slot.shown_key

    def _count_causes(self, rec: RequestRecord) -> None:
        """The labelled counters of a failed request: error type, and what caused it.

        Errors of the simulator's own endpoints (an admin 403, a probe's 404) are not API
        errors: they show in the request counts and the auth failures, not in ``errors``.
        """
        if not rec.quiet:
            self.errors[(rec.provider, rec.error_type)] += 1
        if rec.chaos:
            self.chaos[rec.chaos] += 1
        if rec.rate_limited:
            self.rate_limits[rec.rate_limited] += 1
        if rec.auth_failure:
            self.auth_failures[rec.auth_failure] += 1

    def endpoint_durations(self) -> dict[tuple[str, str], Histogram]:
        """Request durations per (provider, endpoint), every model folded together."""
        out: dict[tuple[str, str], Histogram] = {}
        for (provider, _, endpoint), hist in self.durations.items():
            merged = out.get((provider, endpoint))
            if merged is None:
                merged = out[(provider, endpoint)] = Histogram(DURATION_EDGES)
            merged.merge_data(hist.to_data())
        return out

    def model_durations(self) -> dict[tuple[str, str], Histogram]:
        """End-to-end durations per (provider, model) of requests that named a model."""
        out: dict[tuple[str, str], Histogram] = {}
        for (provider, model, _), hist in self.durations.items():
            if model == NO_MODEL:
                continue
            merged = out.get((provider, model))
            if merged is None:
                merged = out[(provider, model)] = Histogram(DURATION_EDGES)
            merged.merge_data(hist.to_data())
        return out

    # -- merging (several workers) -----------------------------------------------------------

    def to_data(self) -> dict[str, Any]:
        """Everything as plain data another worker can merge (JSON-ready)."""
        return {
            "since": self.since,
            "epoch": self.epoch,
            "active_requests": self.active_requests,
            "active_streams": self.active_streams,
            "running": self.running,
            "waiting": self.waiting,
            "sinks": self.sinks,
            "requests": [[*k, c] for k, c in self.requests.items()],
            "durations": [[p, m, e, b.to_data()] for (p, m, e), b in self.durations.items()],
            "models": [[p, m, t.to_data()] for (p, m), t in self.models.items()],
            "keys": [[p, m, k, [getattr(t, f) for f in _KEY_FIELDS]] for (p, m, k), t in self.keys.items()],
            "errors": [[p, e, c] for (p, e), c in self.errors.items()],
            "chaos": dict(self.chaos),
            "rate_limits": dict(self.rate_limits),
            "auth_failures": dict(self.auth_failures),
            "emit_late": self.emit_error.late.to_data(),
            "emit_early": self.emit_error.early.to_data(),
            "loop_lag": self.loop_lag.to_data(),
        }

    def merge_data(self, data: dict[str, Any]) -> None:
        """Add another worker's ``to_data`` (its in-flight gauges too: they are summed)."""
        self.since = min(self.since, data["since"])
        self.active_requests += data["active_requests"]
        self.active_streams += data["active_streams"]
        self.running += data.get("running", 0)
        self.waiting += data.get("waiting", 0)
        for name, (sent, dropped) in data.get("sinks", {}).items():
            delivered = self.sinks.setdefault(name, [0, 0])
            delivered[0] += sent
            delivered[1] += dropped
        for p, m, e, s, c in data["requests"]:
            counts = self._statuses((p, m, e))
            counts[s] = counts.get(s, 0) + c
        for p, m, e, b in data["durations"]:
            self._duration((p, m, e)).merge_data(b)
        for p, m, t in data["models"]:
            totals = self.models.get((p, m))
            if totals is None:
                totals = self.models[(p, m)] = ModelTotals()
            totals.merge_data(t)
        for p, m, k, values in data["keys"]:
            per_key = self.keys.get((p, m, k))
            if per_key is None:
                per_key = self.keys[(p, m, k)] = KeyTotals()
            for field, value in zip(_KEY_FIELDS, values, strict=True):
                setattr(per_key, field, getattr(per_key, field) + value)
        for p, e, c in data["errors"]:
            self.errors[(p, e)] += c
        self.chaos.update(data["chaos"])
        self.rate_limits.update(data["rate_limits"])
        self.auth_failures.update(data["auth_failures"])
        self.emit_error.late.merge_data(data["emit_late"])
        self.emit_error.early.merge_data(data["emit_early"])
        self.loop_lag.merge_data(data["loop_lag"])

    # -- views -------------------------------------------------------------------------------

    def model_rows(self) -> list[dict[str, Any]]:
        """One row per (provider, model): counts, tokens, cost and latency percentiles (ms)."""
        rows = []
        durations = self.model_durations()
        for (provider, model), t in sorted(self.models.items()):
            rows.append(
                {
                    "provider": provider,
                    "model": model,
                    "requests": t.requests,
                    "errors": t.errors,
                    "input_tokens": t.input_tokens,
                    "output_tokens": t.output_tokens,
                    "stream_chunks": t.chunks,
                    "cost_dollars": round(t.cost, 6),
                    "duration_ms": durations.get((provider, model), Histogram(DURATION_EDGES)).summary_ms(),
                    "ttft_ms": t.ttft.summary_ms(),
                    "itl_ms": t.itl.summary_ms(),
                }
            )
        return rows

    def key_rows(self) -> list[dict[str, Any]]:
        """One row per (provider, model, masked key)."""
        return [
            {"provider": p, "model": m, "api_key": k, **{f: getattr(t, f) for f in _KEY_FIELDS}}
            for (p, m, k), t in sorted(self.keys.items())
        ]

    def snapshot(self) -> dict[str, Any]:
        """Everything as plain JSON-ready data (``/admin/stats``)."""
        endpoint_durations: dict[str, Histogram] = {}
        for (_, _, endpoint), hist in self.durations.items():
            merged = endpoint_durations.get(endpoint)
            if merged is None:
                merged = endpoint_durations[endpoint] = Histogram(DURATION_EDGES)
            merged.merge_data(hist.to_data())
        requests: Counter[tuple[str, str, int]] = Counter()
        for (p, _, e, s), c in self.requests.items():
            requests[(p, e, s)] += c
        return {
            "since": self.since,
            "workers": self.workers,
            "worker_restarts": self.worker_restarts,
            "active_requests": self.active_requests,
            "active_streams": self.active_streams,
            "requests": [
                {"provider": p, "endpoint": e, "status": s, "count": c} for (p, e, s), c in sorted(requests.items())
            ],
            "duration_ms": {e: h.summary_ms() for e, h in sorted(endpoint_durations.items())},
            "models": self.model_rows(),
            "errors": [{"provider": p, "error_type": e, "count": c} for (p, e), c in sorted(self.errors.items())],
            "chaos_injections": dict(sorted(self.chaos.items())),
            "rate_limit_rejections": dict(sorted(self.rate_limits.items())),
            "auth_failures": dict(sorted(self.auth_failures.items())),
            "emit_error": self.emit_error.snapshot(),
            "event_loop_lag_ms": self.loop_lag.summary_ms(),
        }


def _released(rec: RequestRecord) -> int:
    """Output tokens a stream released before it was cut (one per step; at most the plan's)."""
    return min(rec.completion_tokens, len(rec.gaps) + 1) if rec.first_token else 0
