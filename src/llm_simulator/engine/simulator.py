"""The engine's front door: everything a provider needs to serve a request.

``Simulator`` owns the tokenizer, the catalogue, the text planner, the compiled latency
profiles, the seed source and the shared scheduler. Providers call it with neutral requests
and get plans, timelines and event streams back; it never sees HTTP. Planning and the
choice of timeline live here; releasing a plan on its timeline (``stream``, ``complete``,
the in-flight gauges) is its base class's, ``engine.release.PlanRelease``.
"""

from __future__ import annotations

import dataclasses
import functools
import random

import orjson

from llm_simulator.config.distributions import LatencyProfileSpec
from llm_simulator.config.loader import ConfigError
from llm_simulator.config.schema import SimulatorConfig
from llm_simulator.core.faults import FAULT_ACTIONS, Admission, FaultAction
from llm_simulator.core.record import RequestRecord
from llm_simulator.core.types import (
    GenerationPlan,
    GenerationRequest,
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
from llm_simulator.engine.load.live import LiveEngine
from llm_simulator.engine.load.prefix import prefix_hashes
from llm_simulator.engine.long_counts import LongTextCounts
from llm_simulator.engine.observer import NullObserver, TimingObserver
from llm_simulator.engine.pacing import EnginePacer, SampledPacer, pacer_for
from llm_simulator.engine.release import PlanRelease
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
from llm_simulator.infra.rng import SeedSource, derive_seed

_UNUSED_RNG = random.Random(0)
# Live engines at most (per-model instances of the default deployment beyond it share one).
MAX_ENGINES = 512
# Texts up to this many characters are cached by count_tokens (at most 8192 × 4 kB = 32 MB).
CACHED_TEXT_CHARS = 4096


class Simulator(PlanRelease):
    """Plans and paces simulated responses (releasing them is ``PlanRelease``'s part)."""

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
        clock = clock or SystemClock()
        super().__init__(clock, Scheduler(clock))
        self.tokenizer = tokenizer or get_tokenizer()
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
        plan = self.planner.plan(request, model, self.seeds.generator(base_seed, "text"))
        if record is not None:
            record.model = model.id
            plan.record = record
        return plan

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
        # generator (a measurable cost, and its 2.5 KB state held by every open stream).
        drawn = not profile.instant and profile.draws
        rng = self.seeds.generator(base_seed, "latency") if drawn else _UNUSED_RNG
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

    def pacer(self, plan: GenerationPlan, timeline: Timeline) -> EnginePacer | SampledPacer | None:
        """The plain-stream fast path's pacer for ``plan`` (``engine.pacing``); None: use ``stream``."""
        return pacer_for(self, plan, timeline)

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
