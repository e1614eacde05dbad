"""Fit the engine presets' physics factors on the calibration split of ../shared/traces.

Run on demand (never in CI), from the repository root:

    python bench/calibrate.py            # every preset (~10-20 min on a loaded 2-core machine)
    python bench/calibrate.py --quick    # fewer evaluations and shorter replays (a smoke run)
    python bench/calibrate.py --only vllm-h100-7b-tp1

Each candidate set of factors is scored by replaying, in virtual time, the workload of every
calibration load point of its preset (engine/load/calibration.py) and summing the squared
log errors of TTFT/E2E quantiles, decode ms per token (``decode_ms_per_token_derived``,
never the traces' ITL field) and throughput. A Nelder-Mead search written for this (no
numpy) minimises it. Seeds are fixed, so the fit is deterministic. Held-out points (H1:
70B/Mixtral stage_1; H2: the NIM sweep past c=1) are never read into a loss: the script
asserts it. Output: bench/results/calibration.json; the numbers are then copied by hand into
src/llm_simulator/engine/load/presets.py (each preset cites its rows and loss).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import math
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import REPO_DIR, RESULTS_DIR

from llm_simulator.engine.load.calibration import LOSS_WEIGHTS, Budget, measure, nelder_mead, point_loss
from llm_simulator.engine.load.deployment import DeploymentSpec
from llm_simulator.engine.load.physics import PhysicsFactors
from llm_simulator.engine.load.presets import RECIPES, PresetRecipe
from llm_simulator.engine.load.traces import (
    CALIBRATION,
    TracePoint,
    default_traces_dir,
    inference_sim_points,
    nim_points,
    splitwise_prefill_slope,
)
from llm_simulator.engine.load.virtual import Arrival, simulate

SEED = 20240614
# Fitted coordinates: log of each positive factor, logit of the overlap κ.
FIELDS = (
    "k_weights",
    "k_kv",
    "mfu",
    "mfu_decode",
    "k_comm",
    "step_base_ms",
    "seq_ms",
    "overlap",
    "front_ms",
    "jitter_sigma",
)
# What the search moves by default: the per-step and per-sequence constants stay at their
# physics values (the data cannot tell them from k_weights at these loads, and every free
# coordinate costs evaluations of a replay).
FREE = ("k_weights", "k_kv", "mfu", "overlap", "front_ms", "jitter_sigma")
# The split of the factors. Load-dependent physics shared by every vLLM deployment (fitted
# jointly on every calibration point with load variation: Llama-2-7B and CodeLlama-34B at two
# rates, plus Argonne's vLLM batch sweeps): the KV-read factor, the compute/memory overlap κ,
# the per-sequence and per-step costs, the decode-GEMM efficiency and the all-reduce factor.
# Per-deployment anchors (fitted on one model's lowest load only): the weight-read factor, the
# prefill MFU, the front-end delay and the step jitter. A decode token's cost thus comes from
# shared factors times the model's own bytes and FLOPs (KV bytes per token, all-reduce bytes,
# active parameters), so the slope fitted on Llama-2-7B (MHA, TP1) and CodeLlama-34B (GQA,
# TP2) transfers to Llama-2-70B (TP4) and Mixtral (MoE) through physics, not through an
# anchor fitted at one load (a prefill MFU of 0.27 made Mixtral's decode slope 2.4× the real).
GLOBAL = ("k_kv", "overlap", "seq_ms", "step_base_ms", "mfu_decode", "k_comm")
ANCHORS = ("k_weights", "mfu", "front_ms", "jitter_sigma")
# Dense-GEMM MFU of a prefill on H100 lies in this band (large-batch training reaches ~0.5-0.6,
# Splitwise's Llama-2-70B prefill gives ~0.44): a fit outside it is a sign the search traded the
# MFU against another term (CodeLlama reached 1.03, Mixtral 0.27 before the band).
MFU_RANGE = (0.25, 0.75)
# Decode GEMMs: up to the peak (an efficiency above 1 would be faster than the hardware).
BANDS = {"mfu": MFU_RANGE, "mfu_decode": (0.25, 1.0)}
GLOBAL_EVALS = 80  # six shared coordinates need more simplex moves than the four anchors
# Alternations of the anchor and global fits, then one last anchor pass (a second full round
# moved the shared factors by < 2 % and cost 20 min of a loaded 2-core machine).
ROUNDS = 1
# Step noise cannot be larger than the traces' spread of whole-step gaps: the upper half of
# inference-perf's ITL samples are step-to-step gaps (the rest are µs, see the traces README),
# and ln(ITL p99 / ITL p90) / (z(0.98) − z(0.80)) ≤ 0.10 on every calibration row (0.03-0.10,
# an upper bound: mixed prefill steps widen it too). Without the bound the warm anchor fit
# bought the first stages' warm-up tails with a σ of 0.19.
JITTER_MAX = 0.10
# The anchor fit replays warm (steady state), so the stage_0 TTFT/E2E p99 — a fresh server's
# warm-up, fitted afterwards on cold replays (fit_cold_shape) — are left out of its loss.
ANCHOR_WEIGHTS = {k: w for k, w in LOSS_WEIGHTS.items() if not k.endswith("_p99")}
# Near the seat limit (Llama-2-7B at 20 req/s holds ~82 of 128 seats) the step time and the
# number in flight feed each other (Little's law), and a one-minute replay has not yet shown
# the excursions a ten-minute stage has: the global fit replays every point whole.
GLOBAL_BUDGET = Budget(rate_duration_s=1200.0)
VLLM = ("vllm-h100-7b-tp1", "vllm-h100-70b-tp4", "vllm-h100-codellama-34b-tp2", "vllm-h100-mixtral-8x7b-tp2")


# Where the search starts a factor a preset does not use yet (PhysicsFactors' neutral defaults:
# decode at the prefill MFU, no decode all-reduce term).
START = {"mfu_decode": 0.9, "k_comm": 1.5}


def encode(factors: PhysicsFactors, front_ms: float, jitter: float) -> list[float]:
    values = dataclasses.asdict(factors) | {"front_ms": front_ms, "jitter_sigma": jitter}
    for name, start in START.items():
        if not values[name]:
            values[name] = start
    out = []
    for name in FIELDS:
        v = values[name]
        if name == "overlap":
            out.append(math.log(v / (1 - v)))
        elif name in BANDS:  # logit over the plausible band
            lo, hi = BANDS[name]
            u = min(max((v - lo) / (hi - lo), 1e-4), 1 - 1e-4)
            out.append(math.log(u / (1 - u)))
        else:
            out.append(math.log(max(v, 1e-6)))
    return out


def decode(x: list[float], base: PhysicsFactors) -> tuple[PhysicsFactors, float, float]:
    v = {}
    for name, raw in zip(FIELDS, x, strict=True):
        value = max(-30.0, min(30.0, raw))
        if name == "overlap":
            v[name] = 1 / (1 + math.exp(-value))
        elif name in BANDS:
            lo, hi = BANDS[name]
            v[name] = lo + (hi - lo) / (1 + math.exp(-value))
        else:
            v[name] = math.exp(value)
    front, jitter = v.pop("front_ms"), v.pop("jitter_sigma")
    return dataclasses.replace(base, **v), front, min(jitter, JITTER_MAX)


def recipe_with(recipe: PresetRecipe, factors: PhysicsFactors, front: float, jitter: float) -> PresetRecipe:
    return dataclasses.replace(recipe, factors=factors, front_ms=front, jitter_sigma=jitter)


def fit_preset(
    recipe: PresetRecipe,
    points: list[TracePoint],
    *,
    start: PhysicsFactors,
    start_front: float,
    start_jitter: float,
    budget: Budget,
    max_evals: int,
    free: tuple[str, ...] = FREE,
    extra: Callable[[PresetRecipe], float] | None = None,
    prior: dict[str, float] | None = None,
    weights: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Nelder-Mead over the ``free`` coordinates; the others stay at ``start`` (loss ``weights``: point_loss's)."""
    assert all(p.split == CALIBRATION for p in points), "held-out data must never enter a loss"
    x_start = encode(start, start_front, start_jitter)
    index = [FIELDS.index(name) for name in free]
    prior_x = dict(zip(FIELDS, x_start, strict=True))
    cache: dict[tuple[float, ...], float] = {}

    def full(sub: list[float]) -> list[float]:
        x = list(x_start)
        for i, value in zip(index, sub, strict=True):
            x[i] = value
        return x

    def objective(sub: list[float]) -> float:
        key = tuple(round(s, 9) for s in sub)
        if key in cache:
            return cache[key]
        x = full(sub)
        factors, front, jitter = decode(x, start)
        candidate = recipe_with(recipe, factors, front, jitter)
        spec = candidate.build()
        loss = sum(point_loss(measure(spec, p, SEED, budget), p.real, weights) for p in points) / len(points)
        if extra is not None:
            loss += extra(candidate)
        if prior:  # a weak pull towards the prior factors where the data say little
            loss += sum(w * (x[FIELDS.index(n)] - prior_x[n]) ** 2 for n, w in prior.items())
        cache[key] = loss
        return loss

    sub0 = [x_start[i] for i in index]
    started = time.process_time()
    best, loss, evals = nelder_mead(objective, sub0, [0.25] * len(sub0), max_evals=max_evals)
    factors, front, jitter = decode(full(best), start)
    fitted = recipe_with(recipe, factors, front, jitter)
    spec = fitted.build()
    per_point = {}
    for p in points:
        sim = measure(spec, p, SEED, budget)
        per_point[p.key] = {k: {"real": p.real[k], "sim": sim.get(k)} for k in p.real}
    return {
        "factors": dataclasses.asdict(factors),
        "front_ms": front,
        "jitter_sigma": jitter,
        "loss": loss,
        "evaluations": evals,
        "cpu_s": round(time.process_time() - started, 1),
        "points": [p.source for p in points],
        "fit": per_point,
        "recipe": fitted,
    }


ARGONNE = {
    ("meta-llama/Llama-2-7b-hf", "1"): "vllm-h100-7b-tp1",
    ("meta-llama/Llama-2-70b-hf", "4"): "vllm-h100-70b-tp4",
}


def argonne_rows(traces: Path) -> list[tuple[str, int, int, float]]:
    """Argonne's offline vLLM batch sweeps on H100: (preset, batch B, length L, latency s) rows.

    B prompts of L tokens each generate L tokens; the total time is measured. Only the
    models and GPU counts of the vLLM presets, and L ≤ 1024 (longer ones exceed the 7B's KV
    cache at B = 64, where the older vLLM's swap policy is not what the engine models).
    """
    rows = []
    with (traces / "argonne-llm-inference-bench" / "All_results.csv").open(encoding="utf-8") as handle:
        for r in csv.DictReader(handle):
            preset = ARGONNE.get((r["Model"], r["Num of Hardware"]))
            if r["Hardware"] != "Nvidia H100 GPU" or r["Framework"] != "vLLM" or preset is None:
                continue
            length, batch = int(r["Input Output Length"]), int(r["Batch Size"])
            if length <= 1024 and batch <= 64:
                rows.append((preset, batch, length, float(r["Latency"])))
    return rows


def static_batch_ms(spec: DeploymentSpec, batch: int, length: int, seed: int) -> float:
    """Virtual time for ``batch`` prompts of ``length`` tokens generating ``length`` tokens, all at t=0."""
    settings = dataclasses.replace(
        spec.settings,
        max_num_seqs=256,
        prefix_caching=False,
        max_num_batched_tokens=max(spec.settings.max_num_batched_tokens, 4096),
    )
    run = simulate(
        dataclasses.replace(spec, settings=settings), [Arrival(0.0, length, length) for _ in range(batch)], seed=seed
    )
    return max(r.finish_ms for r in run.results)


def argonne_term(rows: list[tuple[str, int, int, float]], recipes: dict[str, PresetRecipe]) -> float:
    """Mean squared log error of the batch slowdown latency(B, L) / latency(1, L) (anchors cancel)."""
    by_preset: dict[str, DeploymentSpec] = {}
    base = {(p, length): lat for p, b, length, lat in rows if b == 1}
    errs = []
    for preset, batch, length, latency in rows:
        if batch == 1 or (preset, length) not in base:
            continue
        spec = by_preset.setdefault(preset, recipes[preset].build())
        sim = static_batch_ms(spec, batch, length, SEED) / static_batch_ms(spec, 1, length, SEED)
        errs.append(math.log(sim / (latency / base[(preset, length)])) ** 2)
    return sum(errs) / max(1, len(errs))


def fit_globals(
    recipes: dict[str, PresetRecipe],
    points: dict[str, list[TracePoint]],
    rows: list[tuple[str, int, int, float]],
    budget: Budget,
    max_evals: int,
) -> dict[str, Any]:
    """Nelder-Mead over the GLOBAL factors, shared by the vLLM presets, anchors held fixed.

    Loss: the mean point loss over the presets' load-varying calibration points plus the
    Argonne batch-slowdown term. Returns the fitted global values and the loss.
    """
    for pts in points.values():
        assert all(p.split == CALIBRATION for p in pts), "held-out data must never enter a loss"
    first = recipes[VLLM[0]]
    x0 = [encode(first.factors, first.front_ms, first.jitter_sigma)[FIELDS.index(n)] for n in GLOBAL]

    def apply(x: list[float]) -> dict[str, PresetRecipe]:
        out = dict(recipes)
        for name in VLLM:
            r = recipes[name]
            full = encode(r.factors, r.front_ms, r.jitter_sigma)
            for n, v in zip(GLOBAL, x, strict=True):
                full[FIELDS.index(n)] = v
            f, front, jitter = decode(full, r.factors)
            out[name] = recipe_with(r, f, front, jitter)
        return out

    def objective(x: list[float]) -> float:
        trial = apply(x)
        losses = [
            point_loss(measure(trial[name].build(), p, SEED, budget), p.real)
            for name, pts in points.items()
            for p in pts
        ]
        return sum(losses) / max(1, len(losses)) + argonne_term(rows, trial)

    started = time.process_time()
    best, loss, evals = nelder_mead(objective, x0, [0.3] * len(x0), max_evals=max_evals)
    fitted = apply(best)
    return {
        "recipes": fitted,
        "loss": loss,
        "evaluations": evals,
        "argonne": argonne_term(rows, fitted),
        "values": {n: getattr(fitted[VLLM[0]].factors, n) for n in GLOBAL},
        "cpu_s": round(time.process_time() - started, 1),
    }


def splitwise_term(traces: Path) -> Callable[[PresetRecipe], float]:
    """Prefill slope of Llama-2-70B TP4 H100 (Splitwise, batch 1) as a loss term on the MFU.

    The measured slope includes the prefill's all-reduces (large messages near the link's
    bandwidth), so the prefill MFU is an effective one; ``comm_ms_per_token`` is decode's.
    """
    slope, _ = splitwise_prefill_slope(traces)

    def term(recipe: PresetRecipe) -> float:
        step = recipe.build().step
        return (math.log(step.prefill_ms_per_token / slope)) ** 2

    return term


def shaped_hosted(recipe: PresetRecipe, ttft_target: float, itl_target: float, budget: Budget) -> dict[str, Any]:
    """Scale a fitted 70B recipe so a lone request sees ``ttft_target``/``itl_target`` (ms, means)."""
    from llm_simulator.engine.load.traces import LengthDist

    probe = TracePoint(
        key="probe",
        group="probe",
        model=recipe.model,
        preset=recipe.name,
        split=CALIBRATION,
        kind="concurrency",
        load=1,
        duration_s=0,
        prompt=LengthDist.fixed(550),
        output=LengthDist.fixed(150),
        real={},
    )
    current = recipe
    for _ in range(4):
        sim = measure(current.build(), probe, SEED, budget)
        scale = itl_target / sim["tpot_mean"]
        f = current.factors
        factors = dataclasses.replace(
            f,
            k_weights=f.k_weights * scale,
            step_base_ms=f.step_base_ms * scale,
            k_kv=f.k_kv * scale,
            seq_ms=f.seq_ms * scale,
            k_comm=f.k_comm * scale,
        )
        front = max(1.0, current.front_ms + ttft_target - sim["ttft_mean"])
        current = dataclasses.replace(current, factors=factors, front_ms=front)
    sim = measure(current.build(), probe, SEED, budget)
    return {
        "factors": dataclasses.asdict(current.factors),
        "front_ms": current.front_ms,
        "jitter_sigma": current.jitter_sigma,
        "low_load": {"ttft_mean": sim["ttft_mean"], "tpot_mean": sim["tpot_mean"]},
        "targets": {"ttft_mean": ttft_target, "tpot_mean": itl_target},
        "recipe": current,
    }


COLD_GRID_MS = tuple(range(0, 2001, 200))  # coarse grid; the best value is then refined by ±100, ±50 ms
# The warm-up tail hangs on a handful of early requests (the p99 of 3000 is 30 of them), so
# one seed's p99 swings by ±20 %: average over seeds (3 left Mixtral's codegen p99 at 0.44).
COLD_SEEDS = 4


def fit_cold_shape(recipe: PresetRecipe, points: list[TracePoint]) -> dict[str, Any]:
    """The warm-up cost per new step shape (``StepTimeModel.cold_shape_ms``) for one preset.

    Only the stage_0 rows (a fresh server) see warm-up. The loss is the main fit's (so the
    warm-up cannot buy a tail by spoiling the means and medians), averaged over seeds, each
    row replayed for its whole duration (the p99 of 3000 requests is 30 of them). It is a
    step function of the cost (a slow step delays whoever arrives during it): a grid, not a
    simplex.
    """
    started = time.process_time()
    weights = LOSS_WEIGHTS

    def loss(cold: float) -> float:
        spec = dataclasses.replace(recipe, cold_shape_ms=cold).build()
        return (
            sum(
                point_loss(measure(spec, p, SEED + k, Budget(rate_duration_s=p.duration_s)), p.real, weights)
                for p in points
                for k in range(COLD_SEEDS)
            )
            / COLD_SEEDS
        )

    tried = {cold: loss(cold) for cold in COLD_GRID_MS}
    best = min(tried, key=lambda c: tried[c])
    for step in (100.0, 50.0):
        for cold in (best - step, best + step):
            if cold > 0 and cold not in tried:
                tried[cold] = loss(cold)
        best = min(tried, key=lambda c: tried[c])
    return {
        "cold_shape_ms": float(best),
        "loss": tried[best],
        "loss_without": tried[0],
        "grid": {f"{c:g}": round(v, 4) for c, v in sorted(tried.items())},
        "points": [p.source for p in points],
        "cpu_s": round(time.process_time() - started, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=Path, default=default_traces_dir(REPO_DIR))
    parser.add_argument("--quick", action="store_true", help="short replays, few evaluations (smoke run)")
    parser.add_argument("--only", action="append", default=[], help="fit only this preset (repeatable)")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "calibration.json")
    parser.add_argument(
        "--write-presets",
        action="store_true",
        help="then rewrite the FITTED block of engine/load/presets.py from the JSON",
    )
    parser.add_argument("--no-fit", action="store_true", help="fit nothing (with --write-presets: only render)")
    parser.add_argument(
        "--keep-globals",
        action="store_true",
        help="keep the JSON's shared load factors; refit the anchors (one pass), warm-up, NIM and hosted",
    )
    parser.add_argument(
        "--cold-only",
        action="store_true",
        help="fit only the vLLM presets' warm-up cost, keeping the rest of the JSON's fit",
    )
    args = parser.parse_args(argv)
    if not args.traces.is_dir():
        print(f"traces not found at {args.traces}", file=sys.stderr)
        return 2
    budget = Budget(rate_duration_s=30.0 if args.quick else 60.0, closed_rounds=4 if args.quick else 6)
    evals = 25 if args.quick else 60
    recipes = {r.name: r for r in RECIPES}
    points = inference_sim_points(args.traces) + nim_points(args.traces)
    calib = [
        p
        for p in points
        if p.split == CALIBRATION
        and not p.overloaded
        and p.model != "llama-3.3-70b"
        and p.notes.get("n_fail", "0") == "0"
    ]
    # The reasoning rows are past the knee with time-outs (failed requests): reported, not fitted.
    calib = [p for p in calib if "reasoning" not in p.key]
    previous: dict[str, Any] = {}
    previous_globals: dict[str, Any] = {}
    if args.out.exists():
        earlier = json.loads(args.out.read_text(encoding="utf-8"))
        previous, previous_globals = earlier.get("presets", {}), earlier.get("global", {})
    results: dict[str, Any] = dict(previous)
    wanted = set(args.only) or None
    if args.no_fit:
        wanted = set()

    def run(name: str, fn: Callable[[], dict[str, Any]]) -> None:
        if wanted is not None and name not in wanted:
            return
        print(f"fitting {name} ...", flush=True)
        out = fn()
        recipe = out.pop("recipe")
        results[name] = out
        recipes[name] = recipe
        print(
            f"  loss {out.get('loss', 0):.4f} after {out.get('evaluations', 0)} evaluations: "
            f"{json.dumps(out['factors'])} front {out['front_ms']:.1f} ms σ {out['jitter_sigma']:.3f}",
            flush=True,
        )

    def start_of(name: str) -> tuple[PhysicsFactors, float, float]:
        if name in results:
            r = results[name]
            return PhysicsFactors(**r["factors"]), r["front_ms"], r["jitter_sigma"]
        rec = recipes[name]
        return rec.factors, rec.front_ms, rec.jitter_sigma

    # vLLM presets, in two blocks fitted alternately (ROUNDS times): the per-deployment anchors
    # on each model's stage_0 rows only, then the load-dependent GLOBAL factors jointly on every
    # calibration point with load variation (Llama-2-7B and CodeLlama-34B at both rates) and
    # Argonne's batch sweeps. The 70B and Mixtral predictions at their held-out rates thus come
    # from physics plus load factors measured on other models, not from a low-load fit.
    model_of = {
        "vllm-h100-7b-tp1": "llama-2-7b",
        "vllm-h100-70b-tp4": "llama-2-70b",
        "vllm-h100-codellama-34b-tp2": "codellama-34b",
        "vllm-h100-mixtral-8x7b-tp2": "mixtral-8x7b",
    }
    stage0 = {n: [p for p in calib if p.model == m and p.key.endswith("stage_0")] for n, m in model_of.items()}
    # The steady-state factors are fitted on warm replays (short ones would give a fresh
    # server's warm-up far more weight than it had); the warm-up itself last, on the cold rows.
    warm0 = {n: [dataclasses.replace(p, warm=True) for p in pts] for n, pts in stage0.items()}
    loaded = {
        n: [dataclasses.replace(p, warm=True) for p in calib if p.model == m]
        for n, m in model_of.items()
        if any(p.key.endswith("stage_1") for p in calib if p.model == m)
    }
    rows = argonne_rows(args.traces)
    extras: dict[str, Callable[[PresetRecipe], float]] = {"vllm-h100-70b-tp4": splitwise_term(args.traces)}
    globals_out: dict[str, Any] = previous_globals
    global_fits: dict[str, dict[str, Any]] = {}

    def fit_anchors() -> None:
        for name in VLLM:
            f, front, jitter = start_of(name)
            run(
                name,
                lambda name=name, f=f, front=front, jitter=jitter: fit_preset(
                    recipes[name],
                    warm0[name],
                    start=f,
                    start_front=front,
                    start_jitter=jitter,
                    budget=budget,
                    max_evals=evals,
                    free=ANCHORS,
                    weights=ANCHOR_WEIGHTS,
                    extra=extras.get(name),
                ),
            )

    if (wanted is None or wanted & set(VLLM)) and not args.cold_only and args.keep_globals:
        global_fits = {name: results[name].get("global_fit", {}) for name in VLLM}
        fit_anchors()
        for name in VLLM:
            results[name]["global_fit"] = global_fits[name]
    elif (wanted is None or wanted & set(VLLM)) and not args.cold_only:
        for round_ in range(ROUNDS):
            fit_anchors()
            print(f"fitting the global load factors (round {round_ + 1}) ...", flush=True)
            g = fit_globals(
                recipes,
                loaded,
                rows,
                budget if args.quick else GLOBAL_BUDGET,
                max_evals=evals if args.quick else GLOBAL_EVALS,
            )
            recipes.update(g.pop("recipes"))
            globals_out = g
            for name in VLLM:
                results[name]["factors"] = dataclasses.asdict(recipes[name].factors)
                results[name]["global_fit"] = global_fits[name] = {
                    "loss": g["loss"],
                    "evaluations": g["evaluations"],
                    "argonne_loss": g["argonne"],
                    "points": sorted(p.source for pts in loaded.values() for p in pts),
                }
            print(
                f"  loss {g['loss']:.4f} (Argonne {g['argonne']:.4f}) after {g['evaluations']} evaluations: "
                f"{json.dumps(g['values'])}",
                flush=True,
            )
        # The anchors once more on the final shared factors (a cheap pass: one model's stage_0
        # rows each), so every preset's lowest load sits on the factors it ships with.
        fit_anchors()
        for name in VLLM:
            results[name]["global_fit"] = global_fits[name]

    # Warm-up: a fresh server's first steps of each shape are slow (kernels compiled on first
    # use). Fitted last, on the stage_0 tails only, with everything else fixed.
    if wanted is None or wanted & set(VLLM):
        for name in VLLM:
            if wanted is not None and name not in wanted:
                continue
            f, front, jitter = start_of(name)
            recipe = dataclasses.replace(recipes[name], factors=f, front_ms=front, jitter_sigma=jitter)
            print(f"fitting the warm-up of {name} ...", flush=True)
            cold = fit_cold_shape(recipe, stage0[name])
            results.setdefault(name, {})["cold_shape_ms"] = cold["cold_shape_ms"]
            results[name]["cold_fit"] = cold
            recipes[name] = dataclasses.replace(recipe, cold_shape_ms=cold["cold_shape_ms"])
            print(
                f"  {cold['cold_shape_ms']:g} ms per new shape: loss {cold['loss']:.4f} "
                f"(without: {cold['loss_without']:.4f})",
                flush=True,
            )
    if args.cold_only:
        wanted = set()  # nothing else is refitted

    # NIM: only the c=1 row (TTFT and ITL) and the stated limits. Two free factors: the MFU
    # (prefill of 5000 tokens sets TTFT) and the weight-read factor (a lone decode sets ITL);
    # the rest comes from the 70B TP4 vLLM fit. KV capacity is memory arithmetic (presets.py).
    anchor = [p for p in nim_points(args.traces) if p.split == CALIBRATION]
    nim_start = start_of("vllm-h100-70b-tp4")
    run(
        "nim-llama33-70b-2xh100-fp8",
        lambda: fit_preset(
            recipes["nim-llama33-70b-2xh100-fp8"],
            anchor,
            start=nim_start[0],
            start_front=nim_start[1],
            start_jitter=nim_start[2],
            budget=budget,
            max_evals=min(evals, 60),
            free=("k_weights", "mfu"),
        ),
    )

    # Hosted APIs: shaped, not measured under load. Low-load TTFT/ITL means of the built-in
    # latency profiles gpt4 / claude / gemini (engine/latency/profiles.py) on the 70B fit.
    shapes = {"openai-hosted": (300.0, 40.0), "anthropic-hosted": (250.0, 35.0), "gemini-hosted": (200.0, 25.0)}
    for name, (ttft, itl) in shapes.items():
        if name in recipes:
            f70, front70, jit70 = start_of("vllm-h100-70b-tp4")
            base = dataclasses.replace(recipes[name], factors=f70, front_ms=front70, jitter_sigma=jit70)
            run(name, lambda base=base, ttft=ttft, itl=itl: shaped_hosted(base, ttft, itl, budget))

    if args.no_fit:
        if args.write_presets:
            write_presets(results)
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "seed": SEED,
        "budget": dataclasses.asdict(budget),
        "max_evals": evals,
        "global": globals_out,
        "traces": "../shared/traces (calibration split only)",
        "presets": results,
    }
    args.out.write_text(json.dumps(payload, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    if args.write_presets:
        write_presets(results)
    return 0


PRESETS_FILE = REPO_DIR / "src" / "llm_simulator" / "engine" / "load" / "presets.py"
BEGIN, END = "# BEGIN FITTED", "# END FITTED"


def _provenance(name: str, result: dict[str, Any]) -> str:
    if "targets" in result:
        t = result["targets"]
        return (
            f"shaped, not measured under load: 70B TP4 fit scaled so a lone request sees TTFT "
            f"{t['ttft_mean']:.0f} ms and ITL {t['tpot_mean']:.0f} ms (means of the built-in latency profile)"
        )
    # "inference-sim-training/stages_tidy.csv 20260217-155451-llama-2-7b-tp1-codegen stage_0" → the short name.
    rows = "; ".join(re.sub(r"^inference-sim-training/stages_tidy\.csv \d+-\d+-", "", p) for p in result["points"])
    if rows.startswith("llama") or rows.startswith("codellama") or rows.startswith("mixtral"):
        rows = "inference-sim-training/stages_tidy.csv rows " + rows
    cold = (
        f"; warm-up {result['cold_shape_ms']:g} ms per new step shape fitted on the same rows (full length)"
        if result.get("cold_shape_ms")
        else ""
    )
    return (
        f"bench/calibrate.py fit (seed {SEED}, {result['evaluations']} evaluations, loss {result['loss']:.3f}) "
        f"on {rows}" + ("; KV capacity from memory arithmetic" if name.startswith("nim") else "") + cold
    )


def write_presets(results: dict[str, Any]) -> None:
    """Rewrite the FITTED block of presets.py from ``results`` (rounded, so diffs stay readable)."""
    # fmt: off/on keeps the formatter away from the block, so a re-render stays byte-stable.
    lines = [
        f"{BEGIN} (generated by `python bench/calibrate.py --write-presets`; do not edit by hand)",
        "# fmt: off",
        "FITTED: dict[str, Fit] = {",
    ]
    for name in sorted(results):
        r = results[name]
        lines.append(f"    {name!r}: Fit(")
        lines.append("        PhysicsFactors(")
        # Field order, not the JSON's (sorted) order, so a re-render leaves the block unchanged.
        order = [f.name for f in dataclasses.fields(PhysicsFactors)]
        lines.extend(f"            {k}={r['factors'][k]:.4g}," for k in order if k in r["factors"])
        lines.append("        ),")
        lines.append(f"        front_ms={r['front_ms']:.4g}, jitter_sigma={r['jitter_sigma']:.4g},")
        if r.get("cold_shape_ms"):
            lines.append(f"        cold_shape_ms={r['cold_shape_ms']:.4g},")
        text = _provenance(name, r)
        chunks = [text[i : i + 96] for i in range(0, len(text), 96)]
        lines.append("        provenance=" + "\n".join(f"{c!r}" for c in chunks).replace("\n", "\n" + " " * 19) + ",")
        lines.append("    ),")
    lines += ["}", "# fmt: on", END]
    source = PRESETS_FILE.read_text(encoding="utf-8")
    start, end = source.index(BEGIN), source.index(END) + len(END)
    PRESETS_FILE.write_text(source[:start] + "\n".join(lines) + source[end:], encoding="utf-8")
    print(f"rewrote the fitted block of {PRESETS_FILE}")


if __name__ == "__main__":
    sys.exit(main())
