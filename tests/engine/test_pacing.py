"""Plain-stream pacers (``engine.pacing``) on a fake clock: which streams get one, and their bookkeeping.

A pacer must leave behind exactly what ``Simulator.stream`` does: the gauges back at zero,
the record's TTFT and gaps, each sampled release's emit error, the admission settled with
the tokens released, the timeline closed.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from llm_simulator.config import load_config
from llm_simulator.core.errors import ErrorKind, SimulatorError
from llm_simulator.core.faults import Admission, FaultKind, StreamFault
from llm_simulator.core.record import RequestRecord
from llm_simulator.core.types import ChoicePlan, FinishReason, GenerationPlan, Segment, SegmentKind
from llm_simulator.engine.pacing import EnginePacer, SampledPacer, pacer_for
from llm_simulator.engine.scheduler import Scheduler
from llm_simulator.engine.simulator import Simulator
from llm_simulator.engine.timing import DelayedTimeline, SampledTiming, Timeline
from llm_simulator.infra.clock import FakeClock
from llm_simulator.telemetry.stats import Stats
from tests.engine.load.test_live_stream import make_sim as make_engine_sim
from tests.engine.load.test_live_stream import plan_for
from tests.engine.test_timing import FLAT, flat_request

LATE_S = 0.003


class LateScheduler(Scheduler):
    """Every wait is over at once, the fake clock moved to 3 ms past the due time (a late wake-up)."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(clock)
        self.fake = clock

    def wait_until(self, due: float) -> asyncio.Future[None] | None:
        if due <= self.fake.now():
            return None
        self.fake.advance_to(due + LATE_S)
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        fut.set_result(None)
        return fut

    wait_batched = wait_until  # a sampled token's wait: the same late wake-up


def make_sim() -> tuple[Simulator, FakeClock, Stats]:
    clock = FakeClock(start=50.0)
    stats = Stats()
    sim = Simulator(load_config(flags=FLAT), clock=clock)
    sim.timing = SampledTiming(clock, LateScheduler(clock), stats)
    return sim, clock, stats


def timeline_of(sim: Simulator, plan: GenerationPlan) -> Timeline:
    spec = sim.resolve_model("m", "openai")
    assert spec is not None
    return sim.generation_timeline(spec, plan, 1)


def flat_plan(sim: Simulator, tokens: int, admission: Admission | None = None) -> GenerationPlan:
    spec = sim.resolve_model("m", "openai")
    assert spec is not None
    plan = sim.plan(flat_request(tokens, admission=admission), spec, 1)
    plan.record = RequestRecord("req-1", "POST", "/v1/chat/completions", sim.clock.now(), 0.0)
    return plan


async def drive(pacer: EnginePacer, upto: int | None = None) -> int:
    """Take the tokens as the server's plain loop does (``upto``: stop early, as a client leaving)."""
    reached = 0
    pacer.start()
    try:
        for step in range(len(pacer.tokens) if upto is None else upto):
            waiter = pacer.wait(step)
            if waiter is not None:
                await waiter
            pacer.released()
            reached = step + 1
    finally:
        pacer.close()
    return reached


async def test_a_sampled_pacer_notes_what_the_general_stream_loop_notes() -> None:
    sim, clock, stats = make_sim()
    settled: list[int] = []
    plan = flat_plan(sim, 10, Admission(on_finish=settled.append))
    start = clock.now()
    pacer = pacer_for(sim, plan, timeline_of(sim, plan))
    assert isinstance(pacer, SampledPacer)
    await drive(pacer)
    record = plan.record
    assert record is not None and record.stream
    # TTFT 100 ms, then 20 ms apart; each wake-up 3 ms late (so the gaps stay 20 ms).
    assert record.first_token == pytest.approx(start + 0.1 + LATE_S)
    assert record.gaps == pytest.approx([0.02] * 9)
    assert record.last_token == pytest.approx(start + 0.1 + 9 * 0.02 + LATE_S)
    assert record.completion_tokens == 10
    assert stats.emit_error.late.count == 10 and stats.emit_error.late.sum == pytest.approx(10 * LATE_S)
    assert (sim.running, sim.waiting) == (0, 0)
    assert settled == [10]


async def test_a_stream_left_early_settles_what_it_released_and_leaves_the_gauges() -> None:
    sim, _, stats = make_sim()
    settled: list[int] = []
    plan = flat_plan(sim, 10, Admission(on_finish=settled.append))
    pacer = sim.pacer(plan, timeline_of(sim, plan))
    assert pacer is not None
    assert await drive(pacer, upto=4) == 4
    assert settled == [4] and (sim.running, sim.waiting) == (0, 0)
    assert plan.record is not None and len(plan.record.gaps) == 3
    assert stats.emit_error.late.count == 4


async def test_only_plain_streams_get_a_pacer() -> None:
    sim, _, _ = make_sim()
    spec = sim.resolve_model("m", "openai")
    assert spec is not None

    def pacer_of(plan: GenerationPlan) -> object:
        return sim.pacer(plan, sim.generation_timeline(spec, plan, 1))

    assert isinstance(pacer_of(flat_plan(sim, 5)), SampledPacer)
    fault = StreamFault(FaultKind.DISCONNECT, after_tokens=2)
    assert pacer_of(flat_plan(sim, 5, Admission(fault=fault))) is None  # a fault: the general loop
    two = flat_plan(sim, 5)
    two.choices.append(ChoicePlan(1, ["a"], FinishReason.STOP))
    assert pacer_of(two) is None  # several choices
    thinking = flat_plan(sim, 5)
    thinking.choices[0].segments = [Segment(SegmentKind.REASONING, 0, 2), Segment(SegmentKind.TEXT, 2, 5)]
    assert pacer_of(thinking) is None  # reasoning (hidden, or shown as thinking)
    empty = GenerationPlan(flat_plan(sim, 5).request, [ChoicePlan(0, [], FinishReason.STOP)], "fp")
    assert pacer_of(empty) is None  # nothing to pace
    delayed = DelayedTimeline(sim.clock.now() + 1.0, sim.scheduler, lambda: sim.generation_timeline(spec, empty, 1))
    assert sim.pacer(flat_plan(sim, 5), delayed) is None  # a scripted delay: the general loop


async def test_an_engine_pacer_takes_each_token_as_its_step_releases_it(tmp_path: Path) -> None:
    sim, scheduler = make_engine_sim(tmp_path)
    plan, timeline = plan_for(sim, 6)
    pacer = sim.pacer(plan, timeline)
    assert isinstance(pacer, EnginePacer) and not isinstance(pacer, SampledPacer)
    task = asyncio.ensure_future(drive(pacer))
    await asyncio.sleep(0)
    while not task.done():
        await scheduler.tick()
    assert task.result() == 6
    assert timeline.seq.generated == 6 and timeline.seq.done
    assert plan.record is not None and len(plan.record.gaps) == 5 and all(g > 0 for g in plan.record.gaps)
    assert (sim.running, sim.waiting) == (0, 0)


def test_a_records_later_tokens_in_one_call_make_the_same_gaps_as_one_call_each() -> None:
    one_by_one = RequestRecord("a", "POST", "/", 0.0, 0.0)
    batched = RequestRecord("b", "POST", "/", 0.0, 0.0)
    times = [1.0, 1.5, 1.75, 3.0]
    for now in times:
        one_by_one.token_released(now)
    batched.token_released(times[0])
    batched.tokens_released(times[1:])
    assert (batched.first_token, batched.gaps, batched.last_token) == (
        one_by_one.first_token,
        one_by_one.gaps,
        one_by_one.last_token,
    )
    batched.tokens_released([])  # nothing: unchanged
    assert batched.last_token == 3.0


def test_later_tokens_noted_before_any_first_token_start_with_it() -> None:
    """With no token noted yet the first of the times is the first token (TTFT), the rest make gaps."""
    for times in ([2.0], [2.0, 2.25], [2.0, 2.25, 2.5, 4.0]):
        one_by_one = RequestRecord("a", "POST", "/", 0.0, 0.0)
        batched = RequestRecord("b", "POST", "/", 0.0, 0.0)
        for now in times:
            one_by_one.token_released(now)
        batched.tokens_released(times)
        assert (batched.first_token, list(batched.gaps), batched.last_token) == (
            one_by_one.first_token,
            list(one_by_one.gaps),
            one_by_one.last_token,
        )


def test_emit_errors_in_one_call_split_into_late_and_early_as_one_call_each() -> None:
    one, many = Stats(), Stats()
    errors = [0.002, -0.0001, 0.0, 0.05]
    for error in errors:
        one.record_emit_error(error)
    many.record_emit_errors(errors)
    assert many.emit_error.snapshot() == one.emit_error.snapshot()
    many.record_emit_errors([0.001])  # all late: the short path
    assert many.emit_error.late.count == 4


async def test_a_pacers_wait_raises_the_engines_error(tmp_path: Path) -> None:
    sim, _ = make_engine_sim(tmp_path)
    plan, timeline = plan_for(sim, 3)
    pacer = sim.pacer(plan, timeline)
    assert pacer is not None
    timeline.error = SimulatorError(ErrorKind.OVERLOADED, "The engine gave up on it.")
    with pytest.raises(SimulatorError):
        pacer.wait(0)
    pacer.close()
    assert timeline.seq.done
