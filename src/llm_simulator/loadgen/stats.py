"""Exact percentiles and the run summary built from per-request results.

Percentiles are computed from *all* samples, sorted — no sketches or histograms — with
linear interpolation between the two closest ranks (Hyndman & Fan type 7, NumPy's default
``linear`` method):

    h = (n − 1) · p / 100,  q = x[⌊h⌋] + (h − ⌊h⌋) · (x[⌊h⌋ + 1] − x[⌊h⌋])

so p0 is the minimum, p100 the maximum and p50 of an even-sized sample the mean of the two
middle values. Keeping every sample costs 8 bytes per sample, which is nothing next to the
HTTP work per request.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from llm_simulator.infra.percentile import percentile
from llm_simulator.loadgen.client import RequestResult

PERCENTILES: tuple[float, ...] = (50.0, 90.0, 95.0, 99.0)


@dataclass(frozen=True)
class Distribution:
    """Summary of one latency metric, in milliseconds."""

    count: int
    mean: float
    min: float
    p50: float
    p90: float
    p95: float
    p99: float
    max: float

    def as_dict(self) -> dict[str, float]:
        """The fields as a plain dict (for JSON)."""
        return asdict(self)


def distribution(samples_s: Sequence[float]) -> Distribution | None:
    """Summarize samples given in seconds as milliseconds; None for no samples."""
    if not samples_s:
        return None
    ordered = sorted(s * 1000.0 for s in samples_s)
    p50, p90, p95, p99 = (percentile(ordered, p) for p in PERCENTILES)
    return Distribution(
        count=len(ordered),
        mean=math.fsum(ordered) / len(ordered),
        min=ordered[0],
        p50=p50,
        p90=p90,
        p95=p95,
        p99=p99,
        max=ordered[-1],
    )


@dataclass
class ClientOverhead:
    """What the load generator itself cost during the measured run.

    ``cpu_s`` is process CPU time (user + system, ``time.process_time``) over the run;
    ``loop_lag_s`` holds the event-loop lag samples of the probe task (how late a timer
    fired versus when it was due).
    """

    cpu_s: float
    wall_s: float
    loop_lag_s: list[float]
    event_loop: str


@dataclass
class OpenLoopInfo:
    """Open-loop bookkeeping: the schedule and how well it was kept."""

    rate: float
    max_in_flight: int
    scheduled: int
    blocked_by_cap: int
    late: int
    late_threshold_s: float
    schedule_lags_s: list[float] = field(default_factory=list)
    # Arrivals still waiting for a free slot when --duration ran out (not sent).
    dropped_at_end: int = 0


@dataclass
class RunOutcome:
    """Everything a run produced: per-request results, wall time and the generator's cost."""

    results: list[RequestResult]
    duration_s: float
    overhead: ClientOverhead
    open_loop: OpenLoopInfo | None = None
    warmup: int = 0


def _dist_dict(samples: Sequence[float]) -> dict[str, float] | None:
    dist = distribution(samples)
    return dist.as_dict() if dist is not None else None


def tpot(result: RequestResult) -> float | None:
    """Time per output token after the first: ``(e2e − ttft) / (tokens − 1)``.

    Defined only for successful streams with a TTFT and at least two output tokens; it
    spreads the decode time over the tokens, whereas ITL is per content event.
    """
    if result.ttft is None or result.output_tokens < 2 or not result.ok:
        return None
    return (result.e2e - result.ttft) / (result.output_tokens - 1)


# The generator is flagged as a possible bottleneck above these (see docs/benchmark.md).
CPU_BUSY_FRACTION = 0.8
LOOP_LAG_P99_LIMIT_MS = 10.0


def summarize(outcome: RunOutcome, parameters: dict[str, Any]) -> dict[str, Any]:
    """The full run summary as JSON-ready data (latencies in ms, rates per second).

    Latency distributions use successful requests only; errors are counted by HTTP status
    (0 = no response) and by kind. Throughputs divide by the measured wall time, from the
    first send to the last completion.
    """
    results = outcome.results
    ok = [r for r in results if r.ok]
    duration = outcome.duration_s
    total_tokens = sum(r.output_tokens for r in ok)
    by_status = Counter(str(r.status) for r in results if not r.ok)
    by_kind = Counter(r.error for r in results if r.error is not None)
    sources = Counter(r.token_source for r in ok)
    itls = [gap for r in ok for gap in r.itls]
    tpots = [t for r in ok if (t := tpot(r)) is not None]
    summary: dict[str, Any] = {
        "parameters": parameters,
        "requests": {
            "total": len(results),
            "succeeded": len(ok),
            "failed": len(results) - len(ok),
            "success_rate": len(ok) / len(results) if results else 0.0,
            "warmup": outcome.warmup,
        },
        "duration_s": duration,
        "throughput": {
            "requests_per_s": _rate(len(results), duration),
            "successful_requests_per_s": _rate(len(ok), duration),
            "output_tokens_per_s": _rate(total_tokens, duration),
        },
        "output_tokens": {
            "total": total_tokens,
            "mean_per_request": total_tokens / len(ok) if ok else 0.0,
            "source": dict(sorted(sources.items())),
        },
        "latency_ms": {
            "ttft": _dist_dict([r.ttft for r in ok if r.ttft is not None]),
            "itl": _dist_dict(itls),
            "tpot": _dist_dict(tpots),
            "e2e": _dist_dict([r.e2e for r in ok]),
        },
        "errors": {"by_status": dict(sorted(by_status.items())), "by_kind": dict(sorted(by_kind.items()))},
        "open_loop": _open_loop(outcome.open_loop, len(results), duration),
        "client": client_overhead(outcome.overhead, len(results)),
    }
    return summary


def _rate(count: float, duration: float) -> float:
    return count / duration if duration > 0 else 0.0


def _open_loop(info: OpenLoopInfo | None, sent: int, duration: float) -> dict[str, Any] | None:
    if info is None:
        return None
    return {
        "target_rate": info.rate,
        "achieved_rate": _rate(sent, duration),
        "max_in_flight": info.max_in_flight,
        "scheduled": info.scheduled,
        "blocked_by_cap": info.blocked_by_cap,
        "dropped_at_end": info.dropped_at_end,
        "late": info.late,
        "late_threshold_ms": info.late_threshold_s * 1000.0,
        "schedule_lag_ms": _dist_dict(info.schedule_lags_s),
    }


def client_overhead(overhead: ClientOverhead, requests: int) -> dict[str, Any]:
    """The generator's own cost: CPU per request, CPU utilization and event-loop lag.

    ``cpu_per_request_us = cpu_s / requests · 10⁶``; ``cpu_utilization = cpu_s / wall_s``
    (1.0 = one core fully busy: the generator, a single-threaded asyncio program, cannot go
    faster). A warning is set when utilization exceeds 0.8 or the loop-lag p99 exceeds
    10 ms, i.e. when the numbers may describe the generator rather than the server.
    """
    utilization = overhead.cpu_s / overhead.wall_s if overhead.wall_s > 0 else 0.0
    lag = distribution(overhead.loop_lag_s)
    warnings: list[str] = []
    if utilization > CPU_BUSY_FRACTION:
        warnings.append(f"generator CPU at {utilization:.0%} of one core")
    if lag is not None and lag.p99 > LOOP_LAG_P99_LIMIT_MS:
        warnings.append(f"event-loop lag p99 {lag.p99:.1f} ms")
    return {
        "cpu_s": overhead.cpu_s,
        "cpu_per_request_us": overhead.cpu_s / requests * 1e6 if requests else 0.0,
        "cpu_utilization": utilization,
        "loop_lag_ms": lag.as_dict() if lag is not None else None,
        "event_loop": overhead.event_loop,
        "bottleneck_warning": (
            "the load generator may be the bottleneck: " + ", ".join(warnings) if warnings else None
        ),
    }


def flat_metrics(summary: dict[str, Any]) -> dict[str, float | int | None]:
    """The headline numbers of a summary as one flat dict (BENCH-1 ``metrics``)."""
    lat = summary["latency_ms"]
    client = summary["client"]
    metrics: dict[str, float | int | None] = {
        "requests": summary["requests"]["total"],
        "failed": summary["requests"]["failed"],
        "success_rate": summary["requests"]["success_rate"],
        "duration_s": summary["duration_s"],
        "requests_per_s": summary["throughput"]["requests_per_s"],
        "output_tokens_per_s": summary["throughput"]["output_tokens_per_s"],
    }
    for name in ("ttft", "itl", "e2e"):
        dist = lat[name]
        for stat in ("p50", "p90", "p99", "mean"):
            metrics[f"{name}_{stat}_ms"] = dist[stat] if dist is not None else None
    metrics["client_cpu_per_request_us"] = client["cpu_per_request_us"]
    metrics["client_cpu_utilization"] = client["cpu_utilization"]
    lag = client["loop_lag_ms"]
    metrics["client_loop_lag_p99_ms"] = lag["p99"] if lag is not None else None
    open_loop = summary["open_loop"]
    if open_loop is not None:
        metrics["open_loop_late"] = open_loop["late"]
    return metrics
