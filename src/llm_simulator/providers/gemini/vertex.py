"""Gemini on Vertex AI: ``/{v1,v1beta1}/projects/{p}/locations/{l}/publishers/google/models/{model}:{action}``.

The same request and response bodies as the Developer API (google-genai speaks both), so
generation and token counting reuse ``generate``; embeddings differ (``:embedContent`` with
an ``embedContentConfig`` for Gemini embedding models, ``:predict`` with ``instances`` for
the ``text-embedding-*`` family) and live in ``vertex_embed``. Errors are Google-shaped
with Vertex AI's own wording (an unknown publisher model, a refused access token, an
exhausted per-model quota). The project and location are accepted as given: the
simulator has one catalogue wherever the caller says it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial

from llm_simulator.core.errors import ErrorKind, SimulatorError
from llm_simulator.core.http import HttpRequest, JsonResponse, Response, Route
from llm_simulator.engine.catalogue import ModelSpec
from llm_simulator.engine.simulator import Simulator
from llm_simulator.providers.gemini import generate, vertex_embed
from llm_simulator.providers.gemini.common import PROVIDER
from llm_simulator.providers.google_rpc import vertex_error

VERSIONS = ("v1", "v1beta1")
ACTIONS = ("generateContent", "streamGenerateContent", "countTokens", "embedContent", "predict")
ACTION_ENDPOINTS = {"countTokens": "count_tokens", "embedContent": "embedding", "predict": "embedding"}
MARKER = "/publishers/google/models/"
QUOTA_METRIC = "generate_content_requests_per_minute_per_project_per_base_model"


def action_endpoint(params: Mapping[str, str]) -> str:
    """The endpoint name of ``{model}:{action}`` (``generate`` for generation and unknown actions)."""
    return ACTION_ENDPOINTS.get(params["target"].rpartition(":")[2], "generate")


def publisher_model(params: Mapping[str, str], model: str) -> str:
    """The resource name Vertex errors quote: ``projects/…/locations/…/publishers/google/models/…``."""
    return f"projects/{params['project']}/locations/{params['location']}/publishers/google/models/{model}"


def require_model(sim: Simulator, request: HttpRequest, model: str, *, embedding: bool | None) -> ModelSpec:
    """The spec of a Gemini model named in the path; Vertex's 404 when it is unknown or of the wrong kind."""
    spec = sim.resolve_model(model, PROVIDER) if model else None
    if spec is None or (embedding is not None and spec.is_embedding != embedding):
        raise SimulatorError(
            ErrorKind.NOT_FOUND,
            f"Publisher Model `{publisher_model(request.path_params, model)}` was not found or your project does "
            "not have access to it. Please ensure you are using a valid model version. For more information, see: "
            "https://cloud.google.com/vertex-ai/generative-ai/docs/learn/model-versions",
            param="model",
        )
    return spec


async def model_action(sim: Simulator, request: HttpRequest) -> Response:
    """``POST …/publishers/google/models/{model}:{action}``: the action split off the last segment."""
    model, sep, action = request.path_params["target"].rpartition(":")
    if not sep or action not in ACTIONS:
        raise SimulatorError(
            ErrorKind.NOT_FOUND,
            f"Method not found: '{action}' is not a method of publishers/google/models/{model}. Supported: "
            + ", ".join(ACTIONS),
        )
    embedding = None if action == "countTokens" else action in ("embedContent", "predict")
    spec = require_model(sim, request, model, embedding=embedding)
    reported = spec.id if spec.provider == PROVIDER else model
    if action in ("generateContent", "streamGenerateContent"):
        return await generate.generate(sim, request, reported, spec, stream=action == "streamGenerateContent")
    if action == "countTokens":
        return await generate.count_tokens(sim, request, reported, spec)
    if action == "embedContent":
        return await vertex_embed.embed_content(sim, request, model, spec)
    return await vertex_embed.predict(sim, request, model, spec)


class VertexGeminiProvider:
    """Gemini's routes under Vertex AI's resource paths (stats and chaos filters see them as ``gemini``)."""

    name = "gemini"

    def __init__(self, sim: Simulator) -> None:
        self._sim = sim

    def routes(self) -> list[Route]:
        """One route per API version; the action is split off the model segment by the handler."""
        handler = partial(model_action, self._sim)
        return [
            Route(
                "POST",
                f"/{version}/projects/{{project}}/locations/{{location}}{MARKER}{{target}}",
                handler,
                "generate",
                endpoint_of=action_endpoint,
            )
            for version in VERSIONS
        ]

    def claims(self, path: str, headers: Mapping[str, str], query: Mapping[str, str]) -> bool:
        """Unrouted paths under a Google publisher's models."""
        return MARKER in path

    def render_error(self, error: SimulatorError, request_id: str) -> JsonResponse:
        """Google's error body in Vertex AI's wording."""
        model = error.limit.model if error.limit is not None else ""
        code, body = vertex_error(error, QUOTA_METRIC, model)
        return JsonResponse(code, body, [(b"content-type", b"application/json; charset=UTF-8")])


__all__ = ["VertexGeminiProvider"]
