"""The fidelity report's seeds: statistics over the pooled requests of several seeded replays."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from llm_simulator.cli.main import main
from llm_simulator.engine.load.calibration import Budget, measure, measure_seeds, quantile, replay
from llm_simulator.engine.load.fidelity import sampled_measure
from llm_simulator.engine.load.presets import PRESETS
from llm_simulator.engine.load.seeded import SeededRunner, default_seeds
from llm_simulator.engine.load.traces import CALIBRATION, LengthDist, TracePoint

REPO = Path(__file__).resolve().parents[3]
PRESET = "vllm-h100-7b-tp1"
BUDGET = Budget(rate_duration_s=12.0, closed_rounds=4)


def _point(kind: str = "rate", load: float = 6.0) -> TracePoint:
    return TracePoint(
        key=f"probe/{kind}{load:g}",
        group="probe",
        model="llama-2-7b",
        preset=PRESET,
        split=CALIBRATION,
        kind=kind,
        load=load,
        duration_s=12.0,
        prompt=LengthDist(((0.0, 100.0), (0.5, 400.0), (1.0, 1500.0))),
        output=LengthDist(((0.0, 10.0), (0.5, 60.0), (1.0, 200.0))),
        real={},
    )


def test_quantiles_are_taken_over_the_pooled_requests_of_every_seed() -> None:
    point = _point()
    spec = PRESETS[PRESET]
    runs = [replay(spec, point, seed, BUDGET) for seed in (3, 4, 5)]
    pooled = [r for run in runs for r in run.results if r.outcome == "ok"]
    ttft = sorted(r.ttft_ms for r in pooled)
    e2e = sorted(r.e2e_ms for r in pooled)
    stats = measure_seeds(spec, point, (3, 4, 5), BUDGET)
    assert stats["completed"] == len(pooled) == sum(measure(spec, point, s, BUDGET)["completed"] for s in (3, 4, 5))
    assert stats["ttft_p99"] == quantile(ttft, 0.99)
    assert stats["e2e_p90"] == quantile(e2e, 0.9)
    assert stats["ttft_mean"] == pytest.approx(sum(ttft) / len(ttft))
    # Pooling is not averaging: the pooled p99 is in general none of the per-seed means of p99.
    per_seed = [measure(spec, point, s, BUDGET)["ttft_p99"] for s in (3, 4, 5)]
    assert min(per_seed) <= stats["ttft_p99"] <= max(per_seed)
    assert len({*per_seed}) == 3  # the seeds differ, so the pooling has something to do


def test_one_seed_pooled_is_exactly_the_single_replay() -> None:
    for point in (_point(), _point("concurrency", 8.0)):
        assert measure_seeds(PRESETS[PRESET], point, (11,), BUDGET) == measure(PRESETS[PRESET], point, 11, BUDGET)


def test_a_closed_loop_pools_its_steady_state_and_keeps_littles_law() -> None:
    point = _point("concurrency", 8.0)
    stats = measure_seeds(PRESETS[PRESET], point, (1, 2), BUDGET)
    # Each seed keeps rounds × c minus the first 2c and the last c requests.
    assert stats["completed"] == 2 * (BUDGET.closed_rounds - 3) * 8
    assert stats["throughput"] == pytest.approx(8 * stats["mean_output"] / (stats["e2e_mean"] / 1000.0))


def test_the_runner_is_deterministic_for_a_seed_list_whatever_its_workers() -> None:
    jobs = [(PRESET, _point(), BUDGET), (PRESET, _point("concurrency", 4.0), BUDGET)]
    serial = SeededRunner((7, 8), workers=1).measure(jobs)
    assert serial == SeededRunner((7, 8), workers=2).measure(jobs)
    assert serial == SeededRunner((7, 8), workers=1).measure(jobs)
    assert serial[0] == measure_seeds(PRESETS[PRESET], _point(), (7, 8), BUDGET)
    # A different seed list is a different sample.
    assert SeededRunner((7, 9)).measure(jobs[:1])[0]["ttft_p99"] != serial[0]["ttft_p99"]


def test_default_seeds_start_at_the_reports_old_seed_and_refuse_none() -> None:
    assert default_seeds(3) == (7, 8, 9)
    assert default_seeds(1) == (7,)
    with pytest.raises(ValueError, match="at least one seed"):
        default_seeds(0)


def test_the_before_profile_pools_its_seeds_too() -> None:
    point = dataclasses.replace(_point(), duration_s=12.0)
    one = sampled_measure("vllm-h100-70b", point, 1, BUDGET)
    assert sampled_measure("vllm-h100-70b", point, (1,), BUDGET) == one
    both = sampled_measure("vllm-h100-70b", point, (1, 2), BUDGET)
    two = sampled_measure("vllm-h100-70b", point, 2, BUDGET)
    assert both != one and both != two
    assert min(one["ttft_p50"], two["ttft_p50"]) <= both["ttft_p50"] <= max(one["ttft_p50"], two["ttft_p50"])
    jobs = [("vllm-h100-70b", point, BUDGET), ("vllm-h100-7b", point, BUDGET)]
    assert SeededRunner((1, 2), workers=2).sampled(jobs)[0] == both
    assert SeededRunner((1, 2), workers=2).sampled(jobs) == SeededRunner((1, 2)).sampled(jobs)


@pytest.mark.parametrize("value", ["0", "-2", "three"])
def test_the_fidelity_command_refuses_a_bad_seed_count(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fidelity", "--seeds", value]) == 2  # a usage error, before any replay
    assert "expected a positive whole number" in capsys.readouterr().err


def test_docs_fidelity_md_lists_its_seeds_and_says_it_pools_them() -> None:
    text = (REPO / "docs" / "fidelity.md").read_text(encoding="utf-8")
    assert "seeds 7, 8, 9" in text
    assert "POOLED requests of all seeds" in text
