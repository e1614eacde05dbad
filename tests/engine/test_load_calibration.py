"""Calibration and fidelity tooling of the load engine: loss, search, metrics, presets' shape, trace split."""

from __future__ import annotations

import dataclasses
import math
import random
from pathlib import Path

import pytest

from llm_simulator.cli.fidelity import sanity_sweep
from llm_simulator.cli.main import main
from llm_simulator.engine.load.calibration import Budget, measure, nelder_mead, point_loss, quantile
from llm_simulator.engine.load.fidelity import curve_checks, knee, post_knee_slope, sampled_measure, shape_checks
from llm_simulator.engine.load.presets import PRESETS, RECIPES
from llm_simulator.engine.load.traces import (
    CALIBRATION,
    H1,
    H2,
    LengthDist,
    TracePoint,
    default_traces_dir,
    inference_sim_points,
    nim_points,
)

REPO = Path(__file__).resolve().parents[2]
TRACES = default_traces_dir(REPO)
needs_traces = pytest.mark.skipif(not TRACES.is_dir(), reason=f"the trace set is not at {TRACES}")


def _probe(load: float, prompt: int = 300, output: int = 40, kind: str = "concurrency") -> TracePoint:
    return TracePoint(
        key="probe",
        group="probe",
        model="llama-2-7b",
        preset="vllm-h100-7b-tp1",
        split=CALIBRATION,
        kind=kind,
        load=load,
        duration_s=20.0,
        prompt=LengthDist.fixed(prompt),
        output=LengthDist.fixed(output),
        real={},
    )


@pytest.mark.parametrize("name", [r.name for r in RECIPES])
def test_every_preset_passes_the_shape_checks_in_a_small_sweep(name: str) -> None:
    loads = (1, 16, 1024)  # 1024: past every preset's capacity (the hosted ones have 4 replicas × 256 seats)
    sims = sanity_sweep(name, loads, rounds=3)
    failed = [c.name for c in shape_checks(loads, sims) if not c.passed]
    assert failed == []
    assert sims[-1]["ttft_mean"] > 3 * sims[0]["ttft_mean"]  # past its capacity, requests queue


def test_the_loss_is_zero_on_the_truth_and_grows_with_the_error() -> None:
    real = {"ttft_p50": 100.0, "tpot_mean": 10.0, "e2e_p50": 2000.0}
    assert point_loss(dict(real), real) == 0.0
    near = point_loss({**real, "tpot_mean": 11.0}, real)
    far = point_loss({**real, "tpot_mean": 15.0}, real)
    assert 0 < near < far
    # Statistics the trace lacks do not count; a replay that produced nothing is a large finite loss.
    assert point_loss({**real, "ttft_p99": 1e9}, real) == 0.0
    assert math.isfinite(point_loss({}, real)) and point_loss({}, real) > far


def test_nelder_mead_finds_the_minimum_of_a_quadratic() -> None:
    best, value, evals = nelder_mead(
        lambda x: (x[0] - 3) ** 2 + 2 * (x[1] + 1) ** 2, [0.0, 0.0], [1.0, 1.0], max_evals=400, tolerance=1e-12
    )
    assert best == pytest.approx([3.0, -1.0], abs=1e-3)
    assert value < 1e-6 and evals <= 400


def test_the_fit_recovers_a_known_front_end_delay_from_a_synthetic_trace() -> None:
    # "Real" data made by the engine itself with front_ms = 40; the search starts at 5 ms.
    # Without scheduling ahead: with it, two closed-loop clients arrive at step ends and any
    # front delay shorter than a step lands them in the same later step (TTFT flat in it).
    recipe = dataclasses.replace(next(r for r in RECIPES if r.name == "vllm-h100-7b-tp1"), schedule_ahead=0)
    point = _probe(2)
    budget = Budget(closed_rounds=4)
    truth = measure(dataclasses.replace(recipe, front_ms=40.0).build(), point, 1, budget)
    real = {k: truth[k] for k in ("ttft_mean", "tpot_mean", "e2e_p50")}

    def loss(x: list[float]) -> float:
        spec = dataclasses.replace(recipe, front_ms=math.exp(x[0])).build()
        return point_loss(measure(spec, point, 1, budget), real)

    best, value, _ = nelder_mead(loss, [math.log(5.0)], [0.5], max_evals=40, tolerance=1e-10)
    assert math.exp(best[0]) == pytest.approx(40.0, rel=0.05)
    assert value < 1e-3


def test_replays_are_deterministic() -> None:
    spec = PRESETS["vllm-h100-7b-tp1"]
    point = dataclasses.replace(_probe(5.0, kind="rate"), shared_prefix_tokens=100, prefix_groups=3)
    assert measure(spec, point, 3, Budget(10.0)) == measure(spec, point, 3, Budget(10.0))


def test_knee_slope_and_curve_checks_on_a_known_curve() -> None:
    loads = [1.0, 10.0, 20.0, 30.0]
    ttft = [100.0, 200.0, 1000.0, 2000.0]
    assert knee(loads, ttft) == pytest.approx(10 + 10 * (300 - 200) / 800)
    assert knee(loads, [100.0, 110.0, 120.0, 130.0]) == math.inf
    assert post_knee_slope(loads, ttft, 12.0) == pytest.approx(100.0)
    real = [{"ttft_mean": t, "tpot_mean": 10.0 + i, "throughput": 100.0 * (i + 1)} for i, t in enumerate(ttft)]
    checks = {c.name: c for c in curve_checks(loads, real, real)}
    assert all(c.passed for c in checks.values())
    slow = [{**p, "ttft_mean": p["ttft_mean"] * (1 if i == 0 else 3)} for i, p in enumerate(real)]
    assert not {c.name: c for c in curve_checks(loads, real, slow)}["knee (load)"].passed


def test_the_sampled_profile_ignores_load_and_fails_the_knee() -> None:
    # "Before": a sampled profile's TTFT does not depend on the concurrency at all.
    loads = [1.0, 50.0, 250.0]
    sims = [sampled_measure("vllm-h100-70b", _probe(c), 1, Budget()) for c in loads]
    assert knee(loads, [s["ttft_mean"] for s in sims]) == math.inf
    assert sims[-1]["throughput"] > 200 * sims[0]["throughput"]


def test_length_distribution_sampling_follows_its_quantiles() -> None:
    dist = LengthDist(((0.0, 10.0), (0.5, 100.0), (1.0, 110.0)))
    rng = random.Random(1)
    values = sorted(dist.sample(rng) for _ in range(4000))
    assert quantile(values, 0.5) == pytest.approx(100, abs=3)
    assert dist.mean == pytest.approx(0.5 * 55 + 0.5 * 105)


@needs_traces
def test_held_out_points_are_labelled_and_never_calibration() -> None:
    points = {p.key: p for p in inference_sim_points(TRACES) + nim_points(TRACES)}
    assert points["llama-2-70b/general/stage_1"].split == H1
    assert points["mixtral-8x7b/codegen/stage_1"].split == H1
    assert points["llama-2-7b/general/stage_1"].split == CALIBRATION
    assert points["codellama-34b/general/stage_1"].split == CALIBRATION
    assert points["nim-llama-3.3-70b/c1"].split == CALIBRATION
    assert {p.split for k, p in points.items() if k.startswith("nim") and not k.endswith("/c1")} == {H2}


def test_fidelity_command_is_registered_and_fails_cleanly_without_traces(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["fidelity", "--traces", str(tmp_path / "absent"), "--out", str(tmp_path / "f.md")])
    assert code != 0
    assert "no trace set" in capsys.readouterr().err


def test_docs_fidelity_md_reports_every_preset_and_both_held_out_sets() -> None:
    text = (REPO / "docs" / "fidelity.md").read_text(encoding="utf-8")
    for name in PRESETS:
        assert f"| {name} |" in text
    assert "| H1 |" in text and "H2" in text
    for svg in ("nim-ttft_mean.svg", "nim-tpot_mean.svg", "nim-throughput.svg"):
        assert (REPO / "docs" / "fidelity" / svg).is_file()


def test_a_prompt_pool_is_resent_verbatim_so_later_uses_are_prefix_hits() -> None:
    # inference-perf's shared_prefix cycles through groups × users fixed prompts.
    from llm_simulator.engine.load.calibration import poisson_workload

    point = dataclasses.replace(
        _probe(20.0, prompt=575, kind="rate"),
        shared_prefix_tokens=100,
        prefix_groups=9,
        prompts_per_group=5,
        prompt=LengthDist(((0.0, 560.0), (1.0, 590.0))),
    )
    arrivals = poisson_workload(point, 1, 30.0)
    assert len({a.hashes for a in arrivals}) == 45
    assert all(len(a.hashes) == (a.prompt_tokens - 1) // 16 for a in arrivals)
    # Prompts of one group share the system prompt's blocks, not the question's.
    by_prefix: dict[tuple[int, ...], set[tuple[int, ...]]] = {}
    for a in arrivals:
        by_prefix.setdefault(a.hashes[:6], set()).add(a.hashes)
    assert len(by_prefix) == 9 and all(len(v) == 5 for v in by_prefix.values())
    spec = PRESETS["vllm-h100-7b-tp1"]
    hits = measure(spec, point, 1, Budget(30.0))
    fresh = measure(spec, dataclasses.replace(point, prompts_per_group=0), 1, Budget(30.0))
    assert hits["ttft_p50"] < fresh["ttft_p50"]
