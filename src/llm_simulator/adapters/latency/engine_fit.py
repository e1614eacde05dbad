"""Fit a load-aware engine deployment to measured latency with load information.

``profile fit --engine`` turns a measurement (per load point: TTFT and E2E quantiles, mean
lengths, and the load it ran at: a concurrency or a request rate) into step-time
coefficients of a deployment that starts from a built-in preset. It reuses the calibration
machinery of the engine (``engine/load/calibration.py``): each measured load point becomes a
``TracePoint``; a candidate is scored by replaying that workload on the virtual engine
(``measure``) and summing the squared log errors of the statistics both sides have
(``point_loss``); ``nelder_mead`` minimises the sum over every point. Nothing here re-implements
the replay, the loss or the search.

What is fitted are the per-deployment anchors ``bench/calibrate.py`` fits per preset, on the
step-time model directly (what ``engine.deployments.<name>.step`` overrides):

- ``weights_ms`` — the memory-bound floor of a step, which sets the decode time per token;
- ``front_ms`` — arrival to queue, which sets the TTFT a lone request sees;
- ``jitter_sigma`` — the log-normal σ of a step's duration (bounded to ``JITTER_RANGE``);
- ``prefill_ms_per_token`` — only when the prompt lengths vary enough to tell it from
  ``front_ms`` (the load-dependent terms, KV reads and overlap, stay at the preset's values:
  one endpoint's measurements rarely span enough load to move them).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from llm_simulator.adapters.latency.measurement import Measurement, MeasurementError
from llm_simulator.engine.load.calibration import LOSS_WEIGHTS, Budget, measure, nelder_mead, point_loss
from llm_simulator.engine.load.deployment import DeploymentSpec
from llm_simulator.engine.load.presets import PRESETS
from llm_simulator.engine.load.traces import CALIBRATION, LengthDist, TracePoint

JITTER_RANGE = (0.002, 0.3)
# Prompt lengths must span this ratio (p90/p10) before the prefill cost is separable from front_ms.
PREFILL_SPAN = 1.5
# The p99s of one measurement are noisy (a handful of requests); they weigh little, as in calibration.
FIT_WEIGHTS = {k: w for k, w in LOSS_WEIGHTS.items() if k != "throughput"}
# Replays of the inner loop: long enough that the simulated quantiles settle, short enough to
# keep a fit to a minute or so on a loaded machine.
FIT_BUDGET = Budget(rate_duration_s=120.0, closed_rounds=24)


@dataclass(frozen=True)
class EngineFitOptions:
    """How to fit: the preset to start from, load the files lack, the search's size and seed."""

    preset: str = "vllm-h100-7b-tp1"
    # Load the files do not state: one value for every load point, or one per point in order.
    concurrency: tuple[float, ...] = ()
    rate: tuple[float, ...] = ()
    max_evals: int = 80
    seed: int = 0
    budget: Budget = FIT_BUDGET


@dataclass(frozen=True)
class EngineFitResult:
    """The fitted deployment, the step overrides to write, and how well it fits."""

    spec: DeploymentSpec
    step: dict[str, float]
    loss: float
    evaluations: int
    points: tuple[TracePoint, ...]
    simulated: tuple[dict[str, float], ...]
    notes: list[str] = field(default_factory=list)


def real_stats(m: Measurement) -> dict[str, float]:
    """The statistics of ``m`` the calibration loss compares (ms; keys of ``LOSS_WEIGHTS``).

    ``tpot_mean`` is the traces' decode speed: (mean E2E − mean TTFT) / (mean output − 1).
    """
    real: dict[str, float] = {}
    for name, metric in (("ttft", m.ttft), ("e2e", m.e2e)):
        if metric is None:
            continue
        for q, key in ((0.5, "p50"), (0.9, "p90"), (0.99, "p99")):
            if (value := metric.quantiles.get(q)) is not None and value > 0:
                real[f"{name}_{key}"] = value
    if m.ttft is not None and m.ttft.mean:
        real["ttft_mean"] = m.ttft.mean
    out = m.mean_output_tokens
    if m.ttft is not None and m.e2e is not None and m.ttft.mean and m.e2e.mean and out and out > 1:
        real["tpot_mean"] = (m.e2e.mean - m.ttft.mean) / (out - 1)
    return real


def _prompt_dist(m: Measurement) -> LengthDist:
    prompts = sorted(p for p, _ in m.prompt_ttft)
    if len(prompts) >= 10:
        n = len(prompts)
        pts = [(i / (n - 1), float(p)) for i, p in enumerate(prompts)]
        return LengthDist(tuple(pts))
    if m.mean_prompt_tokens:
        return LengthDist.fixed(max(1, round(m.mean_prompt_tokens)))
    raise MeasurementError(f"{m.source}: no prompt length in the measurement (engine fit needs one)")


def trace_point(m: Measurement, index: int, options: EngineFitOptions) -> TracePoint:
    """The load point ``m`` as the engine calibration replays it; raises when it lacks load or lengths."""
    load = dict(m.load)
    for key, given in (("concurrency", options.concurrency), ("rate", options.rate)):
        if given:
            load = {key: given[index] if len(given) > 1 else given[0]}
    if "concurrency" in load and load["concurrency"] >= 1:
        kind, value = "concurrency", float(round(load["concurrency"]))
    elif "rate" in load and load["rate"] > 0:
        kind, value = "rate", load["rate"]
    else:
        raise MeasurementError(
            f"{m.source}: no load information (a concurrency or a request rate) — pass --concurrency N or --rate R"
        )
    if not m.mean_output_tokens or m.mean_output_tokens < 2:
        raise MeasurementError(f"{m.source}: no output length of 2 tokens or more (engine fit needs one)")
    real = real_stats(m)
    if "tpot_mean" not in real or not any(k.startswith("ttft_") for k in real):
        raise MeasurementError(f"{m.source}: engine fit needs TTFT and end-to-end latency with output lengths")
    return TracePoint(
        key=f"{m.source}#{index}",
        group=m.source,
        model="",
        preset=options.preset,
        split=CALIBRATION,
        kind=kind,
        load=value,
        duration_s=0.0,
        prompt=_prompt_dist(m),
        output=LengthDist.fixed(round(m.mean_output_tokens)),
        real=real,
        warm=True,
        source=m.describe(),
    )


def _varied_prompts(points: Sequence[TracePoint]) -> bool:
    lows = [p.prompt.points[0][1] for p in points]
    highs = [p.prompt.points[-1][1] for p in points]
    means = [p.prompt.mean for p in points]
    span = max(max(highs) / max(min(lows), 1.0), max(means) / max(min(means), 1.0))
    return span >= PREFILL_SPAN


def _first_guess(base: DeploymentSpec, lightest: TracePoint, options: EngineFitOptions) -> dict[str, float]:
    """Anchors that put the lightest load point's decode time and median TTFT right (three passes).

    At light load a decode step costs about step_ms + weights_ms, so the decode-time error goes
    straight into weights_ms; the TTFT error there is mostly front-end delay. Starting the
    simplex here keeps it out of the local minima a discrete-event replay's loss has far away.
    """
    step = base.step
    for _ in range(3):
        sim = measure(dataclasses.replace(base, step=step), lightest, seed=options.seed, budget=options.budget)
        real = lightest.real
        weights, front = step.weights_ms, step.front_ms
        if sim.get("tpot_mean", 0) > 0:
            weights = max(0.05, weights + real["tpot_mean"] - sim["tpot_mean"])
        key = "ttft_p50" if "ttft_p50" in real else "ttft_mean"
        if key in real and sim.get(key, 0) > 0:
            front = max(0.5, front + real[key] - sim[key])
        step = dataclasses.replace(step, weights_ms=weights, front_ms=front)
    return {
        "weights_ms": step.weights_ms,
        "front_ms": step.front_ms,
        "jitter_sigma": step.jitter_sigma,
        "prefill_ms_per_token": step.prefill_ms_per_token,
    }


def fit_engine(measurements: Sequence[Measurement], options: EngineFitOptions | None = None) -> EngineFitResult:
    """Fit the anchors of ``options.preset`` to every load point of ``measurements`` (see the module doc).

    Coordinates are logs of the free coefficients (so each stays positive); the jitter is
    clamped to ``JITTER_RANGE``. The search is seeded and deterministic.
    """
    options = options or EngineFitOptions()
    base = PRESETS.get(options.preset)
    if base is None:
        raise MeasurementError(f"unknown preset {options.preset!r} (known: {', '.join(sorted(PRESETS))})")
    points = tuple(trace_point(m, i, options) for i, m in enumerate(measurements))
    if not points:
        raise MeasurementError("no load point to fit")
    free = ["weights_ms", "front_ms", "jitter_sigma"]
    if _varied_prompts(points):
        free.append("prefill_ms_per_token")
    start = _first_guess(base, min(points, key=lambda p: p.load), options)

    def spec_at(x: Sequence[float]) -> DeploymentSpec:
        values = {name: math.exp(max(-20.0, min(20.0, v))) for name, v in zip(free, x, strict=True)}
        values["jitter_sigma"] = min(max(values["jitter_sigma"], JITTER_RANGE[0]), JITTER_RANGE[1])
        return dataclasses.replace(base, step=dataclasses.replace(base.step, **values))

    def loss(x: list[float]) -> float:
        spec = spec_at(x)
        return sum(
            point_loss(measure(spec, p, seed=options.seed, budget=options.budget), p.real, FIT_WEIGHTS) for p in points
        )

    x0 = [math.log(max(start[name], 1e-6)) for name in free]
    best, value, evals = nelder_mead(loss, x0, [0.4] * len(free), max_evals=options.max_evals, tolerance=1e-5)
    spec = spec_at(best)
    spec = dataclasses.replace(
        spec, provenance=f"profile fit --engine from {len(points)} load point(s), loss {value:.4f}"
    )
    step = {name: round(float(getattr(spec.step, name)), 5) for name in free}
    simulated = tuple(measure(spec, p, seed=options.seed, budget=options.budget) for p in points)
    notes = [f"started from preset {options.preset}; fitted {', '.join(free)} in {evals} replays, loss {value:.4f}"]
    if "prefill_ms_per_token" not in free:
        notes.append("prompt lengths do not vary: prefill_ms_per_token kept at the preset's value")
    for p, sim in zip(points, simulated, strict=True):
        errs = [
            f"{k} {math.log(sim[k] / p.real[k]):+.3f}"
            for k in ("ttft_p50", "e2e_p50", "tpot_mean")
            if k in p.real and sim.get(k, 0) > 0
        ]
        notes.append(f"{p.kind} {p.load:g}: ln(sim/real) {', '.join(errs)}")
    return EngineFitResult(spec, step, value, evals, points, simulated, notes)
