"""Replaying many load points with several seeds each, pooled, on all cores (the fidelity report).

One seed's replay decides a tail quantile from a handful of requests: a stage_0 at 5 req/s
for 600 s has ~3,000 requests, so its TTFT p99 is the 30th slowest and swings with the seed
(Mixtral codegen stage_0: 749, 550, 601, 448, 223 and 1,261 ms over seeds 7-12
against 482 ms measured; pooled over 7-9, 635 ms, over 10-12, 652 ms). Replaying
every point once per seed and taking each statistic over the pooled requests
(``calibration.pooled_stats``) estimates the simulated distribution from several times the
real run's requests. The replays are independent, so they run in worker processes; a
replay is a pure function of (preset, point, seed, budget), so the pooled numbers are the
same whatever the number of workers and whichever finishes first.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from llm_simulator.engine.load.calibration import Budget, Replays, pooled_stats, replay
from llm_simulator.engine.load.fidelity import sampled_measure
from llm_simulator.engine.load.presets import PRESETS
from llm_simulator.engine.load.traces import TracePoint

# A job names its preset rather than carrying the spec: the workers look it up in PRESETS.
Job = tuple[str, TracePoint, Budget]
T = TypeVar("T")
R = TypeVar("R")


def default_seeds(count: int, first: int = 7) -> tuple[int, ...]:
    """``count`` consecutive seeds from ``first`` (7: the report's single seed before pooling)."""
    if count < 1:
        raise ValueError(f"need at least one seed, got {count}")
    return tuple(range(first, first + count))


def _run(task: tuple[str, TracePoint, int, Budget]) -> Replays:
    preset, point, seed, budget = task
    return replay(PRESETS[preset], point, seed, budget)


def _sampled(task: tuple[str, TracePoint, tuple[int, ...], Budget]) -> dict[str, float]:
    profile, point, seeds, budget = task
    return sampled_measure(profile, point, seeds, budget)


@dataclass(frozen=True, slots=True)
class SeededRunner:
    """Measures load points pooled over ``seeds``, spreading the replays over ``workers`` processes."""

    seeds: tuple[int, ...]
    workers: int = 1

    def measure(self, jobs: Sequence[Job]) -> list[dict[str, float]]:
        """Each job's statistics over the pooled requests of one replay per seed, in job order."""
        tasks = [(preset, point, seed, budget) for preset, point, budget in jobs for seed in self.seeds]
        replays = self._map(_run, tasks)
        n = len(self.seeds)
        return [pooled_stats(job[1], replays[i * n : (i + 1) * n]) for i, job in enumerate(jobs)]

    def sampled(self, jobs: Sequence[Job]) -> list[dict[str, float]]:
        """The "before" numbers (``fidelity.sampled_measure``) pooled over the seeds; a job names a sampled profile."""
        return self._map(_sampled, [(profile, point, self.seeds, budget) for profile, point, budget in jobs])

    def _map(self, fn: Callable[[T], R], tasks: Sequence[T]) -> list[R]:
        if self.workers <= 1 or len(tasks) <= 1:
            return [fn(t) for t in tasks]
        with ProcessPoolExecutor(max_workers=min(self.workers, len(tasks))) as pool:
            # map keeps the submission order, so pooling is independent of completion order.
            return list(pool.map(fn, tasks))


def default_workers() -> int:
    """Worker processes for the replays: every core this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
