"""Prometheus-style histograms: recording, cumulative buckets, quantiles, merging."""

from __future__ import annotations

import itertools
import random

import pytest

from llm_simulator.telemetry.histogram import (
    DURATION_EDGES,
    FINE_EDGES,
    ITL_EDGES,
    PRECISION_EDGES,
    TTFT_EDGES,
    Histogram,
)


@pytest.mark.parametrize("edges", [TTFT_EDGES, ITL_EDGES, DURATION_EDGES, PRECISION_EDGES])
def test_edges_strictly_increase(edges: tuple[float, ...]) -> None:
    assert all(a < b for a, b in itertools.pairwise(edges))


def test_values_land_in_the_bucket_whose_upper_edge_holds_them() -> None:
    b = Histogram((0.1, 1.0))
    for value in (0.05, 0.1, 0.5, 1.0, 7.0):
        b.observe(value)
    # le=0.1 holds 0.05 and 0.1 (edges are inclusive, as Prometheus's le), le=1 adds two more.
    assert b.cumulative() == [("0.1", 2), ("1.0", 4), ("+Inf", 5)]
    assert b.count == 5
    assert b.sum == pytest.approx(8.65)
    assert b.max == 7.0


def test_quantiles_interpolate_inside_the_bucket_like_histogram_quantile() -> None:
    b = Histogram((1.0, 2.0, 4.0))
    for _ in range(50):
        b.observe(0.5)
    for _ in range(50):
        b.observe(1.5)
    # rank 75 of 100 is 25 into the (1, 2] bucket holding 50: 1 + 1 × 25/50.
    assert b.quantile(0.75) == pytest.approx(1.5)
    assert b.quantile(0.25) == pytest.approx(0.5)  # 25 of the 50 in (0, 1]
    assert b.quantile(1.0) == pytest.approx(1.5)  # never above the largest value seen


def test_quantiles_track_a_real_distribution_within_a_bucket_width() -> None:
    rng = random.Random(7)
    values = [rng.lognormvariate(-3.9, 0.4) for _ in range(20_000)]  # ~20 ms ITL
    b = Histogram(ITL_EDGES)
    b.observe_many(values)
    ordered = sorted(values)
    for q in (0.5, 0.9, 0.99):
        true = ordered[int(q * len(ordered)) - 1]
        estimate = b.quantile(q)
        edges = (0.0, *ITL_EDGES)
        width = next(hi - lo for lo, hi in itertools.pairwise(edges) if lo < true <= hi)
        assert abs(estimate - true) <= width


def test_overflow_bucket_answers_the_maximum() -> None:
    b = Histogram((1.0,))
    b.observe(30.0)
    assert b.quantile(0.99) == 30.0
    assert b.cumulative()[-1] == ("+Inf", 1)


def test_observe_many_matches_observe() -> None:
    values = [0.003, 0.02, 0.02, 0.4, 3.0]
    one, many = Histogram(ITL_EDGES), Histogram(ITL_EDGES)
    for v in values:
        one.observe(v)
    many.observe_many(values)
    many.observe_many([])
    assert one.to_data() == many.to_data()


def test_observe_many_matches_observe_on_fine_edges_edge_values_included() -> None:
    """Values exactly on an edge, below the first, above the last and spread over many buckets."""
    rng = random.Random(11)
    values = [*FINE_EDGES[::7], 0.0, 1e-7, 1e3, *(rng.lognormvariate(-6.0, 2.0) for _ in range(500))]
    one, many = Histogram(FINE_EDGES), Histogram(FINE_EDGES)
    for v in values:
        one.observe(v)
    many.observe_many(values[:100])
    many.observe_many(values[100:])
    assert (many.counts, many.count, many.max) == (one.counts, one.count, one.max)
    assert many.sum == pytest.approx(one.sum)  # added in another order: the last bits may differ


def test_merge_adds_counts_sums_and_keeps_the_max() -> None:
    a, b = Histogram(TTFT_EDGES), Histogram(TTFT_EDGES)
    a.observe(0.2)
    b.observe(0.3)
    b.observe(9.0)
    a.merge_data(b.to_data())
    assert (a.count, a.max) == (3, 9.0)
    assert a.sum == pytest.approx(9.5)
    assert a.cumulative()[-1] == ("+Inf", 3)


def test_merge_skips_data_with_another_layout() -> None:
    a = Histogram(TTFT_EDGES)
    other = Histogram((1.0,))
    other.observe(0.5)
    a.merge_data(other.to_data())
    assert a.count == 0


def test_summary_is_in_milliseconds() -> None:
    b = Histogram(ITL_EDGES)
    b.observe(0.02)
    summary = b.summary_ms()
    assert summary["count"] == 1
    assert summary["max"] == 20.0
    assert 17.5 <= summary["p50"] <= 20.0
