"""``GET /v1/models`` and ``GET /v1/models/{id}`` in OpenAI's shape."""

from __future__ import annotations

import time
from typing import Any

import orjson

from llm_simulator.core.errors import ErrorKind, SimulatorError
from llm_simulator.core.http import HttpRequest, JsonResponse, Response
from llm_simulator.engine.catalogue import ModelSpec
from llm_simulator.engine.simulator import Simulator
from llm_simulator.providers.openai.common import response_headers


def model_object(model_id: str, spec: ModelSpec) -> dict[str, Any]:
    """One ``model`` object."""
    return {"id": model_id, "object": "model", "created": spec.created, "owned_by": spec.owned_by}


async def list_models(sim: Simulator, request: HttpRequest) -> Response:
    """Every model in the catalogue, then every alias (as a model of its target)."""
    started = time.monotonic()
    data = [model_object(m.id, m) for m in sim.catalogue.list_models()]
    for alias, target in sim.catalogue.aliases().items():
        spec = sim.resolve_model(target, "openai")
        if spec is not None:
            data.append(model_object(alias, spec))
    return JsonResponse(200, orjson.dumps({"object": "list", "data": data}), response_headers(request, started, ""))


async def retrieve_model(sim: Simulator, request: HttpRequest) -> Response:
    """One model by id or alias; OpenAI's 404 when unknown."""
    started = time.monotonic()
    model_id = request.path_params["model"]
    spec = sim.catalogue.lookup(model_id)
    if spec is None:
        raise SimulatorError(
            ErrorKind.NOT_FOUND,
            f"The model '{model_id}' does not exist",
            param="model",
            code="model_not_found",
        )
    return JsonResponse(200, orjson.dumps(model_object(model_id, spec)), response_headers(request, started, model_id))
