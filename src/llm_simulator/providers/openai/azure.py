"""Azure OpenAI's data-plane routes: ``/openai/deployments/{deployment}/…?api-version=…``.

The body and response formats are OpenAI's; the differences are the URL (the deployment,
not the body's ``model``, picks the model), the mandatory ``api-version`` query parameter,
the ``api-key`` header, and the content-filter annotations on chat responses.

The Responses API is not under a deployment: ``AzureOpenAI`` sends ``/openai/responses?api-version=…``
and the v1 API (``OpenAI(base_url=".../openai/v1/")``) ``/openai/v1/responses``, where
``api-version`` is optional. There the body's ``model`` names the deployment, as on the v1
API's ``/openai/v1/chat/completions``, ``/completions`` and ``/embeddings``. Both serve the
same responses as ``/v1/responses`` (one store: an id made on one route is found on the others).
"""

from __future__ import annotations

from collections.abc import Callable

from llm_simulator.core.errors import ErrorKind, SimulatorError, invalid
from llm_simulator.core.http import Handler, HttpRequest, Response
from llm_simulator.engine.simulator import Simulator
from llm_simulator.providers.openai import chat, completions, embeddings, responses
from llm_simulator.providers.openai.conversations import ConversationStore
from llm_simulator.providers.openai.responses_background import BackgroundJobs
from llm_simulator.providers.openai.responses_store import ResponseStore
from llm_simulator.providers.validation import JsonObject, get_str, parse_object

API_VERSION = "api-version"
# How a route finds its body's model: from the deployment in its path, or from the body's ``model``.
BodyOf = Callable[[Simulator, HttpRequest], JsonObject]


def require_api_version(request: HttpRequest) -> None:
    """Azure's 404 for a versioned route called without ``?api-version=``."""
    if not request.query.get(API_VERSION):
        raise SimulatorError(
            ErrorKind.NOT_FOUND,
            "Resource not found: the api-version query parameter is required (for example ?api-version=2024-10-21).",
            param=API_VERSION,
            code="404",
        )


def deployment_body(sim: Simulator, request: HttpRequest) -> JsonObject:
    """A deployment route's body (``/openai/deployments/{deployment}/…``): ``model`` set from the path."""
    require_api_version(request)
    return _mapped(sim, request.path_params["deployment"], parse_object(request.body))


def v1_body(sim: Simulator, request: HttpRequest) -> JsonObject:
    """A body whose ``model`` names the deployment (the Responses routes, the v1 API's ``/openai/v1/…``)."""
    body = parse_object(request.body)
    deployment = get_str(body, "model", required=True) or ""
    if not deployment:
        raise invalid("Invalid 'model': empty string. Expected a deployment name.", param="model")
    return _mapped(sim, deployment, body)


def _mapped(sim: Simulator, deployment: str, body: JsonObject) -> JsonObject:
    """``body`` with ``model`` set to the model ``deployment`` serves; 404 ``DeploymentNotFound`` if none."""
    model = sim.catalogue.deployment_model(deployment)
    if model is None:
        raise SimulatorError(
            ErrorKind.NOT_FOUND,
            f"The API deployment '{deployment}' does not exist for this resource. Map it to a model "
            "under models.azure_deployments in the simulator config.",
            code="DeploymentNotFound",
        )
    body["model"] = model
    return body


async def chat_completions(sim: Simulator, body_of: BodyOf, request: HttpRequest) -> Response:
    """``POST …/chat/completions`` with Azure's prompt and content filter results."""
    return await chat.serve(sim, request, body_of(sim, request), azure=True)


async def legacy_completions(sim: Simulator, body_of: BodyOf, request: HttpRequest) -> Response:
    """``POST …/completions``."""
    return await completions.serve(sim, request, body_of(sim, request))


async def create_embeddings(sim: Simulator, body_of: BodyOf, request: HttpRequest) -> Response:
    """``POST …/embeddings``."""
    return await embeddings.serve(sim, request, body_of(sim, request))


def versioned(handler: Handler) -> Handler:
    """``handler`` behind Azure's mandatory ``api-version`` (the ``/openai/responses`` family)."""

    async def serve(request: HttpRequest) -> Response:
        require_api_version(request)
        return await handler(request)

    return serve


async def create_response(
    sim: Simulator,
    store: ResponseStore,
    jobs: BackgroundJobs,
    conversations: ConversationStore,
    request: HttpRequest,
) -> Response:
    """``POST /openai/responses`` and ``/openai/v1/responses``: ``model`` names a deployment."""
    return await responses.serve(sim, store, jobs, conversations, request, v1_body(sim, request))
