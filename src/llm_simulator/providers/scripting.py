"""The one call every generation handler makes to let fixtures answer a parsed request.

Handlers reach :func:`apply_script` through the pipeline (``pipeline.prepare``, only when
``sim.script.active`` or the request belongs to a test scope, so the hot path is untouched
without fixtures), after validating their request and admitting it: a bad request still
gets its validation error first, as from the real API. A scripted error is raised here,
after its delay, and rendered by the provider like any other; scripted content travels in
the request to the planner, so the provider's renderers stream it unchanged.

A test scope's fixtures come before the global ones. In strict mode (``fixtures.strict``,
or a scope's own switch) a request no fixture matches is a 400 ``strict_no_fixture`` naming
the method, path, model and the last user message, marked on the request's record so the
journal lists it.
"""

from __future__ import annotations

import dataclasses

from llm_simulator.core.errors import SimulatorError, invalid
from llm_simulator.core.http import HttpRequest
from llm_simulator.core.types import GenerationRequest, ScriptedReply
from llm_simulator.engine.scopes import TestScope
from llm_simulator.engine.simulator import Simulator

# The record's error type (and the error's code) of a strict-mode miss.
STRICT_NO_FIXTURE = "strict_no_fixture"
# Characters of the last user message quoted in a strict-mode error.
SNIPPET_CHARS = 120


async def apply_script(
    sim: Simulator, provider: str, request: HttpRequest, gen: GenerationRequest, scope: TestScope | None = None
) -> GenerationRequest:
    """``gen`` with the matching fixture's reply attached (unchanged when none matches).

    Raises the fixture's error, if it dictates one, once its delay has passed; in strict
    mode, the strict-mode error when no fixture matches.
    """
    reply = None
    if scope is not None and scope.script.active:
        reply = await scope.script.resolve_shared(provider, gen, request.headers)
    if reply is None and sim.script.active:
        reply = await sim.script.resolve_shared(provider, gen, request.headers)
    if reply is None:
        if sim.scopes.strict(scope) if scope is not None else sim.script.strict:
            if scope is not None:
                scope.counters.strict_misses += 1
            raise strict_miss(request, gen)
        return gen
    if scope is not None:
        scope.counters.fixture_hits += 1
    return await _answered(sim, request, gen, reply)


def strict_miss(request: HttpRequest, gen: GenerationRequest) -> SimulatorError:
    """The strict-mode error for a request no fixture matches (marked on its record)."""
    record = request.exchange.record
    if record is not None:
        record.error_type = STRICT_NO_FIXTURE
    last_user = next((m.text for m in reversed(gen.messages) if m.role == "user"), None)
    if last_user is None:
        quoted = "no user message"
    else:
        snippet = " ".join(last_user.split())
        quoted = repr(snippet if len(snippet) <= SNIPPET_CHARS else snippet[:SNIPPET_CHARS] + "…")
    return invalid(
        f"Strict mode: no fixture matches {request.method} {request.path} (model {gen.model!r}; "
        f"last user message: {quoted}). Add a fixture for it or turn strict mode off.",
        code=STRICT_NO_FIXTURE,
    )


async def _answered(
    sim: Simulator, request: HttpRequest, gen: GenerationRequest, reply: ScriptedReply
) -> GenerationRequest:
    """``gen`` answered by ``reply`` (its error raised after its delay)."""
    record = request.exchange.record
    if record is not None:
        record.fixture = reply.source  # for the request journal: which rule or step answered
        if reply.step is not None:
            record.scenario_step = reply.step
    error = reply.error
    if error is not None:
        if reply.delay_s > 0:
            await sim.pause(reply.delay_s, scripted=True)
        raise SimulatorError(error.kind, error.message, code=error.code, status=error.status)
    usage = reply.usage
    if reply.model is not None or (usage is not None and usage.input_tokens is not None):
        # The reported model and input tokens live in the request every renderer reads.
        return dataclasses.replace(
            gen,
            scripted=reply,
            model=reply.model or gen.model,
            prompt_tokens=usage.input_tokens
            if usage is not None and usage.input_tokens is not None
            else gen.prompt_tokens,
        )
    return dataclasses.replace(gen, scripted=reply)
