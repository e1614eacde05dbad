"""Replaying a trace's workload on the virtual engine, and the loss calibration minimises.

A load point of the traces (engine/load/traces.py) is replayed in virtual time with the
workload that produced it: Poisson arrivals at the stage's rate with its prompt and output
length distributions and a shared system prompt (inference-perf's ``shared_prefix``
workload: a few system prompts, each a cached prefix), or a closed loop of ``c`` clients
(the NIM sweep). ``measure`` returns the same statistics the trace publishes, so the two
can be compared key by key. Everything is seeded: the same spec, point and seed give the
same numbers, which is what lets a derivative-free search (``nelder_mead``) fit factors.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from llm_simulator.engine.load.deployment import DeploymentSpec
from llm_simulator.engine.load.traces import TracePoint
from llm_simulator.engine.load.virtual import Arrival, RequestResult, closed_loop, lone_e2e_ms, simulate
from llm_simulator.infra.percentile import percentile

# Loss weights per statistic: decode speed and medians matter most; p99 is noisy (warm-up).
LOSS_WEIGHTS: dict[str, float] = {
    "tpot_mean": 3.0,
    "ttft_p50": 1.0,
    "ttft_p90": 0.5,
    "ttft_p99": 0.1,
    "e2e_p50": 1.0,
    "e2e_p90": 0.5,
    "e2e_p99": 0.1,
    "ttft_mean": 1.0,
    "throughput": 1.0,
}


def quantile(sorted_values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0-1) of already sorted values (``infra.percentile``); NaN for none."""
    return percentile(sorted_values, q * 100.0) if sorted_values else math.nan


def _prefix_hashes(group: int, tokens: int, block_size: int) -> tuple[int, ...]:
    # One hash per full block of the system prompt; distinct groups never collide.
    return tuple((group + 1) * 1_000_003 + j for j in range(tokens // block_size))


def poisson_workload(point: TracePoint, seed: int, duration_s: float, block_size: int = 16) -> list[Arrival]:
    """Open-loop arrivals for ``point``: Poisson at its rate, its lengths, a shared system prompt."""
    rng = random.Random(seed)
    rate_per_ms = point.load / 1000.0
    arrivals: list[Arrival] = []
    # A fixed pool of prompts (inference-perf's shared_prefix: groups × users, cycled through):
    # each keeps its length and its block hashes, its system prompt shared with its group.
    pool: list[tuple[int, tuple[int, ...]]] = []
    for group in range(point.prefix_groups if point.prompts_per_group else 0):
        for user in range(point.prompts_per_group):
            prompt = point.prompt.sample(rng)
            shared = _prefix_hashes(group, min(point.shared_prefix_tokens, prompt - 1), block_size)
            own = tuple(
                -(group * 1_000 + user + 1) * 1_000_003 - j for j in range((prompt - 1) // block_size - len(shared))
            )
            pool.append((prompt, shared + own))
    t = rng.expovariate(rate_per_ms)
    while t < duration_s * 1000.0:
        hashes: tuple[int, ...] = ()
        if pool:
            prompt, hashes = pool[rng.randrange(len(pool))]
        else:
            prompt = point.prompt.sample(rng)
            if point.shared_prefix_tokens:
                group = rng.randrange(point.prefix_groups)
                hashes = _prefix_hashes(group, min(point.shared_prefix_tokens, prompt - 1), block_size)
        arrivals.append(Arrival(t, prompt, point.output.sample(rng), hashes=hashes))
        t += rng.expovariate(rate_per_ms)
    return arrivals


@dataclass(frozen=True, slots=True)
class Budget:
    """How much virtual time a replay spends (smaller for the fit's inner loop, larger for reports)."""

    rate_duration_s: float = 180.0
    closed_rounds: int = 6  # a closed loop runs rounds × c requests; the first 2c and last c are dropped


def _stats(results: Sequence[RequestResult]) -> dict[str, float]:
    ok = [r for r in results if r.outcome == "ok" and r.finish_ms >= 0]
    if not ok:
        return {"completed": 0.0}
    ttft = sorted(r.ttft_ms for r in ok)
    e2e = sorted(r.e2e_ms for r in ok)
    mean_ttft = sum(ttft) / len(ttft)
    mean_e2e = sum(e2e) / len(e2e)
    mean_out = sum(r.output_tokens for r in ok) / len(ok)
    return {
        "completed": float(len(ok)),
        "ttft_p50": quantile(ttft, 0.5),
        "ttft_p90": quantile(ttft, 0.9),
        "ttft_p99": quantile(ttft, 0.99),
        "e2e_p50": quantile(e2e, 0.5),
        "e2e_p90": quantile(e2e, 0.9),
        "e2e_p99": quantile(e2e, 0.99),
        "ttft_mean": mean_ttft,
        "e2e_mean": mean_e2e,
        # The traces' decode speed: (mean E2E − mean TTFT) / (mean output − 1).
        "tpot_mean": (mean_e2e - mean_ttft) / (mean_out - 1) if mean_out > 1 else 0.0,
        "mean_output": mean_out,
    }


@dataclass(frozen=True, slots=True)
class Replays:
    """The requests of one or more seeded replays of a point, pooled (see ``pooled_stats``)."""

    results: tuple[RequestResult, ...]
    held: int  # requests the runs held in all, counted or not
    failures: int  # of those, the ones that did not end "ok"


def _failures(results: Sequence[RequestResult]) -> int:
    return sum(1 for r in results if r.outcome != "ok")


def replay(spec: DeploymentSpec, point: TracePoint, seed: int = 0, budget: Budget | None = None) -> Replays:
    """Replay ``point``'s workload on ``spec`` in virtual time with one seed.

    Returns the requests that count (a closed loop's steady state), how many the run held in
    all and how many of those failed.
    """
    budget = budget or Budget()
    # A trace's first stage ran on a freshly started server; later stages on a warm one.
    spec = replace(spec, cold_start=not point.warm)
    if point.kind == "rate":
        duration = min(point.duration_s or budget.rate_duration_s, budget.rate_duration_s)
        run = simulate(spec, poisson_workload(point, seed, duration, spec.settings.block_size), seed=seed)
        return Replays(tuple(run.results), len(run.results), _failures(run.results))
    c = int(point.load)
    total = max(budget.closed_rounds, 4) * c
    rng = random.Random(seed)

    def make(k: int, now: float) -> Arrival | None:
        if k >= total:
            return None
        return Arrival(now, point.prompt.sample(rng), point.output.sample(rng))

    # Clients start at scattered moments (virtual.lone_e2e_ms says why), drawn from their own stream.
    ramp_ms = lone_e2e_ms(spec, round(point.prompt.mean), round(point.output.mean), seed)
    first, after = closed_loop(c, make, ramp_ms=ramp_ms, rng=random.Random(seed + 1))
    run = simulate(spec, first, seed=seed, next_arrival=after)
    # Steady state only: drop the ramp and the first full round, and the drain at the end.
    return Replays(tuple(run.results[2 * c : total - c]), len(run.results), _failures(run.results))


def pooled_stats(point: TracePoint, replays: Sequence[Replays]) -> dict[str, float]:
    """The trace's statistics over the POOLED requests of several replays (one per seed).

    Every quantile and mean is taken over the union of the seeds' requests, not averaged over
    per-seed values: a p99 over three seeds' requests is one estimate from three times the
    samples, so a tail is not decided by the ~30 slowest requests of one seed. Throughput:
    open loop, rate × mean output × the fraction completed; closed loop, Little's law
    c × mean output / mean E2E (no think time). One replay gives exactly ``measure``'s numbers.
    """
    results = [r for rep in replays for r in rep.results]
    held = sum(rep.held for rep in replays)
    stats = _stats(results)
    if point.kind == "rate":
        stats["throughput"] = stats.get("mean_output", 0.0) * point.load * stats.get("completed", 0.0) / max(1.0, held)
        stats["failed"] = float(held) - stats.get("completed", 0.0)
        return stats
    if stats.get("completed"):
        stats["throughput"] = int(point.load) * stats["mean_output"] / (stats["e2e_mean"] / 1000.0)
    # Closed loops count failures over the whole runs, the ramp and the drain included.
    stats["failed"] = float(sum(rep.failures for rep in replays))
    return stats


def measure(spec: DeploymentSpec, point: TracePoint, seed: int = 0, budget: Budget | None = None) -> dict[str, float]:
    """Replay ``point``'s workload on ``spec`` in virtual time; the trace's statistics plus counts."""
    return pooled_stats(point, [replay(spec, point, seed, budget)])


def measure_seeds(
    spec: DeploymentSpec, point: TracePoint, seeds: Sequence[int], budget: Budget | None = None
) -> dict[str, float]:
    """``point`` replayed once per seed, its statistics over the pooled requests (``pooled_stats``)."""
    return pooled_stats(point, [replay(spec, point, seed, budget) for seed in seeds])


def log_error(sim: float, real: float) -> float:
    """|ln(sim / real)|; infinite when either is not positive."""
    if sim <= 0 or real <= 0 or math.isnan(sim) or math.isnan(real):
        return math.inf
    return abs(math.log(sim / real))


def point_loss(sim: dict[str, float], real: dict[str, float], weights: dict[str, float] | None = None) -> float:
    """Weighted sum of squared log errors over the statistics both sides have.

    A replay that finished nothing costs a large constant instead of infinity, so a search
    can still climb out of a region where the engine is overloaded.
    """
    weights = LOSS_WEIGHTS if weights is None else weights
    total = 0.0
    for key, weight in weights.items():
        if key not in real:
            continue
        err = log_error(sim.get(key, 0.0), real[key])
        total += weight * (min(err, 5.0) ** 2)
    return total


def nelder_mead(
    f: Callable[[list[float]], float],
    x0: Sequence[float],
    steps: Sequence[float],
    *,
    max_evals: int = 200,
    tolerance: float = 1e-4,
) -> tuple[list[float], float, int]:
    """Minimise ``f`` from ``x0`` with the Nelder-Mead simplex (standard coefficients).

    Derivative-free, deterministic, standard library only. Returns (best x, f(best x),
    evaluations used); stops after ``max_evals`` evaluations or when the simplex's values
    differ by less than ``tolerance``.
    """
    n = len(x0)
    simplex = [list(x0)] + [[x + (steps[i] if j == i else 0.0) for j, x in enumerate(x0)] for i in range(n)]
    values = [f(p) for p in simplex]
    evals = n + 1
    while evals < max_evals:
        order = sorted(range(n + 1), key=values.__getitem__)
        simplex = [simplex[i] for i in order]
        values = [values[i] for i in order]
        if values[-1] - values[0] < tolerance:
            break
        centroid = [sum(p[j] for p in simplex[:-1]) / n for j in range(n)]
        worst = simplex[-1]

        def towards(coef: float, worst: list[float] = worst, centroid: list[float] = centroid) -> list[float]:
            return [c + coef * (w - c) for c, w in zip(centroid, worst, strict=True)]

        reflected = towards(-1.0)
        fr = f(reflected)
        evals += 1
        if fr < values[0]:
            expanded = towards(-2.0)
            fe = f(expanded)
            evals += 1
            simplex[-1], values[-1] = (expanded, fe) if fe < fr else (reflected, fr)
        elif fr < values[-2]:
            simplex[-1], values[-1] = reflected, fr
        else:
            contracted = towards(0.5 if fr >= values[-1] else -0.5)
            fc = f(contracted)
            evals += 1
            if fc < min(fr, values[-1]):
                simplex[-1], values[-1] = contracted, fc
            else:  # shrink towards the best point
                best = simplex[0]
                for i in range(1, n + 1):
                    simplex[i] = [b + 0.5 * (x - b) for b, x in zip(best, simplex[i], strict=True)]
                    values[i] = f(simplex[i])
                    evals += 1
    i = min(range(n + 1), key=values.__getitem__)
    return simplex[i], values[i], evals
