"""Workload builders of the virtual-time engine (engine/load/workload.py): pure and seeded."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from llm_simulator.engine.load.virtual import closed_loop
from llm_simulator.engine.load.workload import (
    LengthSpec,
    RequestShape,
    TraceRow,
    WorkloadError,
    closed_loop_requests,
    poisson_arrivals,
    prefix_hashes,
    read_trace,
    trace_arrivals,
)


def test_length_spec_parses_fixed_and_ranges() -> None:
    assert LengthSpec.parse("500") == LengthSpec(500, 500)
    assert LengthSpec.parse(" 200:2000 ") == LengthSpec(200, 2000)
    assert str(LengthSpec(200, 2000)) == "200:2000" and str(LengthSpec(7, 7)) == "7"
    for bad in ("0", "a", "3:2", "1:2:3", "", "-4"):
        with pytest.raises(WorkloadError):
            LengthSpec.parse(bad)


def test_length_spec_samples_inside_its_range_and_fixed_draws_nothing() -> None:
    rng = random.Random(1)
    values = {LengthSpec(3, 6).sample(rng) for _ in range(200)}
    assert values == {3, 4, 5, 6}
    state = rng.getstate()
    assert LengthSpec(9, 9).sample(rng) == 9
    assert rng.getstate() == state


def test_poisson_arrivals_are_sorted_seeded_and_near_the_rate() -> None:
    shape = RequestShape(LengthSpec(10, 20), LengthSpec(5, 5))
    first = list(poisson_arrivals(50.0, 20.0, shape, random.Random(3)))
    again = list(poisson_arrivals(50.0, 20.0, shape, random.Random(3)))
    assert first == again
    times = [a.time_ms for a in first]
    assert times == sorted(times) and times[-1] <= 20_000.0
    assert 850 < len(first) < 1150  # 1000 expected; ±4.7 σ
    assert all(10 <= a.prompt_tokens <= 20 and a.output_tokens == 5 for a in first)


@pytest.mark.parametrize(("rate", "duration"), [(0.0, 1.0), (-1.0, 1.0), (float("inf"), 1.0), (1.0, 0.0)])
def test_poisson_arrivals_refuse_bad_rates_and_durations(rate: float, duration: float) -> None:
    shape = RequestShape(LengthSpec(1, 1), LengthSpec(1, 1))
    with pytest.raises(WorkloadError):
        list(poisson_arrivals(rate, duration, shape, random.Random(0)))


def test_shared_prefix_gives_the_same_hashes_for_its_full_blocks() -> None:
    assert prefix_hashes(100, 1000, 16) == prefix_hashes(100, 50, 16)[:3] + prefix_hashes(100, 1000, 16)[3:]
    assert len(prefix_hashes(100, 1000, 16)) == 6  # 100 tokens: six full blocks of 16
    assert len(prefix_hashes(100, 40, 16)) == 2  # a prompt shorter than the prefix shares what it has
    assert prefix_hashes(0, 1000, 16) == ()
    assert prefix_hashes(64, 64, 16, group=1) != prefix_hashes(64, 64, 16, group=0)
    shape = RequestShape(LengthSpec(300, 300), LengthSpec(1, 1), shared_prefix_tokens=64)
    a, b = shape.arrival(0.0, random.Random(1)), shape.arrival(1.0, random.Random(2))
    assert a.hashes == b.hashes and len(a.hashes) == 4


def test_closed_loop_requests_stop_after_the_count() -> None:
    shape = RequestShape(LengthSpec(8, 8), LengthSpec(2, 2))
    first, after = closed_loop(3, closed_loop_requests(5, shape, random.Random(0)))
    assert len(first) == 3 and all(a.time_ms == 0.0 for a in first)
    made = [after(None, 10.0 * i) for i in range(4)]  # type: ignore[arg-type]
    assert [a is not None for a in made] == [True, True, False, False]


def test_read_trace_sorts_makes_times_relative_and_keeps_seven_decimals(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text(
        "TIMESTAMP,ContextTokens,GeneratedTokens\n"
        "2023-11-16 18:17:04.0319600,3180,8\n"
        "2023-11-16 18:17:03.9799600,4808,10\n"
        "\n"
        "2023-11-16 18:18:03.9799601,5,0\n",
        encoding="utf-8",
    )
    rows = read_trace(path)
    assert [(r.prompt_tokens, r.output_tokens) for r in rows] == [(4808, 10), (3180, 8), (5, 0)]
    assert rows[0].time_s == 0.0
    assert rows[1].time_s == pytest.approx(0.052, abs=1e-9)
    assert rows[2].time_s == pytest.approx(60.0000001, abs=1e-6)


def test_read_trace_accepts_columns_in_any_order(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("GeneratedTokens,TIMESTAMP,ContextTokens\n7,12.5,30\n", encoding="utf-8")
    assert read_trace(path) == [TraceRow(0.0, 30, 7)]


def test_trace_arrivals_speed_up_bound_and_floor_lengths() -> None:
    rows = [TraceRow(float(i), 0 if i == 0 else 100, 0 if i == 1 else 5) for i in range(10)]
    arrivals = trace_arrivals(rows, speedup=2.0, max_requests=6, duration_s=2.0)
    assert [a.time_ms for a in arrivals] == [0.0, 500.0, 1000.0, 1500.0, 2000.0]
    assert arrivals[0].prompt_tokens == 1 and arrivals[1].output_tokens == 1
    assert len(trace_arrivals(rows, max_requests=3)) == 3
    with pytest.raises(WorkloadError):
        trace_arrivals(rows, speedup=0.0)
