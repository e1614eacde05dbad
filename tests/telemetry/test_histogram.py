"""The histogram with fine log edges behind /admin/stats emit_error."""

from __future__ import annotations

import random

import pytest

from llm_simulator.telemetry.histogram import FINE_EDGES, Histogram


def test_percentiles_within_bucket_resolution() -> None:
    hist = Histogram(FINE_EDGES)
    rng = random.Random(1)
    values = sorted(rng.uniform(0.001, 0.1) for _ in range(10_000))
    for v in values:
        hist.observe(v)
    assert hist.count == 10_000
    assert hist.quantile(0.5) == pytest.approx(values[5_000], rel=0.13)
    assert hist.quantile(0.99) == pytest.approx(values[9_900], rel=0.13)


def test_percentile_never_exceeds_max_and_empty_is_zero() -> None:
    hist = Histogram(FINE_EDGES)
    assert hist.quantile(0.5) == 0.0
    hist.observe(1.0266)
    assert hist.quantile(0.5) <= hist.max == 1.0266
    summary = hist.summary_ms(digits=4)
    assert summary["p99"] <= summary["max"]
