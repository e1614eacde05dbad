"""Chaos effects in the engine on a fake clock: latency scale, stalls, cuts, errors, settlement."""

from __future__ import annotations

import dataclasses

import pytest

from llm_simulator.core.errors import ErrorKind, SimulatorError
from llm_simulator.core.faults import Admission, FaultKind, StreamCut, StreamFault
from llm_simulator.core.types import FinishEvent, GenerationPlan, StreamEvent, TokenEvent
from llm_simulator.engine.simulator import Simulator
from llm_simulator.infra.clock import FakeClock
from tests.engine.fakes import VirtualScheduler
from tests.engine.test_timing import FLAT, flat_request
from tests.engine.test_timing import make_sim as make_timed_sim


def make_sim(**flags: object) -> tuple[Simulator, FakeClock, VirtualScheduler]:
    """The timing tests' simulator, with pauses (stalls) on the same virtual clock."""
    sim, clock, sched = make_timed_sim(**flags)
    sim.scheduler = sched
    return sim, clock, sched


def planned(sim: Simulator, tokens: int, admission: Admission) -> GenerationPlan:
    model = sim.resolve_model("m", "openai")
    assert model is not None
    return sim.plan(dataclasses.replace(flat_request(tokens), admission=admission), model, 1)


async def collect(sim: Simulator, plan: GenerationPlan, events: list[StreamEvent] | None = None) -> list[StreamEvent]:
    """Stream ``plan`` into ``events`` (kept even when the stream raises)."""
    model = sim.resolve_model("m", "openai")
    assert model is not None
    out = events if events is not None else []
    async for event in sim.stream(plan, sim.open_timeline(model, 0, 1, admission=plan.request.admission)):
        out.append(event)
    return out


async def test_latency_scale_multiplies_ttft_and_every_itl() -> None:
    sim, clock, sched = make_sim(**FLAT)
    start = clock.now()
    await collect(sim, planned(sim, 3, Admission(latency_scale=2.0)))
    assert [round(w - start, 6) for w in sched.waits] == [0.2, 0.24, 0.28]


async def test_a_stall_pauses_then_moves_the_rest_of_the_stream() -> None:
    sim, clock, sched = make_sim(**FLAT)
    start = clock.now()
    fault = StreamFault(FaultKind.STALL, after_tokens=2, duration_s=0.5)
    events = await collect(sim, planned(sim, 5, Admission(fault=fault)))
    assert sum(isinstance(e, TokenEvent) for e in events) == 5
    assert [round(w - start, 6) for w in sched.waits] == [0.1, 0.12, 0.62, 0.64, 0.66, 0.68]


async def test_a_cut_strikes_after_exactly_n_tokens_and_settles_them() -> None:
    sim, _, _ = make_sim(**FLAT)
    settled: list[int] = []
    fault = StreamFault(FaultKind.DISCONNECT, after_tokens=3)
    plan = planned(sim, 8, Admission(fault=fault, on_finish=settled.append))
    events: list[StreamEvent] = []
    with pytest.raises(StreamCut) as caught:
        await collect(sim, plan, events)
    assert caught.value.fault.kind is FaultKind.DISCONNECT
    assert len(events) == 3 and all(isinstance(e, TokenEvent) for e in events)
    assert settled == [3]


async def test_an_error_event_raises_the_fault_error() -> None:
    sim, _, _ = make_sim(**FLAT)
    error = SimulatorError(ErrorKind.OVERLOADED, "Overloaded")
    fault = StreamFault(FaultKind.ERROR_EVENT, after_tokens=0, error=error)
    with pytest.raises(SimulatorError) as caught:
        await collect(sim, planned(sim, 4, Admission(fault=fault)))
    assert caught.value is error


async def test_a_fault_set_beyond_the_response_strikes_before_the_terminator() -> None:
    sim, _, _ = make_sim(**FLAT)
    fault = StreamFault(FaultKind.NO_TERMINATOR, after_tokens=100)
    plan = planned(sim, 4, Admission(fault=fault))
    events: list[StreamEvent] = []
    with pytest.raises(StreamCut):
        await collect(sim, plan, events)
    assert sum(isinstance(e, TokenEvent) for e in events) == 4
    assert isinstance(events[-1], FinishEvent)


async def test_complete_applies_stalls_and_cuts_as_the_stream_would() -> None:
    sim, clock, _ = make_sim(**FLAT)
    model = sim.resolve_model("m", "openai")
    assert model is not None
    start = clock.now()
    stall = planned(sim, 5, Admission(fault=StreamFault(FaultKind.STALL, after_tokens=1, duration_s=1.0)))
    await sim.complete(stall, sim.open_timeline(model, 0, 1))
    assert round(clock.now() - start, 6) == 1.18  # TTFT + 4 ITL + the stall

    settled: list[int] = []
    cut = planned(sim, 5, Admission(fault=StreamFault(FaultKind.DISCONNECT, after_tokens=2), on_finish=settled.append))
    start = clock.now()
    with pytest.raises(StreamCut):
        await sim.complete(cut, sim.open_timeline(model, 0, 1))
    assert round(clock.now() - start, 6) == 0.12  # the cut comes when token 2 would have
    assert settled == [2]


async def test_a_finished_response_settles_every_token() -> None:
    sim, _, _ = make_sim(**FLAT)
    settled: list[int] = []
    await collect(sim, planned(sim, 6, Admission(on_finish=settled.append)))
    assert settled == [6]


async def test_several_choices_strike_at_the_same_token_count_streamed_or_not() -> None:
    sim, _, _ = make_sim(**FLAT)
    fault = StreamFault(FaultKind.DISCONNECT, after_tokens=4)
    plan = planned(sim, 6, Admission(fault=fault))
    plan = sim.plan(dataclasses.replace(plan.request, n=2), sim.resolve_model("m", "openai"), 1)  # type: ignore[arg-type]
    events: list[StreamEvent] = []
    with pytest.raises(StreamCut):
        await collect(sim, plan, events)
    assert sum(isinstance(e, TokenEvent) for e in events) == 4  # two steps of two choices
    settled: list[int] = []
    admission = Admission(fault=fault, on_finish=settled.append)
    quiet = sim.plan(dataclasses.replace(plan.request, admission=admission), sim.resolve_model("m", "openai"), 1)  # type: ignore[arg-type]
    model = sim.resolve_model("m", "openai")
    assert model is not None
    with pytest.raises(StreamCut):
        await sim.complete(quiet, sim.open_timeline(model, 0, 1))
    assert settled == [4]


async def test_hidden_reasoning_does_not_count_towards_a_fault() -> None:
    sim, _, _ = make_sim(**FLAT)
    fault = StreamFault(FaultKind.NO_TERMINATOR, after_tokens=2)
    request = dataclasses.replace(flat_request(40), reasoning_budget=10, admission=Admission(fault=fault))
    model = sim.resolve_model("m", "openai")
    assert model is not None
    plan = sim.plan(request, model, 1)
    hidden = plan.choices[0].hidden_lead
    assert 0 < hidden < 40
    events: list[StreamEvent] = []
    with pytest.raises(StreamCut):
        await collect(sim, plan, events)
    tokens = [e for e in events if isinstance(e, TokenEvent)]
    assert len(tokens) == hidden + 2  # every hidden token, then two visible ones
