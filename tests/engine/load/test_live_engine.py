"""The live engine: step loop on a fake clock, disconnects, overload errors, the Simulator wiring."""

from __future__ import annotations

import asyncio
import heapq
import itertools

import pytest

from llm_simulator.config import load_config
from llm_simulator.config.loader import ConfigError
from llm_simulator.core.errors import ErrorKind, SimulatorError
from llm_simulator.core.types import Endpoint, GenerationRequest, Message, ToolSpec
from llm_simulator.engine.load.deployment import DeploymentSpec
from llm_simulator.engine.load.live import WAKE_SLICE, EngineTimeline, LiveEngine, ReleaseOrder
from llm_simulator.engine.load.replica import EngineSettings
from llm_simulator.engine.load.sequence import Sequence
from llm_simulator.engine.load.stepmodel import StepTimeModel
from llm_simulator.engine.observer import NullObserver
from llm_simulator.engine.scheduler import Scheduler
from llm_simulator.engine.simulator import Simulator
from llm_simulator.infra.clock import FakeClock
from tests.engine.fakes import VirtualScheduler

# Steps of exactly 10 ms + 1 ms per prefill token, no noise: easy to compute by hand.
FLAT_STEP = StepTimeModel(
    step_ms=10.0, weights_ms=0.0, prefill_ms_per_token=1.0, kv_ms_per_token=0.0, overlap=0.0, jitter_sigma=0.0
)


class ManualScheduler(Scheduler):
    """Parks every wait until the test releases it with ``tick`` (which moves the fake clock)."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(clock)
        self.fake = clock
        self.pending: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def wait_until(self, due: float) -> asyncio.Future[None] | None:
        if due <= self.fake.now():
            return None
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self.pending, (due, next(self._order), fut))
        return fut

    async def tick(self) -> None:
        """Release the earliest wait, then let the woken tasks run."""
        due, _, fut = heapq.heappop(self.pending)
        self.fake.advance_to(due)
        fut.set_result(None)
        for _ in range(5):
            await asyncio.sleep(0)


def make_engine(**settings: object) -> tuple[LiveEngine, FakeClock]:
    """An engine whose waits complete at once (a whole run is instantaneous on the fake clock)."""
    clock = FakeClock(start=0.0)
    spec = DeploymentSpec("test", EngineSettings(**settings), FLAT_STEP)  # type: ignore[arg-type]
    return LiveEngine(spec, clock, VirtualScheduler(clock), NullObserver(), seed=1), clock


def make_manual_engine(**settings: object) -> tuple[LiveEngine, ManualScheduler]:
    """An engine that advances one step per ``tick``."""
    clock = FakeClock(start=0.0)
    scheduler = ManualScheduler(clock)
    spec = DeploymentSpec("test", EngineSettings(**settings), FLAT_STEP)  # type: ignore[arg-type]
    return LiveEngine(spec, clock, scheduler, NullObserver(), seed=1), scheduler


async def test_first_token_after_prefill_then_one_token_per_step() -> None:
    engine, clock = make_engine(max_num_batched_tokens=64, kv_blocks=100)
    timeline = engine.open(prompt_tokens=100, steps=5, width=1, hashes=())
    await timeline.wait_end(5)
    # Prefill in chunks of 64 then 36 tokens: 74 ms + 46 ms; the first token at 120 ms.
    assert timeline.seq.first_token_ms == pytest.approx(120.0)
    # Four decode steps of 10 ms + 1 ms (one token each) follow.
    assert timeline.seq.finish_ms == pytest.approx(120.0 + 4 * 11.0)
    assert clock.now() * 1000 == pytest.approx(164.0)
    assert timeline.seq.done
    assert engine.replicas[0].kv.used == 0  # a finished sequence frees its blocks


async def test_concurrent_requests_share_steps_and_slow_each_other() -> None:
    alone, clock_alone = make_engine(kv_blocks=1000)
    single = alone.open(prompt_tokens=50, steps=20, width=1, hashes=())
    await single.wait_end(20)
    alone_ms = clock_alone.now() * 1000

    busy, clock_busy = make_engine(kv_blocks=1000)
    many = [busy.open(prompt_tokens=50, steps=20, width=1, hashes=()) for _ in range(8)]
    await asyncio.gather(*(t.wait_end(20) for t in many))
    # Eight prompts prefill together (one long step) and then decode as a batch of eight.
    assert clock_busy.now() * 1000 > alone_ms
    assert busy.replicas[0].counters.steps < 8 * alone.replicas[0].counters.steps


async def test_disconnect_frees_the_sequence_and_its_blocks_at_once() -> None:
    engine, scheduler = make_manual_engine(kv_blocks=1000)
    timeline = engine.open(prompt_tokens=160, steps=1000, width=1, hashes=())
    await asyncio.sleep(0)
    for _ in range(3):
        await scheduler.tick()
    assert timeline.seq.generated == 3
    replica = engine.replicas[0]
    assert replica.kv.used > 0
    timeline.close()
    assert replica.kv.used == 0
    assert not replica.running
    assert replica.counters.aborted == 1


async def test_a_big_batch_is_woken_in_slices_in_slot_order_with_every_token_there() -> None:
    # The streams start together, so their slots follow the batch: 0, 1, 2, ...
    engine, scheduler = make_manual_engine(kv_blocks=10_000, max_num_seqs=1000, max_num_batched_tokens=10_000)
    timelines = [engine.open(prompt_tokens=1, steps=3, width=1, hashes=()) for _ in range(2 * WAKE_SLICE + 1)]
    passes = 0
    woken: list[tuple[int, int, int]] = []  # (stream, loop pass, fewest tokens any sequence had then)

    async def count_passes() -> None:
        nonlocal passes
        while True:
            passes += 1
            await asyncio.sleep(0)

    async def first_token(i: int, timeline: EngineTimeline) -> None:
        await timeline.wait_step(0)
        woken.append((i, passes, min(t.seq.generated for t in timelines)))

    counter = asyncio.create_task(count_passes())
    streams = [asyncio.create_task(first_token(i, t)) for i, t in enumerate(timelines)]
    await asyncio.sleep(0)
    await scheduler.tick()  # the prefill step ends: every sequence samples its first token
    await asyncio.gather(*streams)
    counter.cancel()
    assert [i for i, _, _ in woken] == list(range(len(timelines)))  # slot order
    assert all(least == 1 for _, _, least in woken)  # the whole step's tokens exist from its end
    slices = sorted({p for _, p, _ in woken})
    assert len(slices) == 3  # 128 + 128 + 1, a loop pass apart
    assert [sum(1 for _, p, _ in woken if p == s) for s in slices] == [WAKE_SLICE, WAKE_SLICE, 1]


async def test_a_stream_keeps_its_release_place_and_a_new_one_takes_the_lowest_free_slot() -> None:
    """A step's streams are released in slot order, not batch order (``ReleaseOrder``).

    ``short`` ends with its first token and frees slot 0; ``d``, queued next, takes it. In
    the step where ``d`` gets its first token the batch is ``b, c, d`` (running ones first),
    but ``d`` is released first: in its slot, where ``short`` was.
    """
    engine, scheduler = make_manual_engine(kv_blocks=10_000, max_num_seqs=100, max_num_batched_tokens=10_000)
    woken: list[tuple[str, int]] = []

    async def follow(name: str, timeline: EngineTimeline, steps: int) -> None:
        for step in range(steps):
            await timeline.wait_step(step)
            woken.append((name, step))

    opened = {
        name: engine.open(prompt_tokens=1, steps=steps, width=1, hashes=())
        for name, steps in [("short", 1), ("b", 6), ("c", 6)]
    }
    tasks = [asyncio.create_task(follow(name, t, t.seq.target)) for name, t in opened.items()]
    await asyncio.sleep(0)
    await scheduler.tick()  # step 1: the first tokens of short, b and c
    assert woken == [("short", 0), ("b", 0), ("c", 0)]
    d = engine.open(prompt_tokens=1, steps=6, width=1, hashes=())
    tasks.append(asyncio.create_task(follow("d", d, 6)))
    await scheduler.tick()  # step 2 (formed before d was queued): b and c
    assert woken[3:] == [("b", 1), ("c", 1)]
    await scheduler.tick()  # step 3: batch b, c, d; released d (slot 0), b, c
    assert woken[5:] == [("d", 0), ("b", 2), ("c", 2)]
    assert engine._orders[0].slots == [d.seq, opened["b"].seq, opened["c"].seq]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def test_release_order_hands_out_the_lowest_free_slot_and_counts_the_held_ones() -> None:
    order = ReleaseOrder()
    seqs = [Sequence(i, 1, 1, 0.0) for i in range(5)]
    for seq in seqs[:4]:
        order.add(seq)
    order.free(2)
    order.free(0)
    assert len(order) == 2
    order.add(seqs[4])  # the lowest free slot: 0
    assert order.slots == [seqs[4], seqs[1], None, seqs[3]] and len(order) == 3
    # Freeing the last slot cuts the free end; a slot left in the heap beyond it is not handed out.
    order.free(3)
    assert order.slots == [seqs[4], seqs[1]] and len(order) == 2
    order.add(seqs[0])
    order.add(seqs[2])
    assert order.slots == [seqs[4], seqs[1], seqs[0], seqs[2]] and len(order) == 4
    order.clear()
    assert order.slots == [] and len(order) == 0


async def test_only_sequences_with_a_token_hold_a_slot_and_the_order_empties_when_idle() -> None:
    """A queued sequence costs the release pass nothing; an aborted one leaves its slot; an idle replica keeps none."""
    engine, scheduler = make_manual_engine(kv_blocks=10_000, max_num_seqs=2, max_num_batched_tokens=10_000)
    timelines = [engine.open(prompt_tokens=1, steps=3, width=1, hashes=()) for _ in range(5)]
    await asyncio.sleep(0)
    await scheduler.tick()  # step 1: two run (their first tokens), three wait
    order = engine._orders[0]
    assert order.slots == [timelines[0].seq, timelines[1].seq] and len(engine.replicas[0].waiting) == 3
    timelines[0].close()  # the client left: the sequence is aborted
    await scheduler.tick()  # step 2: the walk frees its slot; the next queued one starts
    await scheduler.tick()
    assert timelines[0].seq not in order.slots and len(order) <= 2
    while engine._tasks:
        await scheduler.tick()
    assert all(t.seq.done for t in timelines[1:])
    assert order.slots == [] and len(order) == 0


class StallOnce(VirtualScheduler):
    """Every wait ends at its time, but the third ends 30 ms late (a stalled event loop)."""

    def wait_until(self, due: float) -> asyncio.Future[None] | None:
        super().wait_until(due + (0.030 if len(self.waits) == 2 else 0.0))
        return None


class Errors(NullObserver):
    """Keeps the emit errors."""

    def __init__(self) -> None:
        self.errors: list[float] = []

    def record_emit_error(self, error_s: float) -> None:
        self.errors.append(error_s)


async def test_after_a_stall_late_steps_catch_up_at_a_bounded_pace_without_drift() -> None:
    clock = FakeClock(start=0.0)
    observer = Errors()
    spec = DeploymentSpec("test", EngineSettings(kv_blocks=100), FLAT_STEP)
    engine = LiveEngine(spec, clock, StallOnce(clock), observer, seed=1)
    timeline = engine.open(prompt_tokens=10, steps=12, width=1, hashes=())
    await timeline.wait_end(12)
    late_ms = [e * 1000 for e in observer.errors]
    # Decode steps take 11 ms; a late one follows the previous release after 0.6 × 11 ms at
    # the soonest, so each wins back 4.4 ms of the 30 ms: every late release counts.
    expected = [0.0, 0.0, 30.0, 25.6, 21.2, 16.8, 12.4, 8.0, 3.6, 0.0, 0.0, 0.0]
    assert late_ms == pytest.approx(expected, abs=1e-6)
    # Due times stay ideal: prefill 10 + 10 ms, then eleven steps of 11 ms (no drift).
    assert timeline.seq.finish_ms == pytest.approx(20.0 + 11 * 11.0)


async def test_a_full_queue_refuses_with_the_overload_error() -> None:
    engine, _ = make_manual_engine(max_num_seqs=1, max_waiting=1, kv_blocks=1000)
    engine.open(prompt_tokens=10, steps=5, width=1, hashes=())
    await asyncio.sleep(0)  # the step loop admits the first request (one seat)
    engine.open(prompt_tokens=10, steps=5, width=1, hashes=())  # the second waits
    with pytest.raises(SimulatorError) as caught:
        engine.open(prompt_tokens=10, steps=5, width=1, hashes=())
    assert caught.value.kind is ErrorKind.OVERLOADED
    assert "queue is full" in caught.value.message


async def test_a_request_that_can_never_fit_is_refused() -> None:
    engine, _ = make_engine(kv_blocks=10, block_size=16)
    with pytest.raises(SimulatorError, match="more KV cache"):
        engine.open(prompt_tokens=10_000, steps=5, width=1, hashes=())


async def test_a_queue_timeout_fails_the_waiting_stream() -> None:
    engine, _ = make_engine(max_num_seqs=1, queue_timeout_ms=50, kv_blocks=1000)
    first = engine.open(prompt_tokens=10, steps=100, width=1, hashes=())
    second = engine.open(prompt_tokens=10, steps=5, width=1, hashes=())
    await first.wait_step(0)
    with pytest.raises(SimulatorError) as caught:
        await second.wait_step(0)
    assert caught.value.kind is ErrorKind.OVERLOADED
    assert "waited too long" in caught.value.message
    await first.wait_end(100)


async def test_park_hands_out_a_future_only_for_a_token_not_out_yet() -> None:
    engine, scheduler = make_manual_engine(kv_blocks=1000)
    timeline = engine.open(prompt_tokens=10, steps=10, width=1, hashes=())
    await asyncio.sleep(0)
    waiter = timeline.park(0)
    assert waiter is not None and not waiter.done()
    for _ in range(3):
        await scheduler.tick()
    assert waiter.done() and timeline.seq.generated == 3
    # Tokens the engine released while the stream was busy: no future, no wait.
    assert timeline.park(1) is None and timeline.park(2) is None
    assert timeline.park(3) is not None
    timeline.close()


async def test_a_parked_stream_gets_the_queue_timeout_from_its_future() -> None:
    engine, _ = make_engine(max_num_seqs=1, queue_timeout_ms=50, kv_blocks=1000)
    first = engine.open(prompt_tokens=10, steps=100, width=1, hashes=())
    second = engine.open(prompt_tokens=10, steps=5, width=1, hashes=())
    waiter = second.park(0)
    assert waiter is not None
    await first.wait_step(0)
    with pytest.raises(SimulatorError, match="waited too long"):
        await waiter
    with pytest.raises(SimulatorError, match="waited too long"):
        second.park(0)  # and so does every later park
    await first.wait_end(100)


async def test_prefix_cache_skips_the_shared_prefill() -> None:
    engine, clock = make_engine(kv_blocks=1000, prefix_caching=True, block_size=16, max_num_batched_tokens=4096)
    hashes = tuple(range(100, 162))  # 62 full blocks of a 1000-token prompt
    first = engine.open(prompt_tokens=1000, steps=2, width=1, hashes=hashes)
    assert first.cached_tokens == 0
    start = clock.now()
    await first.wait_end(2)
    cold_ms = (clock.now() - start) * 1000
    second = engine.open(prompt_tokens=1000, steps=2, width=1, hashes=hashes)
    assert second.cached_tokens == 62 * 16
    start = clock.now()
    await second.wait_end(2)
    warm_ms = (clock.now() - start) * 1000
    assert warm_ms < cold_ms / 5


def _engine_sim(**flags: object) -> Simulator:
    # The real clock: the simulator's own scheduler arms loop timers (runs here take ~0.2 s).
    return Simulator(load_config(flags={"seed": 3, **flags}))


def test_models_without_a_deployment_keep_their_sampled_profile() -> None:
    sim = _engine_sim()
    spec = sim.resolve_model("gpt-4o", "openai")
    assert spec is not None
    assert sim.engine_for(spec) is None


def test_the_default_deployment_gives_each_model_its_own_engine() -> None:
    sim = _engine_sim(**{"engine.default_deployment": "vllm-h100-7b-tp1"})
    a, b = sim.resolve_model("gpt-4o", "openai"), sim.resolve_model("gpt-4o-mini", "openai")
    assert a is not None and b is not None
    engine_a, engine_b = sim.engine_for(a), sim.engine_for(b)
    assert engine_a is not None and engine_b is not None and engine_a is not engine_b
    assert sim.engine_for(a) is engine_a


def test_models_listed_under_a_deployment_share_it() -> None:
    sim = _engine_sim(
        **{
            "engine.deployments": {
                "pool": {"preset": "vllm-h100-7b-tp1", "replicas": 2, "models": ["gpt-4o", "gpt-4o-mini"]}
            }
        }
    )
    a, b = sim.resolve_model("gpt-4o", "openai"), sim.resolve_model("gpt-4o-mini", "openai")
    assert a is not None and b is not None
    engine = sim.engine_for(a)
    assert engine is not None and engine is sim.engine_for(b)
    assert len(engine.replicas) == 2


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"engine.default_deployment": "nope"}, "engine.default_deployment: unknown deployment 'nope'"),
        ({"engine.deployments": {"d": {"preset": "nope"}}}, "engine.deployments.d.preset: unknown preset"),
        ({"engine.deployments": {"d": {"kv_blocks": 10}}}, "engine.deployments.d: without a preset, set step.step_ms"),
        (
            {"engine.deployments": {"d": {"preset": "vllm-h100-7b-tp1", "models": ["no-such-model"]}}},
            "unknown model 'no-such-model'",
        ),
        (
            {"engine.deployments": {"d": {"preset": "vllm-h100-7b-tp1", "step": {"cold_shape_ms": -5}}}},
            "engine.deployments.d.step.cold_shape_ms: Input should be greater than or equal to 0",
        ),
        (
            {"engine.deployments": {"d": {"preset": "vllm-h100-7b-tp1", "step": {"comm_ms_per_token": -1}}}},
            "engine.deployments.d.step.comm_ms_per_token: Input should be greater than or equal to 0",
        ),
        (
            {"engine.deployments": {"d": {"preset": "vllm-h100-7b-tp1", "step": {"decode_ms_per_token": "x"}}}},
            "engine.deployments.d.step.decode_ms_per_token: Input should be a valid number",
        ),
        (
            {"engine.deployments": {"d": {"preset": "vllm-h100-7b-tp1", "cold_start": "sometimes"}}},
            "engine.deployments.d.cold_start: Input should be a valid boolean",
        ),
        (
            {"engine.deployments": {"d": {"preset": "vllm-h100-7b-tp1", "schedule_ahead": 2}}},
            "engine.deployments.d.schedule_ahead: Input should be less than or equal to 1",
        ),
    ],
)
def test_bad_engine_config_names_the_key(flags: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace(".", r"\.").replace("(", r"\(")):
        _engine_sim(**flags)


async def test_simulator_streams_through_the_engine_and_reports_cached_tokens() -> None:
    sim = _engine_sim(**{"engine.default_deployment": "vllm-h100-7b-tp1"})
    spec = sim.resolve_model("gpt-4o", "openai")
    assert spec is not None
    system = Message("system", "You are a careful assistant. " * 200)
    plans = []
    for turn in range(2):
        gen = GenerationRequest(
            model="gpt-4o",
            endpoint=Endpoint.CHAT,
            messages=(system, Message("user", f"question {turn}")),
            prompt_tokens=sum(sim.count_tokens(m.text) + 4 for m in (system,)) + 10,
            max_tokens=8,
            ignore_eos=True,
        )
        plan = sim.plan(gen, spec, sim.request_seed(None))
        timeline = sim.generation_timeline(spec, plan, 0)
        assert isinstance(timeline, EngineTimeline)
        tokens = [event async for event in sim.stream(plan, timeline)]
        assert sum(1 for e in tokens if type(e).__name__ == "TokenEvent") == 8
        plans.append(plan)
    assert plans[0].cached_tokens == 0
    assert plans[1].cached_tokens >= 1000  # the shared system prompt's full blocks


def _noisy_engine(seed: int) -> tuple[LiveEngine, FakeClock]:
    clock = FakeClock(start=0.0)
    step = StepTimeModel(
        step_ms=5.0,
        weights_ms=3.0,
        prefill_ms_per_token=0.01,
        kv_ms_per_token=0.001,
        jitter_sigma=0.2,
        stall_probability=0.05,
        stall_ms=40.0,
    )
    spec = DeploymentSpec("noisy", EngineSettings(max_num_seqs=4, kv_blocks=200, max_num_batched_tokens=256), step)
    return LiveEngine(spec, clock, VirtualScheduler(clock), NullObserver(), seed=seed), clock


async def _schedule_of(seed: int) -> tuple[list[int], list[float], list[float]]:
    engine, _ = _noisy_engine(seed)
    timelines = [engine.open(prompt_tokens=100 + 37 * i, steps=30 + i, width=1, hashes=()) for i in range(8)]
    await asyncio.gather(*(t.wait_end(30 + i) for i, t in enumerate(timelines)))
    hist = engine.histograms[0]
    tokens = [t.seq.generated for t in timelines]
    return tokens, [hist.step_sum, float(hist.count)], [t.seq.first_token_ms for t in timelines]


async def test_a_seeded_live_run_repeats_its_token_counts_and_step_schedule() -> None:
    first, again, other = await _schedule_of(7), await _schedule_of(7), await _schedule_of(8)
    assert first == again
    assert first[0] == other[0] == [30 + i for i in range(8)]  # token counts never depend on timing
    assert first[2] != other[2]  # another seed draws other step noise


async def test_a_deployment_can_choose_its_overload_status() -> None:
    clock = FakeClock(start=0.0)
    spec = DeploymentSpec(
        "s", EngineSettings(max_num_seqs=1, max_waiting=1, kv_blocks=100), FLAT_STEP, overload_status=429
    )
    engine = LiveEngine(spec, clock, ManualScheduler(clock), NullObserver(), seed=1)
    engine.open(prompt_tokens=10, steps=5, width=1, hashes=())
    await asyncio.sleep(0)
    engine.open(prompt_tokens=10, steps=5, width=1, hashes=())
    with pytest.raises(SimulatorError) as caught:
        engine.open(prompt_tokens=10, steps=5, width=1, hashes=())
    assert caught.value.status == 429
    assert caught.value.explicit_status


async def test_other_tools_mean_another_prefix() -> None:
    """Tools come before the messages in the prompt: the same messages with other tools share no cache."""
    sim = _engine_sim(**{"engine.default_deployment": "vllm-h100-7b-tp1"})
    spec = sim.resolve_model("gpt-4o", "openai")
    assert spec is not None
    system = Message("system", "You are a careful assistant. " * 200)
    cached = []
    for tool in ("lookup", "lookup", "search"):
        gen = GenerationRequest(
            model="gpt-4o",
            endpoint=Endpoint.CHAT,
            messages=(system, Message("user", "q")),
            prompt_tokens=sim.count_tokens(system.text) + 20,
            max_tokens=2,
            ignore_eos=True,
            tools=(ToolSpec(tool, "find things"),),
        )
        plan = sim.plan(gen, spec, sim.request_seed(None))
        timeline = sim.generation_timeline(spec, plan, 0)
        _ = [event async for event in sim.stream(plan, timeline)]
        cached.append(plan.cached_tokens)
    assert cached[0] == 0 and cached[1] >= 1000 and cached[2] == 0


def test_every_engine_limit_can_be_set_in_the_config() -> None:
    sim = _engine_sim(
        **{
            "engine.deployments": {
                "d": {
                    "preset": "vllm-h100-7b-tp1",
                    "models": ["gpt-4o"],
                    "chunked_prefill": False,
                    "schedule_ahead": 0,
                    "max_num_seqs": 7,
                    "max_waiting": 3,
                    "queue_timeout_ms": 900,
                    "prefix_caching": False,
                    "overload_status": 429,
                    "step": {"front_ms": 1.5},
                }
            }
        }
    )
    spec = sim.deployments["d"]
    assert not spec.settings.chunked_prefill and not spec.settings.prefix_caching
    assert spec.settings.schedule_ahead == 0  # the preset schedules ahead (1); the config turned it off
    assert (spec.settings.max_num_seqs, spec.settings.max_waiting, spec.settings.queue_timeout_ms) == (7, 3, 900)
    assert spec.overload_status == 429 and spec.step.front_ms == 1.5


def test_cold_start_and_its_warm_up_cost_can_be_set_in_the_config() -> None:
    sim = _engine_sim(
        **{
            "engine.deployments": {
                "fresh": {
                    "preset": "vllm-h100-7b-tp1",
                    "models": ["gpt-4o"],
                    "cold_start": True,
                    "step": {"cold_shape_ms": 250},
                },
                "served": {"preset": "vllm-h100-7b-tp1", "models": ["gpt-4o-mini"]},
            }
        }
    )
    fresh, served = sim.deployments["fresh"], sim.deployments["served"]
    assert fresh.cold_start and fresh.step.cold_shape_ms == 250
    assert not served.cold_start


def test_decode_compute_and_tp_traffic_can_be_set_in_the_config() -> None:
    sim = _engine_sim(
        **{
            "engine.deployments": {
                "d": {
                    "preset": "vllm-h100-70b-tp4",
                    "models": ["gpt-4o"],
                    "step": {"decode_ms_per_token": 0.03, "comm_ms_per_token": 0.0},
                },
                "preset": {"preset": "vllm-h100-70b-tp4", "models": ["gpt-4o-mini"]},
            }
        }
    )
    spec, preset = sim.deployments["d"], sim.deployments["preset"]
    assert (spec.step.decode_ms_per_token, spec.step.comm_ms_per_token) == (0.03, 0.0)
    # The 70B TP4 preset derives its decode compute from physics (engine/load/physics.py).
    assert preset.step.decode_ms_per_token is not None and preset.step.comm_ms_per_token >= 0
