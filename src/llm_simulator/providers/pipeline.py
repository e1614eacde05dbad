"""The one generation pipeline every generation endpoint goes through.

``serve_generation`` owns, exactly once per request and in this order: admission (the
breaker, rate limits and chaos; ``providers/admission.py``), fixtures
(``providers/scripting.py``), the base seed, the plan (off the event loop for a heavy
body), the timeline, and then either the stream or the wait for the complete answer. A
provider supplies the rest through an :class:`Answer`: its name and rate-limit headers,
the request's seed identity, and how a plan is rendered as frames or as a JSON body (with
its in-stream error and malformed frames on the ``StreamResponse``).

With chaos, limits, the breaker and fixtures all off the admission stage costs three flag
tests and one header lookup, and no coroutine is created.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Protocol

from llm_simulator.core.faults import Misbehaviour
from llm_simulator.core.http import Headers, HttpRequest, JsonResponse, Response, StreamResponse
from llm_simulator.core.record import RequestRecord
from llm_simulator.core.types import Endpoint, GenerationPlan, GenerationRequest, Message
from llm_simulator.engine.catalogue import ModelSpec
from llm_simulator.engine.chaos.misbehave import misbehaving_reply
from llm_simulator.engine.cpu import OUTGROWN, Outgrown, inline, off_loop
from llm_simulator.engine.limits import LimitState
from llm_simulator.engine.simulator import Simulator
from llm_simulator.engine.timing import Timeline
from llm_simulator.infra.rng import derive_random
from llm_simulator.providers.admission import admit, needs_admission
from llm_simulator.providers.scripting import apply_script

# Plans a prepared request from its base seed (``Simulator.plan`` unless the provider says).
Planner = Callable[[GenerationRequest, ModelSpec, int, RequestRecord | None], GenerationPlan]


class Admissible(Protocol):
    """What admission needs from an endpoint: its provider's name and rate-limit headers."""

    provider: str

    def limit_headers(self, states: Sequence[LimitState], wall: float) -> Headers:
        """The rate-limit headers every response to the request carries (``LimitHeaders``)."""
        ...


class Answer(Admissible, Protocol):
    """What a provider supplies for one generation request: its seed identity and renderers."""

    def seed_identity(self, gen: GenerationRequest) -> tuple[object, ...]:
        """The request content a seeded request's text depends on (never its stop sequences)."""
        ...

    def begin(self, plan: GenerationPlan) -> None:
        """Called once the plan exists, before any waiting: ids, creation stamps, sessions."""
        ...

    def stream(self, plan: GenerationPlan, timeline: Timeline) -> StreamResponse:
        """The event stream of ``plan``, frames released on ``timeline``."""
        ...

    def render(self, plan: GenerationPlan) -> JsonResponse:
        """The complete answer, once its time has passed."""
        ...


def fixed_id(plan: GenerationPlan) -> str | None:
    """The response id a fixture fixes for ``plan`` (None: the provider draws one)."""
    scripted = plan.request.scripted
    return scripted.response_id if scripted is not None else None


async def prepare(
    sim: Simulator,
    request: HttpRequest,
    answer: Admissible,
    spec: ModelSpec,
    gen: GenerationRequest,
    admitting: bool,
) -> GenerationRequest:
    """``gen`` admitted (breaker, limits, chaos) if ``admitting``, then answered by a fixture.

    Admission comes first, as at a real gateway: a scripted reply still spends its budget.
    Called only when there is anything to do (``admitting``, or fixtures on), keeping the hot
    path free of the coroutine.
    """
    record = request.exchange.record
    test_id = record.test_id if record is not None else None
    # A test scope's request (engine/scopes/): its scope, brought up to date with the fleet.
    scope = await sim.scopes.open(test_id) if test_id is not None else None
    if admitting:
        estimate = (gen.max_tokens or 0) * gen.n
        provider = answer.provider
        admission = await admit(
            sim, request, provider, gen.model, spec, gen.prompt_tokens, estimate, answer.limit_headers, scope
        )
        if admission is not None:
            gen = dataclasses.replace(gen, admission=admission)
    if sim.script.active or scope is not None:
        gen = await apply_script(sim, answer.provider, request, gen, scope)
    if gen.admission is not None and gen.admission.misbehave is not None and gen.endpoint is not Endpoint.EMBEDDING:
        # Chaos decides before fixtures, as for errors: a misbehaving model replaces even a
        # fixture's content (keeping its delay).
        gen = misbehave(gen, gen.admission.misbehave)
    return gen


def misbehave(gen: GenerationRequest, kind: Misbehaviour) -> GenerationRequest:
    """``gen`` answered by a model misbehaving as ``kind`` (drawn from the request's content and seed)."""
    rng = derive_random("misbehave", kind, gen.seed, gen.model, gen.messages)
    return dataclasses.replace(gen, scripted=misbehaving_reply(kind, gen, rng))


async def serve_generation(
    sim: Simulator,
    request: HttpRequest,
    gen: GenerationRequest,
    spec: ModelSpec,
    answer: Answer,
    *,
    stream: bool,
    heavy: bool,
    planner: Planner | None = None,
) -> Response:
    """Admit, script, seed, plan and time ``gen``, then stream it or answer it complete.

    ``gen`` is the parsed, validated request for ``spec``; ``heavy`` plans it on the CPU pool
    (``providers/heavy.py``); ``planner`` replaces ``Simulator.plan`` (a legacy completion
    plans each prompt on its own).
    """
    admitting = needs_admission(sim, request)  # the one test of the hot path
    if admitting or sim.script.active:
        gen = await prepare(sim, request, answer, spec, gen, admitting)
    base_seed = sim.request_seed(gen.seed, *answer.seed_identity(gen))
    plan_step = planner or sim.plan
    record = request.exchange.record
    # The usual small plan inline, without a coroutine; the pool for a heavy one, or one
    # that outgrew its inline budget.
    plan = OUTGROWN if heavy else inline(None, plan_step, gen, spec, base_seed, record)
    if isinstance(plan, Outgrown):
        plan = await off_loop(True, None, plan_step, gen, spec, base_seed, record)
    pacing = sim.pacing(spec)
    # Latency off (and nothing else to wait for): no timeline to open, nothing to wait.
    at_once = not stream and sim.answers_at_once(spec, plan, pacing)
    timeline = None if at_once else sim.generation_timeline(spec, plan, base_seed, pacing)
    answer.begin(plan)
    if timeline is None:
        sim.complete_at_once(plan)
    elif stream:
        response = answer.stream(plan, timeline)
        # Every engine-paced stream may fall behind its engine: the server then writes the
        # frames already released in one write (server/coalesce.py), whatever the provider.
        if response.ahead is None:
            response.ahead = sim.frames_ahead(timeline)
        return response
    else:
        await sim.complete(plan, timeline)
    return answer.render(plan)


async def serve_embedding(
    sim: Simulator,
    request: HttpRequest,
    answer: Admissible,
    spec: ModelSpec,
    model_id: str,
    input_tokens: int,
    texts: Callable[[], Sequence[str]],
) -> None:
    """Admit an embedding request and let fixtures see it, then wait out its forward pass.

    The same admission and fixture stage as a generation (``texts`` gives the inputs, as the
    user turns a fixture matches on, only when fixtures are on); a fixture's error is raised,
    its delay waited out; its content means nothing to an embedding and is ignored.
    """
    admission = None
    admitting = needs_admission(sim, request)
    if admitting or sim.script.active:
        gen = GenerationRequest(
            model=model_id,
            endpoint=Endpoint.EMBEDDING,
            messages=tuple(Message("user", text) for text in texts()) if sim.script.active or admitting else (),
            prompt_tokens=input_tokens,
        )
        gen = await prepare(sim, request, answer, spec, gen, admitting)
        admission = gen.admission
        if gen.start_delay_s > 0:
            await sim.pause(gen.start_delay_s, scripted=True)
    await sim.complete_embedding(spec, input_tokens, sim.request_seed(None), admission, request.exchange.record)
