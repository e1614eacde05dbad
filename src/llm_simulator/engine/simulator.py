"""The engine's front door: everything a provider needs to serve a request.

``Simulator`` owns the tokenizer, the catalogue, the text planner, the compiled latency
profiles, the seed source and the shared scheduler. Providers call it with neutral requests
and get plans, timelines and event streams back; it never sees HTTP.
"""

from __future__ import annotations

import dataclasses
import functools
import random
from collections.abc import AsyncIterator, Callable

import orjson

from llm_simulator.config.distributions import LatencyProfileSpec
from llm_simulator.config.loader import ConfigError
from llm_simulator.config.schema import SimulatorConfig
from llm_simulator.core.faults import FAULT_ACTIONS, Admission, FaultAction, StreamCut, StreamFault
from llm_simulator.core.record import RequestRecord
from llm_simulator.core.types import (
    FinishEvent,
    GenerationPlan,
    GenerationRequest,
    StreamEvent,
    TokenEvent,
)
from llm_simulator.engine.assembly import assign_deployments, build_script, compile_profiles
from llm_simulator.engine.catalogue import Catalogue, ModelSpec, UnknownAliasTarget
from llm_simulator.engine.chaos.controller import ChaosController
from llm_simulator.engine.cpu import token_ceiling, tokens_at_least
from llm_simulator.engine.generation import Planner
from llm_simulator.engine.latency.profiles import BUILTIN_PROFILES
from llm_simulator.engine.limits import RateLimiter
from llm_simulator.engine.load.configured import build_deployments
from llm_simulator.engine.load.deployment import DeploymentSpec
from llm_simulator.engine.load.live import EngineTimeline, LiveEngine
from llm_simulator.engine.load.prefix import prefix_hashes
from llm_simulator.engine.long_counts import LongTextCounts
from llm_simulator.engine.observer import NullObserver, TimingObserver
from llm_simulator.engine.pacing import EnginePacer, SampledPacer, note_plan, pacer_for
from llm_simulator.engine.scheduler import Scheduler
from llm_simulator.engine.scopes import ScopeRegistry
from llm_simulator.engine.state import FleetState, build_stores
from llm_simulator.engine.textgen.strategies import PieceCache, build_strategy
from llm_simulator.engine.timing import (
    TIME_COMPRESSION,
    CompiledProfile,
    DelayedTimeline,
    SampledTiming,
    Timeline,
    TimingModel,
)
from llm_simulator.engine.tokenizer import Tokenizer, get_tokenizer
from llm_simulator.infra.clock import Clock, SystemClock
from llm_simulator.infra.rng import SeedSource, derive_random, derive_seed

_UNUSED_RNG = random.Random(0)
# Live engines at most (per-model instances of the default deployment beyond it share one).
MAX_ENGINES = 512
# Texts up to this many characters are cached by count_tokens (at most 8192 × 4 kB = 32 MB).
CACHED_TEXT_CHARS = 4096


class Simulator:
    """Plans and paces simulated responses."""

    def __init__(
        self,
        config: SimulatorConfig,
        *,
        clock: Clock | None = None,
        observer: TimingObserver | None = None,
        tokenizer: Tokenizer | None = None,
        timing: TimingModel | None = None,
    ) -> None:
        self.config = config
        self.clock: Clock = clock or SystemClock()
        self.tokenizer = tokenizer or get_tokenizer()
        self.scheduler = Scheduler(self.clock)
        self.seeds = SeedSource(config.seed)
        observer = observer or NullObserver()
        self.timing: TimingModel = timing or SampledTiming(self.clock, self.scheduler, observer)
        try:
            self.catalogue = Catalogue(config.models, config.latency.default_profile)
        except UnknownAliasTarget as exc:
            raise ConfigError(str(exc)) from None
        self.profiles = compile_profiles(config, self.catalogue)
        # Model id → profile name set at run time by an adapter (the observatory), over the catalogue's.
        self.model_profiles: dict[str, str] = {}
        pieces = PieceCache(self.tokenizer)
        gen = config.generation
        self.planner = Planner(
            self.tokenizer,
            build_strategy(gen.strategy, self.tokenizer, pieces, gen.fixed_text),
            build_strategy("lorem", self.tokenizer, pieces, gen.fixed_text),
            gen.output_tokens,
            pieces,
            tool_call_probability=gen.tool_call_probability,
            max_parallel_tool_calls=gen.max_parallel_tool_calls,
            answer_after_tool_result=gen.answer_after_tool_result,
        )
        self._count_cached = functools.lru_cache(maxsize=8192)(self.tokenizer.count)
        self._long_counts = LongTextCounts()
        # Model requests in flight: producing output (streams past their first visible token,
        # non-streamed responses for their whole life) and streams waiting for their first.
        self.running = 0
        self.waiting = 0
        self.chaos = ChaosController(config.chaos, self.clock, config.seed, self._canonical_id)
        # Fleet-wide state (docs/scaling.md): memory by default, or one shared Redis.
        stores, redis = build_stores(config.state)
        self.state = FleetState(config.state, stores, redis)
        self.state.follow_chaos(self.chaos)
        self.script, self.fixtures = build_script(config, self.clock, stores.steps if stores.shared else None)
        self.state.follow_fixtures(self.fixtures)
        self.scopes = ScopeRegistry(config, self.chaos, self.clock, stores, self._canonical_id)
        self.limits = RateLimiter(config.rate_limits, self.clock, stores.buckets)
        self._observer = observer
        self.deployments: dict[str, DeploymentSpec] = build_deployments(config.engine)
        self._deployment_of = assign_deployments(config, self.catalogue)
        # Live engines: one per configured deployment (shared by its models), and one per
        # model for the default deployment; created on first use.
        self.engines: dict[str, LiveEngine] = {}

    def engine_for(self, model: ModelSpec) -> LiveEngine | None:
        """The load-aware engine serving ``model`` (None: its sampled latency profile applies).

        Embedding models and runs with latency off never use an engine.
        """
        if model.is_embedding or not self.config.latency.enabled:
            return None
        shared = self._deployment_of.get(model.id)
        key = shared if shared is not None else self.config.engine.default_deployment
        if key is None:
            return None
        engine_key = key if shared is not None else f"{key}/{model.id}"
        engine = self.engines.get(engine_key)
        if engine is None:
            if len(self.engines) >= MAX_ENGINES:
                # Unknown model ids accepted by the catalogue must not grow engines without bound.
                engine_key = f"{key}/other"
                engine = self.engines.get(engine_key)
            if engine is None:
                seed = (
                    derive_seed("deployment", self.config.seed, engine_key)
                    if self.config.seed is not None
                    else self.seeds.next_seed()
                )
                engine = LiveEngine(self.deployments[key], self.clock, self.scheduler, self._observer, seed)
                self.engines[engine_key] = engine
        return engine

    def warm_up(self) -> None:
        """Load the tokenizer and write the text pools now (they otherwise load on first use).

        A server calls this before it listens (the CLI process before granian forks its
        workers, so they share what it loaded; ``create_app`` otherwise), so that no request
        waits for ≈ 0.2 s of vocabulary loading.
        """
        self.planner.warm()

    def install_profile(self, name: str, spec: LatencyProfileSpec) -> None:
        """Serve ``spec`` as profile ``name`` from now on (an adapter's fresh data).

        Compiled as configured profiles are (the global multiplier; instant with latency off).
        Requests already timed keep the profile they started with.
        """
        latency = self.config.latency
        if not latency.enabled:
            self.profiles[name] = CompiledProfile.compile("instant", BUILTIN_PROFILES["instant"], 0.0)
        else:
            self.profiles[name] = CompiledProfile.compile(name, spec, latency.multiplier)

    def count_tokens(self, text: str) -> int:
        """Tokens in ``text``; short texts (roles, system prompts, repeated turns) are cached.

        Long texts are cached within a character budget (``engine.long_counts``): an
        entry-count bound would let a load test of unique long prompts pin gigabytes (8192
        entries × the prompt size). Under a token ceiling (a request step run by
        ``engine.cpu.off_loop`` for a model's context window), a text whose byte length alone
        proves it exceeds the ceiling is not tokenised: its lower bound is returned, which the
        caller's context-window check then refuses (and which is not remembered).
        """
        if len(text) <= CACHED_TEXT_CHARS:
            return self._count_cached(text)
        known = self._long_counts.get(text)
        if known is not None:
            return known
        ceiling = token_ceiling()
        # UTF-8 takes at most 4 bytes a character: only a text that long can be over the
        # ceiling by its bytes alone, and then its lower bound is enough (see engine.cpu).
        if ceiling is not None and 4 * len(text) > ceiling * self.tokenizer.max_token_bytes:
            floor = tokens_at_least(text, self.tokenizer.max_token_bytes)
            if floor > ceiling:
                return floor
        count = self.tokenizer.count(text)
        self._long_counts.put(text, count)
        return count

    def _canonical_id(self, model_id: str, provider: str) -> str | None:
        """The catalogue's id for ``model_id`` as ``provider`` would resolve it."""
        spec = self.catalogue.resolve(model_id, provider)
        return spec.id if spec is not None else None

    def resolve_model(self, model_id: str, provider: str) -> ModelSpec | None:
        """The model spec for an id or alias (None if unknown and not accepted)."""
        return self.catalogue.resolve(model_id, provider)

    def profile_for(self, model: ModelSpec) -> CompiledProfile:
        """The compiled latency profile of ``model``: an adapter's assignment, its own, else the default."""
        assigned = self.model_profiles.get(model.id) if self.model_profiles else None
        if assigned is not None and assigned in self.profiles:
            return self.profiles[assigned]
        return self.profiles.get(model.latency_profile) or self.profiles[self.config.latency.default_profile]

    def assign_profile(self, model_id: str, profile: str | None) -> None:
        """Serve model ``model_id`` (a catalogue id) with installed profile ``profile`` from now on; None undoes it."""
        if profile is None:
            self.model_profiles.pop(model_id, None)
        else:
            self.model_profiles[model_id] = profile

    def request_seed(self, request_seed: int | None, *identity: object) -> int:
        """The base seed of one request.

        With a request ``seed`` the base depends only on that seed and the request's content,
        so the same seed and input reproduce the same output; otherwise it comes from the run
        seed sequence (reproducible under ``--seed``) or from the OS. Providers leave stop
        sequences out of ``identity``: like a real model's sampling, the text does not depend
        on them, so adding a stop to a seeded request cuts the same text short.
        """
        if request_seed is not None:
            return derive_seed("request", request_seed, *identity)
        return self.seeds.next_seed()

    def plan(
        self, request: GenerationRequest, model: ModelSpec, base_seed: int, record: RequestRecord | None = None
    ) -> GenerationPlan:
        """Decide the whole response up front from the request's text RNG.

        The request's telemetry record (if any) learns the model and the token counts here,
        the one place every provider passes through.
        """
        plan = self.planner.plan(request, model, derive_random(base_seed, "text"))
        if record is not None:
            record.model = model.id
            plan.record = record
        return plan

    def queue_counts(self) -> tuple[int, int]:
        """(running, waiting): model requests producing output, and streams before their first token."""
        return self.running, self.waiting

    def note_embedding(self, model: ModelSpec, input_tokens: int, record: RequestRecord | None) -> None:
        """Tell the request's telemetry record (if any) the embedding model and its input size."""
        if record is not None:
            record.model = model.id
            record.prompt_tokens = input_tokens

    def pacing(self, model: ModelSpec, *, engine: bool = True) -> LiveEngine | CompiledProfile:
        """What paces a generation of ``model``: its load-aware engine, else its compiled profile.

        An ``engine`` is only for a planned generation on the real clock: compressed work
        (``TIME_COMPRESSION`` ≠ 1) and un-planned waits take the profile (see
        ``open_timeline``). The one place this choice is made, for ``answers_at_once`` and
        the timeline alike, so the serving path makes it once per request.
        """
        if engine and TIME_COMPRESSION.get() == 1.0:
            live = self.engine_for(model)
            if live is not None:
                return live
        return self.profile_for(model)

    def open_timeline(
        self,
        model: ModelSpec,
        prompt_tokens: int,
        base_seed: int,
        delay_s: float = 0.0,
        admission: Admission | None = None,
        plan: GenerationPlan | None = None,
        pacing: LiveEngine | CompiledProfile | None = None,
    ) -> Timeline:
        """Start the response clock now (from the request's own latency RNG).

        ``delay_s`` (a scripted delay) postpones the start: every due time moves by it. It is
        applied as given, neither scaled by the latency multiplier nor dropped with latency off.
        An admission's ``latency_scale`` (a chaos brownout) multiplies TTFT and every ITL.
        With a ``plan`` and a model served by a load-aware engine, the engine paces it
        instead (and the plan learns how many prompt tokens its prefix cache held).
        ``pacing`` is ``self.pacing(model, engine=plan is not None)`` when the caller has it.

        Compressed work (``TIME_COMPRESSION`` ≠ 1: batch lines, background responses) keeps
        the model's schedule, drawn from the same latency RNG, but every wait, the scripted
        delay included, is multiplied by the compression. It never enters a load-aware
        engine: the engine runs on the real clock for every sequence it holds, so its
        schedule cannot be compressed for some of them; compressed work is paced by the
        model's sampled profile instead (it runs on capacity of its own, as batch work does
        on the real APIs, and does not slow live traffic).
        """
        if pacing is None:
            pacing = self.pacing(model, engine=plan is not None)
        if isinstance(pacing, LiveEngine):
            assert plan is not None, "an engine paces planned generations only"
            return self._engine_timeline(pacing, model, plan, prompt_tokens, delay_s)
        profile = pacing
        compression = TIME_COMPRESSION.get()
        scale = compression if admission is None else compression * admission.latency_scale
        if scale != 1.0 and not profile.instant:
            profile = dataclasses.replace(profile, multiplier=profile.multiplier * scale)
        delay_s *= compression
        # With latency off, or fixed TTFT and ITL, no sample is drawn, so skip seeding a
        # generator (a measurable cost, and 2.9 KB held by every open stream).
        rng = _UNUSED_RNG if profile.instant or not profile.draws else derive_random(base_seed, "latency")
        if delay_s > 0:
            due = self.clock.now() + delay_s
            return DelayedTimeline(due, self.scheduler, lambda: self.timing.open(profile, prompt_tokens, rng))
        return self.timing.open(profile, prompt_tokens, rng)

    def _engine_timeline(
        self, engine: LiveEngine, model: ModelSpec, plan: GenerationPlan, prompt_tokens: int, delay_s: float
    ) -> Timeline:
        """A timeline paced by ``engine``; raises its overload error when it refuses the request now."""
        settings = engine.spec.settings
        hashes: tuple[int, ...] = ()
        if settings.prefix_caching:
            # The tools are part of the prompt ahead of the messages: other tools, other prefix.
            tools = tuple(
                (t.name, t.description, orjson.dumps(t.parameters, option=orjson.OPT_SORT_KEYS))
                for t in plan.request.tools
            )
            hashes = prefix_hashes(
                plan.request.messages,
                self.count_tokens,
                settings.block_size,
                prompt_tokens=prompt_tokens,
                salt=(model.id, tools),
                cacheable_tokens=plan.request.cacheable_prompt_tokens,
            )
        width = max(1, len(plan.choices))

        def open_now() -> Timeline:
            timeline = engine.open(prompt_tokens, plan.steps, width, hashes)
            plan.cached_tokens = timeline.cached_tokens
            return timeline

        if delay_s > 0:
            return DelayedTimeline(self.clock.now() + delay_s, self.scheduler, open_now)
        return open_now()

    def generation_timeline(
        self,
        model: ModelSpec,
        plan: GenerationPlan,
        base_seed: int,
        pacing: LiveEngine | CompiledProfile | None = None,
    ) -> Timeline:
        """``open_timeline`` for a planned generation: its prompt, scripted delay and admission."""
        gen = plan.request
        return self.open_timeline(model, gen.prompt_tokens, base_seed, gen.start_delay_s, gen.admission, plan, pacing)

    async def pause(self, seconds: float, *, scripted: bool = False) -> None:
        """Wait ``seconds`` on the shared scheduler (a chaos delay or stall; a scripted delay).

        A ``scripted`` delay (a fixture's) is part of the model's time, so compressed work
        (``TIME_COMPRESSION``) compresses it; chaos delays are outages of the moment and
        are waited out in full.
        """
        if scripted:
            seconds *= TIME_COMPRESSION.get()
        fut = self.scheduler.wait_until(self.clock.now() + seconds)
        if fut is not None:
            await fut

    @staticmethod
    def frames_ahead(timeline: Timeline) -> Callable[[], bool] | None:
        """For a stream paced by ``timeline``: a test of whether its next frames need no wait.

        Only an engine's timeline knows (its tokens exist before any stream takes them, and
        it knows when the sequence has ended); a sampled timeline's tokens become due as the
        stream waits for them, so it is never ahead.
        """
        return timeline.ahead if isinstance(timeline, EngineTimeline) else None

    def pacer(self, plan: GenerationPlan, timeline: Timeline) -> EnginePacer | SampledPacer | None:
        """The plain-stream fast path's pacer for ``plan`` (``engine.pacing``); None: use ``stream``."""
        return pacer_for(self, plan, timeline)

    async def stream(
        self, plan: GenerationPlan, timeline: Timeline, *, hide_reasoning: bool = False
    ) -> AsyncIterator[StreamEvent]:
        """Release the plan's tokens step by step: one token per unfinished choice per step.

        With ``hide_reasoning`` (the provider never shows reasoning tokens), the leading steps
        in which every choice is still reasoning are not released one by one: their time
        passes in a single wait before the first step that matters, instead of one wake-up
        per hidden token.
        """
        choices = plan.choices
        first = 0
        if hide_reasoning and plan.steps:
            # Every choice must still have its last token (and so its finish) ahead of it.
            shortest = min(len(c.tokens) for c in choices)
            first = max(0, min(plan.leading_reasoning_steps(), shortest - 1))
        admission = plan.request.admission
        fault = admission.fault if admission is not None else None
        # Visible tokens released (a fault's trigger: hidden reasoning does not count) and
        # decode steps reached (for settlement).
        hidden = [c.hidden_lead for c in choices] if fault is not None else None
        released = 0
        reached = first
        record = plan.record
        # TTFT and ITL are about the output the client reads: steps in which every choice is
        # still reasoning (hidden by some providers, shown as thinking by others) do not count.
        visible_from = plan.leading_reasoning_steps()
        if record is not None:
            record.stream = True
            note_plan(record, plan)
        # An engine stream parks on one future per wait and not at all for a token that is
        # already out (one it fell behind on): no coroutine per token.
        park = timeline.park if isinstance(timeline, EngineTimeline) and plan.steps else None
        self.waiting += 1
        producing = False
        try:
            if park is not None and fault is None and len(choices) == 1:
                # The engine's common case (one choice, no fault): the same events as the
                # general loop below, with nothing per token that cannot change.
                choice = choices[0]
                tokens = choice.tokens
                index = choice.index
                now = self.clock.now
                for step in range(first, len(tokens)):
                    waiter = park(step)
                    if waiter is not None:
                        await waiter
                    if step >= visible_from:
                        if not producing:
                            producing = self._producing()
                        if record is not None:
                            record.token_released(now())
                    reached = step + 1
                    yield TokenEvent(index, step, tokens[step])
                yield FinishEvent(index, choice.finish_reason)
                return
            if plan.steps == 0:
                await timeline.wait_end(0)
            if first > 0:
                await timeline.skip_to(first)
            for step in range(first, max(plan.steps, 1)):
                if fault is not None and released >= fault.after_tokens:
                    fault = await self._strike(fault, timeline)
                if park is not None:
                    waiter = park(step)
                    if waiter is not None:
                        await waiter
                elif plan.steps:
                    await timeline.wait_step(step)
                if step >= visible_from:
                    if not producing:
                        producing = self._producing()
                    if record is not None:
                        record.token_released(self.clock.now())
                reached = step + 1
                for position, choice in enumerate(choices):
                    tokens = choice.tokens
                    last = len(tokens) - 1
                    if step <= last:
                        if hidden is not None and step >= hidden[position]:
                            released += 1
                        yield TokenEvent(choice.index, step, tokens[step])
                        if step == last:
                            yield FinishEvent(choice.index, choice.finish_reason)
                    elif step == 0:
                        yield FinishEvent(choice.index, choice.finish_reason)
            if fault is not None:
                # A fault set after more tokens than the response has strikes at its end:
                # the stream still breaks before its terminator.
                await self._strike(fault, timeline)
        finally:
            if producing:
                self.running -= 1
            else:
                self.waiting -= 1
            timeline.close()
            if admission is not None and admission.on_finish is not None:
                admission.on_finish(sum(min(len(c.tokens), reached) for c in choices))

    def _producing(self) -> bool:
        """A stream's first visible token: it moves from the waiting to the running gauge (True)."""
        self.waiting -= 1
        self.running += 1
        return True

    async def _strike(self, fault: StreamFault, timeline: Timeline) -> StreamFault | None:
        """Apply ``fault`` now; every fault but a stall raises.

        A stall waits and moves the rest of the response later, then returns None: the
        response goes on.
        """
        action = FAULT_ACTIONS[fault.kind]
        if action is FaultAction.PAUSE:
            await self.pause(fault.duration_s)
            timeline.shift(fault.duration_s)
            return None
        if action is FaultAction.ERROR_FRAME and fault.error is not None:
            raise fault.error
        raise StreamCut(fault)  # the server acts on it at the wire

    async def complete_embedding(
        self,
        model: ModelSpec,
        input_tokens: int,
        base_seed: int,
        admission: Admission | None = None,
        record: RequestRecord | None = None,
    ) -> None:
        """Wait as long as one embedding forward pass over ``input_tokens`` takes.

        A fault in the admission strikes when the pass is done (a stall lengthens it).
        """
        self.note_embedding(model, input_tokens, record)
        self.running += 1
        timeline = self.open_timeline(model, input_tokens, base_seed, admission=admission)
        fault = admission.fault if admission is not None else None
        try:
            if fault is not None and FAULT_ACTIONS[fault.kind] is FaultAction.PAUSE:
                await self._strike(fault, timeline)
            await timeline.wait_end(0)
            if fault is not None and FAULT_ACTIONS[fault.kind] is not FaultAction.PAUSE:
                await self._strike(fault, timeline)
        finally:
            self.running -= 1
            timeline.close()

    def answers_at_once(
        self, model: ModelSpec, plan: GenerationPlan, pacing: LiveEngine | CompiledProfile | None = None
    ) -> bool:
        """Whether ``plan``'s complete answer is due at once: ``generation_timeline`` would be instant.

        That is, no scripted delay (a ``DelayedTimeline`` waits even with latency off), no
        fault to strike, no load-aware engine pacing it, and an instant profile (latency
        off). ``complete_at_once`` then stands for the timeline and ``complete``. ``pacing``
        is ``self.pacing(model)`` when the caller has it (it then opens the timeline with it).
        """
        gen = plan.request
        admission = gen.admission
        if gen.start_delay_s > 0 or (admission is not None and admission.fault is not None):
            return False
        if pacing is None:
            pacing = self.pacing(model)
        return not isinstance(pacing, LiveEngine) and pacing.instant

    def complete_at_once(self, plan: GenerationPlan) -> None:
        """What ``complete`` does for a plan ``answers_at_once`` (nothing to wait for).

        The record learns the plan and the admission its settlement, as there; the
        running gauge would go up and down again with no wait between, so it is left alone.
        """
        self._settle(self._completing(plan), plan.completion_tokens)

    async def complete(self, plan: GenerationPlan, timeline: Timeline) -> None:
        """Wait as long as streaming the whole plan would take (TTFT + Σ ITL).

        A fault in the admission applies as it would to the stream: a stall lengthens the
        wait; any other fault strikes once its tokens would have been generated.
        """
        admission = self._completing(plan)
        fault = admission.fault if admission is not None else None
        produced = plan.completion_tokens
        self.running += 1  # opaque until it ends: "running" for the in-flight gauges
        try:
            if fault is None:
                await timeline.wait_end(plan.steps)
            elif FAULT_ACTIONS[fault.kind] is FaultAction.PAUSE:
                await self._strike(fault, timeline)
                await timeline.wait_end(plan.steps)
            else:
                steps = plan.steps_until_visible(fault.after_tokens)
                await timeline.wait_end(steps)
                produced = sum(min(len(c.tokens), steps) for c in plan.choices)
                await self._strike(fault, timeline)
        finally:
            self.running -= 1
            timeline.close()
            self._settle(admission, produced)

    @staticmethod
    def _completing(plan: GenerationPlan) -> Admission | None:
        """A complete answer's start: its record (if any) learns the plan; the admission to settle."""
        record = plan.record
        if record is not None:
            note_plan(record, plan)
        return plan.request.admission

    @staticmethod
    def _settle(admission: Admission | None, produced: int) -> None:
        """A complete answer's end: its admission (if any) learns the ``produced`` tokens."""
        if admission is not None and admission.on_finish is not None:
            admission.on_finish(produced)
