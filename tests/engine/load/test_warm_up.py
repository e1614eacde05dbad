"""Warm-up: a freshly started replica pays once per new step shape; a warm one never does."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from llm_simulator.engine.load.deployment import Deployment, DeploymentSpec
from llm_simulator.engine.load.presets import PRESETS
from llm_simulator.engine.load.replica import EngineSettings, Replica
from llm_simulator.engine.load.stepmodel import cold_bucket
from llm_simulator.engine.load.virtual import Arrival, simulate
from tests.engine.load.helpers import FLAT, Driver, seq

COLD = replace(FLAT, cold_shape_ms=100.0)


def cold_replica() -> Replica:
    return Replica(0, EngineSettings(max_num_batched_tokens=64), COLD, random.Random(0))


@pytest.mark.parametrize(("tokens", "bucket"), [(0, 0), (1, 0), (2, 1), (3, 2), (4, 2), (5, 3), (8, 3), (9, 4)])
def test_buckets_are_powers_of_two(tokens: int, bucket: int) -> None:
    assert cold_bucket(tokens) == bucket


def test_the_first_step_of_each_shape_pays_once() -> None:
    drv = Driver(cold_replica())
    drv.rep.enqueue(seq(1, 5, 4))  # a 5-token prefill (bucket 3), then 1-token decodes (bucket 0)
    drv.run()
    durations = [b.duration_ms for b in drv.batches]
    assert durations == [101.0, 101.0, 1.0, 1.0]
    drv.rep.enqueue(seq(2, 7, 2))  # 7 tokens: bucket 3 again, already warm
    drv.run()
    assert [b.duration_ms for b in drv.batches[4:]] == [1.0, 1.0]


def test_a_warmed_up_replica_never_pays() -> None:
    rep = cold_replica()
    rep.warm_up()
    drv = Driver(rep)
    drv.rep.enqueue(seq(1, 5, 4))
    drv.run()
    assert [b.duration_ms for b in drv.batches] == [1.0] * 4


def test_deployments_start_warm_unless_cold_start_is_asked_for() -> None:
    spec = DeploymentSpec("d", EngineSettings(), COLD)

    def first_step(spec: DeploymentSpec) -> float:
        rep = Deployment(spec, 0).replicas[0]
        rep.enqueue(seq(1, 5, 1))
        batch = rep.schedule()
        assert batch is not None
        return rep.duration_ms(batch)

    assert first_step(spec) == 1.0
    assert first_step(replace(spec, cold_start=True)) == 101.0


def test_a_cold_start_slows_only_the_first_requests_of_a_run() -> None:
    base = PRESETS["vllm-h100-7b-tp1"]
    spec = replace(base, step=replace(base.step, cold_shape_ms=500.0))
    arrivals = [Arrival(i * 200.0, 300 + 97 * (i % 9), 20 + i % 30) for i in range(300)]
    warm = simulate(spec, arrivals, seed=1).results
    cold = simulate(replace(spec, cold_start=True), arrivals, seed=1).results
    assert max(r.ttft_ms for r in warm) < 200
    assert max(r.ttft_ms for r in cold[:20]) > 500  # the first requests meet compiling kernels
    # Afterwards the run is a warm one: the same TTFTs, one by one up to a step of phase (a request
    # that finds the replica busy rather than idle waits one step more when scheduling ahead).
    late_cold, late_warm = [r.ttft_ms for r in cold[-100:]], [r.ttft_ms for r in warm[-100:]]
    assert sum(late_cold) == pytest.approx(sum(late_warm), rel=0.05)
    step = base.step.step_ms + base.step.weights_ms
    assert all(abs(c - w) < 1.5 * step for c, w in zip(late_cold, late_warm, strict=True))
