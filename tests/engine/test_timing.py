"""Timing on a fake clock: TTFT grows with the prompt; non-streamed = TTFT + Σ ITL."""

from __future__ import annotations

import random

import pytest

from llm_simulator.config import load_config
from llm_simulator.config.distributions import FixedSpec, LatencyProfileSpec, LogNormalSpec
from llm_simulator.core.types import Endpoint, FinishEvent, GenerationRequest, Message
from llm_simulator.engine.observer import NullObserver
from llm_simulator.engine.simulator import Simulator
from llm_simulator.engine.timing import CompiledProfile, SampledTiming
from llm_simulator.infra.clock import FakeClock
from tests.engine.fakes import VirtualScheduler


def make_sim(**flags: object) -> tuple[Simulator, FakeClock, VirtualScheduler]:
    clock = FakeClock()
    sched = VirtualScheduler(clock)
    config = load_config(flags=flags)
    sim = Simulator(config, clock=clock, timing=SampledTiming(clock, sched, NullObserver()))
    return sim, clock, sched


# A model "m" on a fixed profile: TTFT 100 ms, then 20 ms per token.
FLAT: dict[str, object] = {
    "latency.profiles": {
        "flat": {"ttft": {"type": "fixed", "value_ms": 100}, "itl": {"type": "fixed", "value_ms": 20}}
    },
    "latency.default_profile": "flat",
    "models.add": [{"id": "m", "latency_profile": "flat"}],
}


def flat_request(max_tokens: int, **fields: object) -> GenerationRequest:
    """A request to the flat model "m" for exactly ``max_tokens`` tokens."""
    return GenerationRequest(
        model="m",
        endpoint=Endpoint.CHAT,
        messages=(Message("user", "x"),),
        prompt_tokens=0,
        max_tokens=max_tokens,
        ignore_eos=True,
        **fields,  # type: ignore[arg-type]
    )


def request(max_tokens: int = 20, prompt_tokens: int = 10) -> GenerationRequest:
    return GenerationRequest(
        model="gpt-4o",
        endpoint=Endpoint.CHAT,
        messages=(Message("user", "hi"),),
        prompt_tokens=prompt_tokens,
        max_tokens=max_tokens,
        ignore_eos=True,
    )


def test_ttft_grows_linearly_with_prompt_tokens() -> None:
    spec = LatencyProfileSpec(
        ttft=FixedSpec(value_ms=100), itl=FixedSpec(value_ms=10), overhead_ms=5, prefill_ms_per_token=0.5
    )
    profile = CompiledProfile.compile("p", spec, multiplier=2.0)
    rng = random.Random(0)
    assert profile.first_token_s(0, rng) == pytest.approx((5 + 100) * 2 / 1000)
    assert profile.first_token_s(1000, rng) == pytest.approx((5 + 100 + 500) * 2 / 1000)
    assert profile.next_token_s(rng) == pytest.approx(0.02)


async def test_non_stream_takes_ttft_plus_sum_of_itl() -> None:
    sim, clock, _ = make_sim()
    model = sim.resolve_model("gpt-4o", "openai")
    assert model is not None
    req = request(max_tokens=30)
    plan = sim.plan(req, model, 42)
    start = clock.now()
    await sim.complete(plan, sim.open_timeline(model, req.prompt_tokens, 42))
    non_stream = clock.now() - start

    # Streaming the same plan with the same seed releases its last token at the same time.
    sim2, clock2, sched2 = make_sim()
    plan2 = sim2.plan(req, model, 42)
    start2 = clock2.now()
    times: list[float] = []
    async for _event in sim2.stream(plan2, sim2.open_timeline(model, req.prompt_tokens, 42)):
        times.append(clock2.now() - start2)
    assert len(sched2.waits) == plan2.steps == 30
    assert times[-1] == pytest.approx(non_stream)
    # Every gap between steps is a positive ITL sample (jitter: not all equal).
    gaps = [b - a for a, b in zip(sched2.waits, sched2.waits[1:], strict=False)]
    assert all(g > 0 for g in gaps)
    assert len({round(g, 9) for g in gaps}) > 1
    assert non_stream > gaps[0]


async def test_due_times_are_absolute_from_start() -> None:
    sim, clock, sched = make_sim(**FLAT)
    model = sim.resolve_model("m", "openai")
    assert model is not None
    plan = sim.plan(flat_request(5), model, 1)
    start = clock.now()
    async for _ in sim.stream(plan, sim.open_timeline(model, 0, 1)):
        pass
    assert [round(w - start, 6) for w in sched.waits] == [0.1, 0.12, 0.14, 0.16, 0.18]


async def test_fixed_ttft_and_itl_seed_no_generator(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fixed profile draws nothing, so its timeline seeds no latency generator; a drawn one does."""
    import llm_simulator.infra.rng as rng_module
    from llm_simulator.infra.rng import derive_random as real

    seeded: list[tuple[object, ...]] = []

    def counting(*parts: object) -> random.Random:
        seeded.append(parts)
        return real(*parts)

    monkeypatch.setattr(rng_module, "derive_random", counting)
    sim, clock, sched = make_sim(**FLAT)
    model = sim.resolve_model("m", "openai")
    assert model is not None
    assert not sim.profile_for(model).draws
    start = clock.now()
    async for _ in sim.stream(sim.plan(flat_request(3), model, 1), sim.open_timeline(model, 0, 1)):
        pass
    assert not [parts for parts in seeded if "latency" in parts]
    assert [round(w - start, 6) for w in sched.waits] == [0.1, 0.12, 0.14]  # the same times

    drawn = make_sim()[0]
    jittered = drawn.resolve_model("gpt-4o", "openai")
    assert jittered is not None
    assert drawn.profile_for(jittered).draws
    drawn.open_timeline(jittered, 0, 1)
    assert [parts for parts in seeded if "latency" in parts] == [(1, "latency")]


def test_multiplier_and_no_latency() -> None:
    sim, _, _ = make_sim(**{"latency.multiplier": 0.5})
    model = sim.resolve_model("gpt-4o", "openai")
    assert model is not None
    assert sim.profile_for(model).multiplier == 0.5
    sim_off, _, _ = make_sim(**{"latency.enabled": False})
    off = sim_off.profile_for(model)
    assert off.first_token_s(100_000, random.Random(1)) == 0.0
    assert off.next_token_s(random.Random(1)) == 0.0


def test_lognormal_by_quantiles_matches_p50_p99() -> None:
    from llm_simulator.engine.latency.distributions import build_sampler

    sample = build_sampler(LogNormalSpec(p50_ms=100, p99_ms=400))
    rng = random.Random(3)
    values = sorted(sample(rng) for _ in range(40_000))
    assert values[len(values) // 2] == pytest.approx(100, rel=0.05)
    assert values[int(len(values) * 0.99)] == pytest.approx(400, rel=0.1)


async def test_a_start_delay_moves_every_due_time() -> None:
    flat = {
        "latency.profiles": {
            "flat": {"ttft": {"type": "fixed", "value_ms": 100}, "itl": {"type": "fixed", "value_ms": 20}}
        },
        "models.add": [{"id": "m", "latency_profile": "flat"}],
    }
    sim, clock, sched = make_sim(**flat)
    sim.scheduler = sched  # the delay waits on the simulator's scheduler
    model = sim.resolve_model("m", "openai")
    assert model is not None
    req = GenerationRequest(
        model="m",
        endpoint=Endpoint.CHAT,
        messages=(Message("user", "x"),),
        prompt_tokens=0,
        max_tokens=3,
        ignore_eos=True,
    )
    plan = sim.plan(req, model, 1)
    start = clock.now()
    async for _ in sim.stream(plan, sim.open_timeline(model, 0, 1, delay_s=0.5)):
        pass
    assert [round(w - start, 6) for w in sched.waits] == [0.5, 0.6, 0.62, 0.64]
    # Non-streamed, and with latency off: the delay alone.
    sim_off, clock_off, sched_off = make_sim(**{"latency.enabled": False})
    sim_off.scheduler = sched_off
    gpt = sim_off.resolve_model("gpt-4o", "openai")
    assert gpt is not None
    start = clock_off.now()
    await sim_off.complete(sim_off.plan(request(), gpt, 1), sim_off.open_timeline(gpt, 10, 1, delay_s=0.25))
    assert clock_off.now() - start == pytest.approx(0.25)
    await sim_off.pause(0.1)
    assert clock_off.now() - start == pytest.approx(0.35)


async def test_hidden_reasoning_is_skipped_without_losing_a_finish() -> None:
    """Hiding reasoning drops the hidden tokens' events, never a choice's finish."""
    sim = Simulator(load_config(flags={"latency.enabled": False}))
    spec = sim.resolve_model("o4-mini", "openai")
    assert spec is not None
    gen = GenerationRequest(
        model="o4-mini",
        endpoint=Endpoint.CHAT,
        messages=(Message("user", "hi"),),
        prompt_tokens=5,
        max_tokens=400,
        n=2,
        reasoning_budget=100,
    )
    plan = sim.plan(gen, spec, 3)
    lead = plan.leading_reasoning_steps()
    assert lead >= 40
    shown = [e async for e in sim.stream(plan, sim.open_timeline(spec, 5, 3), hide_reasoning=True)]
    every = [e async for e in sim.stream(plan, sim.open_timeline(spec, 5, 3))]
    assert len(every) - len(shown) == 2 * lead  # the skipped hidden tokens of both choices
    assert [e for e in every if isinstance(e, FinishEvent)] == [e for e in shown if isinstance(e, FinishEvent)]


async def test_hidden_reasoning_passes_in_one_wait_at_the_same_due_times() -> None:
    sim, clock, sched = make_sim(**FLAT)
    model = sim.resolve_model("m", "openai")
    assert model is not None
    plan = sim.plan(flat_request(30, reasoning_budget=10), model, 1)
    lead = plan.leading_reasoning_steps()
    assert 4 <= lead <= 10
    start = clock.now()
    async for _ in sim.stream(plan, sim.open_timeline(model, 0, 1), hide_reasoning=True):
        pass
    expected = [0.1 + 0.02 * step for step in range(lead, plan.steps)]
    assert [round(w - start, 6) for w in sched.waits] == [round(e, 6) for e in expected]
