"""The Google Gemini API (Developer API, ``v1beta`` and ``v1``): generate, count, embed, files, batches, models."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial

from llm_simulator.core.errors import ErrorKind, SimulatorError
from llm_simulator.core.http import HttpRequest, JsonResponse, Response, Route
from llm_simulator.engine.simulator import Simulator
from llm_simulator.providers.batch_runner import BatchRunner
from llm_simulator.providers.gemini import batches, embed, files, generate, models, upload
from llm_simulator.providers.gemini.common import PROVIDER, api_version, is_gemini, require_model
from llm_simulator.providers.gemini.errors import render_error
from llm_simulator.providers.internal import InternalDispatch

VERSIONS = ("v1beta", "v1")
GENERATE_ACTIONS = ("generateContent", "streamGenerateContent", "countTokens")
EMBED_ACTIONS = ("embedContent", "batchEmbedContents")
BATCH_ACTIONS = ("batchGenerateContent", "asyncBatchEmbedContent")
# The stats label of each action (the route itself is shared by all of them).
ACTION_ENDPOINTS = {
    "generateContent": "generate",
    "streamGenerateContent": "generate",
    "countTokens": "count_tokens",
    "embedContent": "embedding",
    "batchEmbedContents": "embedding",
    "batchGenerateContent": "batches",
    "asyncBatchEmbedContent": "batches",
}


def action_endpoint(params: Mapping[str, str]) -> str:
    """The endpoint name of ``{model}:{action}`` (``generate`` for an unknown action)."""
    return ACTION_ENDPOINTS.get(params["target"].rpartition(":")[2], "generate")


async def model_action(sim: Simulator, service: batches.GeminiBatchService, request: HttpRequest) -> Response:
    """``POST /{version}/models/{model}:{action}``: split the action off the last path segment.

    The ``:action`` suffix lives inside the model's path segment, so it is split here rather
    than by the router.
    """
    target = request.path_params["target"]
    model, sep, action = target.rpartition(":")
    if not sep or action not in GENERATE_ACTIONS + EMBED_ACTIONS + BATCH_ACTIONS:
        raise SimulatorError(
            ErrorKind.NOT_FOUND,
            f"Method not found: '{action or target}' is not a method of models/{model or target}. Supported: "
            + ", ".join(GENERATE_ACTIONS + EMBED_ACTIONS + BATCH_ACTIONS),
        )
    if action in BATCH_ACTIONS:
        return await batches.create(service, request, model, action)
    version = api_version(request.path)
    # Embedding models list countTokens among their methods, as the API's do.
    embedding = None if action == "countTokens" else action in EMBED_ACTIONS
    spec = require_model(sim, model, action, version, embedding=embedding)
    # The API reports the model version an alias resolves to.
    reported = spec.id if spec.provider == PROVIDER else model
    if action == "generateContent":
        return await generate.generate(sim, request, reported, spec, stream=False)
    if action == "streamGenerateContent":
        return await generate.generate(sim, request, reported, spec, stream=True)
    if action == "countTokens":
        return await generate.count_tokens(sim, request, reported, spec)
    if action == "embedContent":
        return await embed.embed_content(sim, request, model, spec)
    return await embed.batch_embed_contents(sim, request, model, spec)


class GeminiProvider:
    """Routes under ``/v1beta`` and ``/v1`` in Gemini's wire format."""

    name = "gemini"

    def __init__(self, sim: Simulator, dispatch: InternalDispatch | None = None) -> None:
        self._sim = sim
        self._dispatch = dispatch or InternalDispatch()

    def routes(self) -> list[Route]:
        """Every Gemini route; on ``/v1/models`` only for requests from a Gemini client."""
        sim = self._sim
        # Batches, per process (run one worker when batches matter).
        limits = sim.config.batches
        stored = files.GeminiFiles(sim.clock, limits)
        uploads = upload.Uploads(stored)
        service = batches.GeminiBatchService(sim, BatchRunner(self._dispatch, limits), limits, stored)
        routes: list[Route] = []
        for version in VERSIONS:
            # /v1/models is shared with OpenAI and Anthropic; /v1beta is Gemini's alone.
            when = is_gemini if version == "v1" else None
            one = f"/{version}/batches/"
            routes += [
                Route(
                    "POST",
                    f"/{version}/models/{{target}}",
                    partial(model_action, sim, service),
                    "generate",
                    endpoint_of=action_endpoint,
                ),
                Route("GET", f"/{version}/models", partial(models.list_models, sim), "models", when),
                Route("GET", f"/{version}/models/{{model:path}}", partial(models.get_model, sim), "models", when),
                # /v1/batches is OpenAI's too: Gemini's for Gemini clients.
                Route("GET", f"/{version}/batches", partial(batches.list_batches, service), "batches", when),
                Route("GET", f"{one}{{batch_id}}", partial(batches.get, service), "batches", when),
                Route("DELETE", f"{one}{{batch_id}}", partial(batches.delete, service), "batches", when),
                # An ``:action`` path is Gemini's whoever asks (OpenAI's cancel is ``/cancel``).
                Route("POST", f"{one}{{batch_action}}", partial(batches.action, service), "batches"),
                # The Files API; /v1/files is OpenAI's too, so Gemini's for Gemini clients.
                Route("POST", f"/upload/{version}/files", partial(upload.upload, uploads), "files"),
                Route("GET", f"/{version}/files", partial(files.list_files, stored), "files", when),
                Route("GET", f"/{version}/files/{{file_id}}", partial(files.get_file, stored), "files", when),
                Route("DELETE", f"/{version}/files/{{file_id}}", partial(files.delete_file, stored), "files", when),
                Route("GET", f"/download/{version}/files/{{file_id}}", partial(files.download_file, stored), "files"),
            ]
        return routes

    def claims(self, path: str, headers: Mapping[str, str], query: Mapping[str, str]) -> bool:
        """Unrouted ``/v1beta``, ``/upload``, ``/download`` requests, ``:action`` paths, requests with a Google key."""
        if path.startswith(("/v1beta/", "/upload/", "/download/")):
            return True
        return ":" in path.rsplit("/", 1)[-1] or is_gemini(headers, query)

    def render_error(self, error: SimulatorError, request_id: str) -> JsonResponse:
        """Google's error body."""
        return render_error(error, request_id)


__all__ = ["GeminiProvider"]
