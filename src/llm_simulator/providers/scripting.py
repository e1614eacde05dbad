"""The one call every generation handler makes to let fixtures answer a parsed request.

Handlers reach :func:`apply_script` through the pipeline (``pipeline.prepare``, only when
``sim.script.active``, so the hot path is untouched without fixtures), after validating
their request and admitting it: a bad request still gets its
validation error first, as from the real API. A scripted error is raised here, after its
delay, and rendered by the provider like any other; scripted content travels in the
request to the planner, so the provider's renderers stream it unchanged.
"""

from __future__ import annotations

import dataclasses

from llm_simulator.core.errors import SimulatorError
from llm_simulator.core.http import HttpRequest
from llm_simulator.core.types import GenerationRequest
from llm_simulator.engine.simulator import Simulator


async def apply_script(
    sim: Simulator, provider: str, request: HttpRequest, gen: GenerationRequest
) -> GenerationRequest:
    """``gen`` with the matching fixture's reply attached (unchanged when none matches).

    Raises the fixture's error, if it dictates one, once its delay has passed.
    """
    reply = await sim.script.resolve_shared(provider, gen, request.headers)
    if reply is None:
        return gen
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
