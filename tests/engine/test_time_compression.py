"""Time compression (``engine.timing.compressed``): the model's schedule, every wait scaled.

Batch lines and background responses run under it; a fake clock shows the due times.
"""

from __future__ import annotations

import asyncio

import pytest

from llm_simulator.engine.load.live import EngineTimeline
from llm_simulator.engine.timing import TIME_COMPRESSION, compressed
from tests.engine.test_timing import FLAT, flat_request, make_sim


async def _due_times(factor: float, delay_s: float = 0.0) -> list[float]:
    """The release times (from the start) of a 3-token answer of the flat model at ``factor``."""
    sim, clock, sched = make_sim(**FLAT)
    sim.scheduler = sched  # a start delay waits on the simulator's scheduler
    model = sim.resolve_model("m", "openai")
    assert model is not None
    plan = sim.plan(flat_request(3), model, 1)
    start = clock.now()
    with compressed(factor):
        timeline = sim.open_timeline(model, 0, 1, delay_s=delay_s)
    async for _ in sim.stream(plan, timeline):
        pass
    return [round(w - start, 6) for w in sched.waits]


async def test_compression_scales_every_due_time_of_the_same_schedule() -> None:
    assert await _due_times(1.0) == [0.1, 0.12, 0.14]
    assert await _due_times(0.1) == [0.01, 0.012, 0.014]
    # A scripted start delay is model time too: compressed with the rest.
    assert await _due_times(0.1, delay_s=0.5) == [0.05, 0.06, 0.062, 0.064]
    # Zero is instant: no wait at all.
    assert await _due_times(0.0) == []


async def test_sampled_jitter_is_the_models_own_draws_scaled() -> None:
    """With a jittered profile, the compressed schedule is the uncompressed one × the factor."""
    sim, clock, sched = make_sim()
    model = sim.resolve_model("gpt-4o", "openai")
    assert model is not None
    plans = []
    for factor in (1.0, 0.25):
        start = clock.now()
        with compressed(factor):
            timeline = sim.open_timeline(model, 50, 99)
        plan = sim.plan(flat_request(8), model, 99)
        sched.waits.clear()
        async for _ in sim.stream(plan, timeline):
            pass
        plans.append([w - start for w in sched.waits])
    full, quarter = plans
    assert len(full) == len(quarter) == 8
    assert quarter == pytest.approx([t * 0.25 for t in full])


def test_the_factor_is_scoped_to_the_block_and_its_tasks() -> None:
    seen: list[float] = []

    async def child() -> None:
        seen.append(TIME_COMPRESSION.get())

    async def main() -> None:
        with compressed(0.5):
            await asyncio.create_task(child())  # a task started inside inherits it
        await asyncio.create_task(child())

    assert TIME_COMPRESSION.get() == 1.0
    asyncio.run(main())
    assert seen == [0.5, 1.0]
    assert TIME_COMPRESSION.get() == 1.0


async def test_scripted_pauses_are_compressed_chaos_pauses_are_not() -> None:
    sim, clock, sched = make_sim()
    sim.scheduler = sched
    start = clock.now()
    with compressed(0.1):
        await sim.pause(1.0, scripted=True)
        assert clock.now() - start == pytest.approx(0.1)
        await sim.pause(1.0)  # a chaos delay: an outage of the moment, waited in full
    assert clock.now() - start == pytest.approx(1.1)


async def test_compressed_work_bypasses_the_load_aware_engine() -> None:
    """The engine runs on the real clock for all it holds: compressed work is paced by the profile."""
    sim, _, _ = make_sim(**{"engine.default_deployment": "vllm-h100-7b-tp1", "latency.enabled": True})
    model = sim.resolve_model("gpt-4o", "openai")
    assert model is not None
    plan = sim.plan(flat_request(4), model, 3)
    with compressed(0.5):
        compressed_timeline = sim.open_timeline(model, 10, 3, plan=plan)
    assert not isinstance(compressed_timeline, EngineTimeline)
    assert not sim.engines  # no engine was even started for it
    live = sim.open_timeline(model, 10, 3, plan=plan)
    assert isinstance(live, EngineTimeline)
    live.close()
