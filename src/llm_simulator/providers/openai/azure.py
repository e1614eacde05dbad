"""Azure OpenAI's data-plane routes: ``/openai/deployments/{deployment}/…?api-version=…``.

The body and response formats are OpenAI's; the differences are the URL (the deployment,
not the body's ``model``, picks the model), the mandatory ``api-version`` query parameter,
the ``api-key`` header, and the content-filter annotations on chat responses.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from llm_simulator.core.errors import ErrorKind, SimulatorError
from llm_simulator.core.http import HttpRequest, Response
from llm_simulator.engine.simulator import Simulator
from llm_simulator.providers.openai import chat, completions, embeddings
from llm_simulator.providers.validation import JsonObject, parse_object

API_VERSION = "api-version"
Serve = Callable[[Simulator, HttpRequest, JsonObject], Awaitable[Response]]


def _deployment_body(sim: Simulator, request: HttpRequest) -> JsonObject:
    """The request body with ``model`` set to the model the deployment serves."""
    if not request.query.get(API_VERSION):
        raise SimulatorError(
            ErrorKind.NOT_FOUND,
            "Resource not found: the api-version query parameter is required (for example ?api-version=2024-10-21).",
            param=API_VERSION,
            code="404",
        )
    deployment = request.path_params["deployment"]
    model = sim.catalogue.deployment_model(deployment)
    if model is None:
        raise SimulatorError(
            ErrorKind.NOT_FOUND,
            f"The API deployment '{deployment}' does not exist for this resource. Map it to a model "
            "under models.azure_deployments in the simulator config.",
            code="DeploymentNotFound",
        )
    body = parse_object(request.body)
    body["model"] = model
    return body


async def chat_completions(sim: Simulator, request: HttpRequest) -> Response:
    """``POST …/chat/completions`` with Azure's prompt and content filter results."""
    return await chat.serve(sim, request, _deployment_body(sim, request), azure=True)


async def legacy_completions(sim: Simulator, request: HttpRequest) -> Response:
    """``POST …/completions``."""
    return await completions.serve(sim, request, _deployment_body(sim, request))


async def create_embeddings(sim: Simulator, request: HttpRequest) -> Response:
    """``POST …/embeddings``."""
    return await embeddings.serve(sim, request, _deployment_body(sim, request))
