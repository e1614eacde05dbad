"""What the media endpoints (moderations, images, audio) share: model checks and admission."""

from __future__ import annotations

from llm_simulator.core.errors import invalid
from llm_simulator.core.http import HttpRequest
from llm_simulator.engine.catalogue import ModelSpec
from llm_simulator.engine.simulator import Simulator
from llm_simulator.providers.admission import admit, needs_admission
from llm_simulator.providers.openai.common import known_model
from llm_simulator.providers.openai.ratelimits import limit_headers


def media_model(sim: Simulator, model_id: str, kind: str, endpoint: str) -> ModelSpec:
    """The spec of ``model_id``, which must be a ``kind`` model; OpenAI's 400 or 404 otherwise."""
    spec = known_model(sim, model_id)
    if spec.kind != kind:
        raise invalid(
            f"Invalid value for 'model' = {model_id}: this model is not supported in the {endpoint} endpoint.",
            param="model",
            code="invalid_value",
        )
    return spec


async def pass_through(sim: Simulator, request: HttpRequest, model_id: str, spec: ModelSpec, tokens: int) -> None:
    """Rate limits, chaos and the breaker, then one forward pass of latency (as an embedding)."""
    admission = None
    if needs_admission(sim, request):
        admission = await admit(sim, request, "openai", model_id, spec, tokens, 0, limit_headers)
    await sim.complete_embedding(spec, tokens, sim.request_seed(None), admission, request.exchange.record)
