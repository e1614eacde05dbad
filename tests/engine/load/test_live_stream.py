"""``Simulator.stream`` over a live engine on a fake clock: the one-choice loop engine streams take.

Every token arrives once and in order, tokens the engine released while the stream was busy
come without a wait, the telemetry sees each of them, and a client that leaves mid-stream
frees its sequence and KV blocks at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine
from pathlib import Path
from typing import Any, cast

from llm_simulator.config import load_config
from llm_simulator.core.record import RequestRecord
from llm_simulator.core.types import (
    Endpoint,
    FinishEvent,
    GenerationPlan,
    GenerationRequest,
    Message,
    StreamEvent,
    TokenEvent,
)
from llm_simulator.engine.load.live import EngineTimeline
from llm_simulator.engine.simulator import Simulator
from llm_simulator.infra.clock import FakeClock
from tests.engine.load.test_live_engine import ManualScheduler

ENGINE = """\
seed: 5
engine:
  deployments:
    flat:
      models: [gpt-4.1]
      kv_blocks: 1000
      prefix_caching: false
      step: {step_ms: 10, weights_ms: 0, prefill_ms_per_token: 0, kv_ms_per_token: 0, seq_ms: 0,
             overlap: 0, jitter_sigma: 0, front_ms: 0}
"""


def make_sim(tmp_path: Path) -> tuple[Simulator, ManualScheduler]:
    """A simulator whose engine steps advance one per ``tick`` of a manual scheduler."""
    path = tmp_path / "engine.yaml"
    path.write_text(ENGINE)
    clock = FakeClock(start=100.0)
    sim = Simulator(load_config(path), clock=clock)
    scheduler = ManualScheduler(clock)
    sim.scheduler = scheduler  # before the engine is created (on first use), which takes it
    return sim, scheduler


def plan_for(sim: Simulator, tokens: int, n: int = 1) -> tuple[GenerationPlan, EngineTimeline]:
    """A plan of ``tokens`` tokens per choice and its timeline on the engine (the request is queued)."""
    spec = sim.resolve_model("gpt-4.1", "openai")
    assert spec is not None
    gen = GenerationRequest(
        model="gpt-4.1",
        endpoint=Endpoint.CHAT,
        messages=(Message("user", "Tell me something."),),
        prompt_tokens=12,
        max_tokens=tokens,
        ignore_eos=True,
        n=n,
    )
    plan = sim.plan(gen, spec, sim.request_seed(None))
    plan.record = RequestRecord("req-1", "POST", "/v1/chat/completions", sim.clock.now(), 0.0)
    timeline = sim.generation_timeline(spec, plan, 0)
    assert isinstance(timeline, EngineTimeline)
    return plan, timeline


def ready(events: AsyncIterator[StreamEvent]) -> StreamEvent:
    """The next event if the stream has it without waiting; AssertionError if it would wait."""
    step = cast("Coroutine[Any, Any, StreamEvent]", events.__anext__())
    try:
        step.send(None)
    except StopIteration as done:
        return cast("StreamEvent", done.value)
    step.close()
    raise AssertionError("the stream had to wait for an event")


async def next_after_ticks(events: AsyncIterator[StreamEvent], scheduler: ManualScheduler) -> StreamEvent:
    """The next event, ticking the engine's steps until it comes."""
    pending = asyncio.ensure_future(anext(events))
    await asyncio.sleep(0)
    while not pending.done():
        await scheduler.tick()
    return pending.result()


async def test_every_token_comes_once_in_order_then_the_finish(tmp_path: Path) -> None:
    sim, scheduler = make_sim(tmp_path)
    plan, timeline = plan_for(sim, 12)
    events = sim.stream(plan, timeline)
    got = [await next_after_ticks(events, scheduler) for _ in range(13)]
    tokens = plan.choices[0].tokens
    assert got[:12] == [TokenEvent(0, i, tokens[i]) for i in range(12)]
    assert got[12] == FinishEvent(0, plan.choices[0].finish_reason)
    assert [e async for e in events] == []  # nothing after the finish
    assert timeline.seq.generated == 12 and timeline.seq.done
    record = plan.record
    assert record is not None
    assert len(record.gaps) == 11  # the telemetry saw each token: a first one, then 11 gaps
    assert all(gap > 0 for gap in record.gaps)  # one per step, on the engine's clock
    assert sim.running == sim.waiting == 0


async def test_tokens_released_while_the_stream_was_busy_come_without_a_wait(tmp_path: Path) -> None:
    sim, scheduler = make_sim(tmp_path)
    plan, timeline = plan_for(sim, 10)
    events = sim.stream(plan, timeline)
    first = await next_after_ticks(events, scheduler)
    assert first == TokenEvent(0, 0, plan.choices[0].tokens[0])
    for _ in range(3):  # three more steps end while the client is busy
        await scheduler.tick()
    assert timeline.seq.generated == 4
    tokens = plan.choices[0].tokens
    assert [ready(events) for _ in range(3)] == [TokenEvent(0, i, tokens[i]) for i in (1, 2, 3)]
    with_wait = await next_after_ticks(events, scheduler)  # the fifth was not out: it waited
    assert with_wait == TokenEvent(0, 4, tokens[4])
    record = plan.record
    assert record is not None
    # The three caught-up tokens were handed over in the same instant: gaps of zero.
    assert record.gaps[1:3] == [0.0, 0.0]
    await cast("Any", events).aclose()


async def test_a_client_that_leaves_mid_stream_frees_its_sequence_at_once(tmp_path: Path) -> None:
    sim, scheduler = make_sim(tmp_path)
    plan, timeline = plan_for(sim, 50)
    _, other = plan_for(sim, 50)
    events = sim.stream(plan, timeline)
    for _ in range(3):
        await next_after_ticks(events, scheduler)
    (engine,) = sim.engines.values()
    replica = engine.replicas[timeline.seq.replica]
    assert len(replica.running) == 2 and replica.kv.used > 0
    used_by_both = replica.kv.used
    await cast("Any", events).aclose()  # the client left: the server closes the frames
    assert timeline.seq.state.name == "ABORTED"
    assert replica.running == [other.seq]  # no step needed to notice
    assert replica.kv.used < used_by_both
    assert replica.counters.aborted == 1
    replica.check_invariants()
    assert sim.running == sim.waiting == 0
    other.close()
    assert replica.kv.used == 0


async def test_several_choices_still_take_the_general_loop_in_step_order(tmp_path: Path) -> None:
    sim, scheduler = make_sim(tmp_path)
    plan, timeline = plan_for(sim, 4, n=2)
    events = sim.stream(plan, timeline)
    got: list[StreamEvent] = []
    while len(got) < 10:
        got.append(await next_after_ticks(events, scheduler))
    a, b = (c.tokens for c in plan.choices)
    expected: list[StreamEvent] = []
    for i in range(4):
        expected += [TokenEvent(0, i, a[i]), TokenEvent(1, i, b[i])]
    expected[7:7] = [FinishEvent(0, plan.choices[0].finish_reason)]
    expected.append(FinishEvent(1, plan.choices[1].finish_reason))
    assert got == expected


async def test_a_step_skips_a_stream_whose_wait_was_cancelled_and_wakes_the_rest(tmp_path: Path) -> None:
    sim, scheduler = make_sim(tmp_path)
    plan, timeline = plan_for(sim, 20)
    _, other = plan_for(sim, 20)
    await next_after_ticks(sim.stream(plan, timeline), scheduler)  # both sequences are running
    cancelled = timeline.park(timeline.seq.generated)
    waiting = other.park(other.seq.generated)
    assert cancelled is not None and waiting is not None
    cancelled.cancel()  # its task was cancelled and has not closed the sequence yet
    await scheduler.tick()  # the step releases a token to both sequences
    assert cancelled.cancelled()
    assert waiting.done() and waiting.exception() is None
    made = other.seq.generated
    await scheduler.tick()
    assert other.seq.generated == made + 1  # the step loop carries on
    timeline.close()
    other.close()
