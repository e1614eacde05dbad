"""Fresh base seeds: an unseeded request draws from one shared generator, a seeded one from its own."""

from __future__ import annotations

import os
import random

import pytest

import llm_simulator.infra.rng as rng_module
from llm_simulator.config import load_config
from llm_simulator.core.types import Endpoint, GenerationRequest, Message
from llm_simulator.engine.catalogue import ModelSpec
from llm_simulator.engine.observer import NullObserver
from llm_simulator.engine.simulator import Simulator
from llm_simulator.engine.timing import SampledTimeline, SampledTiming
from llm_simulator.infra.clock import FakeClock
from llm_simulator.infra.rng import FRESH, FreshSeed, SeedSource, derive_random
from tests.engine.fakes import VirtualScheduler

MESSAGES = (Message("user", "hello"),)


def _request(seed: int | None = None) -> GenerationRequest:
    return GenerationRequest(
        model="gpt-4o", endpoint=Endpoint.CHAT, messages=MESSAGES, prompt_tokens=5, max_tokens=30, seed=seed
    )


def _sim(**flags: object) -> tuple[Simulator, ModelSpec]:
    sim = Simulator(load_config(flags=flags))
    model = sim.resolve_model("gpt-4o", "openai")
    assert model is not None
    return sim, model


def _text(sim: Simulator, model: ModelSpec, seed: int | None) -> str:
    base = sim.request_seed(seed, "gpt-4o", MESSAGES)
    return sim.plan(_request(seed), model, base).choices[0].text


def test_an_unseeded_request_draws_from_fresh_without_seeding_a_generator(monkeypatch: pytest.MonkeyPatch) -> None:
    sim, model = _sim()
    derived: list[tuple[object, ...]] = []
    real = rng_module.derive_random

    def counting(*parts: object) -> random.Random:
        derived.append(parts)
        return real(*parts)

    monkeypatch.setattr(rng_module, "derive_random", counting)
    base = sim.request_seed(None, "gpt-4o", MESSAGES)
    assert type(base) is FreshSeed
    assert sim.seeds.generator(base, "text") is FRESH
    texts = {_text(sim, model, None) for _ in range(3)}
    assert derived == []  # no request seeded a generator of its own
    assert len(texts) == 3  # and each still got a text of its own


def test_a_seeded_request_reproduces_whatever_fresh_requests_draw_around_it() -> None:
    sim, model = _sim()
    first = _text(sim, model, 7)
    for _ in range(3):
        _text(sim, model, None)
    assert _text(sim, model, 7) == first
    base = sim.request_seed(7, "gpt-4o", MESSAGES)
    assert type(base) is int
    assert sim.planner.plan(_request(7), model, derive_random(base, "text")).choices[0].text == first


def test_a_run_seed_keeps_every_unseeded_request_reproducible() -> None:
    source = SeedSource(5)
    base = source.next_seed()
    assert type(base) is int
    generator = source.generator(base, "text")
    assert generator is not FRESH
    assert generator.getstate() == derive_random(base, "text").getstate()

    def first_three() -> list[str]:
        sim, model = _sim(seed=5)
        return [_text(sim, model, None) for _ in range(3)]

    assert first_three() == first_three()


def test_reproducible_requests_never_draw_from_fresh() -> None:
    before = FRESH.getstate()
    sim, model = _sim()
    _text(sim, model, 7)  # a request seed
    sim.open_timeline(model, 10, sim.request_seed(7, "gpt-4o", MESSAGES))
    run_seeded, model = _sim(seed=5)
    _text(run_seeded, model, None)  # a run seed
    run_seeded.open_timeline(model, 10, run_seeded.request_seed(None))
    assert FRESH.getstate() == before


def test_arithmetic_on_a_fresh_seed_gives_a_seed_derived_as_usual() -> None:
    # A legacy completion plans its k-th prompt from base seed + k.
    moved = FreshSeed(41) + 1
    assert type(moved) is int
    assert SeedSource.generator(moved, "text").getstate() == derive_random(42, "text").getstate()
    assert repr(FreshSeed(42)) == "42"  # what derive_seed hashes: the same as the plain int's


def test_an_unseeded_streams_latency_draws_come_from_fresh_and_a_seeded_ones_repeat() -> None:
    clock = FakeClock()
    timing = SampledTiming(clock, VirtualScheduler(clock), NullObserver())
    sim = Simulator(load_config(), clock=clock, timing=timing)
    model = sim.resolve_model("gpt-4o", "openai")
    assert model is not None
    assert sim.profile_for(model).draws  # gpt-4o's default profile samples its latencies
    fresh = sim.open_timeline(model, 10, sim.request_seed(None))
    assert isinstance(fresh, SampledTimeline)
    assert fresh._rng is FRESH
    first, second = (sim.open_timeline(model, 10, 99) for _ in range(2))
    assert isinstance(first, SampledTimeline) and isinstance(second, SampledTimeline)
    assert first._rng is not FRESH and second._rng is not FRESH
    assert first._next_due == second._next_due  # the same first-token draw, on a clock that stood still


def test_a_forked_child_draws_fresh_values_of_its_own() -> None:
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.write(writer, FRESH.getrandbits(64).to_bytes(8, "big"))
        finally:
            os._exit(0)
    os.close(writer)
    drawn = os.read(reader, 8)
    os.close(reader)
    _, status = os.waitpid(pid, 0)
    assert len(drawn) == 8 and os.waitstatus_to_exitcode(status) == 0
    assert int.from_bytes(drawn, "big") != FRESH.getrandbits(64)  # without the fork hook the child replays it
