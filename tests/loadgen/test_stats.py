"""Exact percentiles and the run summary."""

from __future__ import annotations

import random
import statistics

import pytest

from llm_simulator.infra.percentile import percentile
from llm_simulator.loadgen.client import RequestResult
from llm_simulator.loadgen.stats import (
    ClientOverhead,
    OpenLoopInfo,
    RunOutcome,
    distribution,
    flat_metrics,
    summarize,
    tpot,
)


def test_percentile_linear_interpolation() -> None:
    xs = [1.0, 2.0, 3.0, 4.0]
    assert percentile(xs, 0) == 1.0
    assert percentile(xs, 100) == 4.0
    assert percentile(xs, 50) == 2.5
    assert percentile(xs, 90) == pytest.approx(3.7)
    assert percentile([5.0], 99) == 5.0


def test_percentile_matches_numpy_linear_method_via_statistics() -> None:
    # statistics.quantiles(method="inclusive") is the same type-7 estimator.
    rng = random.Random(3)
    xs = sorted(rng.expovariate(1.0) for _ in range(1001))
    cuts = statistics.quantiles(xs, n=100, method="inclusive")
    for p in (1, 50, 90, 95, 99):
        assert percentile(xs, p) == pytest.approx(cuts[p - 1])


def test_percentile_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="empty"):
        percentile([], 50)
    with pytest.raises(ValueError, match="outside"):
        percentile([1.0], 101)


def test_distribution_in_ms() -> None:
    dist = distribution([0.003, 0.001, 0.002])
    assert dist is not None
    assert (dist.count, dist.min, dist.p50, dist.max) == (3, 1.0, 2.0, 3.0)
    assert dist.mean == pytest.approx(2.0)
    assert distribution([]) is None


def _result(
    start: float, ttft: float | None, e2e: float, tokens: int, error: str | None = None, status: int = 200
) -> RequestResult:
    return RequestResult(
        start=start,
        status=status,
        ttft=ttft,
        e2e=e2e,
        itls=[0.01] * max(tokens - 1, 0) if ttft is not None else [],
        output_tokens=tokens,
        token_source="usage",
        error=error,
    )


def test_tpot() -> None:
    assert tpot(_result(0, 0.1, 1.1, 11)) == pytest.approx(0.1)
    assert tpot(_result(0, None, 1.0, 11)) is None
    assert tpot(_result(0, 0.1, 1.0, 1)) is None


def test_summarize_counts_errors_and_throughput() -> None:
    results = [
        _result(0.0, 0.1, 0.5, 10),
        _result(0.1, 0.2, 0.6, 10),
        _result(0.2, None, 0.05, 0, error="server_error", status=500),
        _result(0.3, None, 0.01, 0, error="connect_error", status=0),
    ]
    outcome = RunOutcome(
        results=results,
        duration_s=2.0,
        overhead=ClientOverhead(cpu_s=0.002, wall_s=2.0, loop_lag_s=[0.0001, 0.0002], event_loop="asyncio"),
        open_loop=OpenLoopInfo(
            rate=2.0,
            max_in_flight=4,
            scheduled=4,
            blocked_by_cap=0,
            late=1,
            late_threshold_s=0.01,
            schedule_lags_s=[0.0, 0.0, 0.0, 0.02],
        ),
    )
    s = summarize(outcome, {"mode": "open"})
    assert s["requests"] == {"total": 4, "succeeded": 2, "failed": 2, "success_rate": 0.5, "warmup": 0}
    assert s["throughput"]["requests_per_s"] == 2.0
    assert s["throughput"]["output_tokens_per_s"] == 10.0
    assert s["errors"] == {"by_status": {"0": 1, "500": 1}, "by_kind": {"connect_error": 1, "server_error": 1}}
    assert s["latency_ms"]["ttft"]["count"] == 2
    assert s["latency_ms"]["itl"]["count"] == 18
    assert s["latency_ms"]["e2e"]["max"] == pytest.approx(600.0)
    assert s["open_loop"]["late"] == 1
    assert s["open_loop"]["achieved_rate"] == 2.0
    client = s["client"]
    assert client["cpu_per_request_us"] == pytest.approx(500.0)
    assert client["cpu_utilization"] == pytest.approx(0.001)
    assert client["bottleneck_warning"] is None
    flat = flat_metrics(s)
    assert flat["requests"] == 4
    assert flat["ttft_p50_ms"] == pytest.approx(150.0)
    assert flat["open_loop_late"] == 1


def test_bottleneck_warning() -> None:
    outcome = RunOutcome(
        results=[_result(0.0, 0.1, 0.5, 10)],
        duration_s=1.0,
        overhead=ClientOverhead(cpu_s=0.95, wall_s=1.0, loop_lag_s=[0.05] * 10, event_loop="asyncio"),
    )
    warning = summarize(outcome, {})["client"]["bottleneck_warning"]
    assert "CPU at 95%" in warning
    assert "event-loop lag" in warning
