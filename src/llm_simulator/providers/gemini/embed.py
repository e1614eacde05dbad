"""``:embedContent`` and ``:batchEmbedContents`` (the one the google-genai SDK always calls)."""

from __future__ import annotations

from typing import Any

import orjson

from llm_simulator.core.errors import invalid
from llm_simulator.core.http import HttpRequest, JsonResponse, Response
from llm_simulator.engine.catalogue import ModelSpec
from llm_simulator.engine.cpu import off_loop
from llm_simulator.engine.embeddings import embed
from llm_simulator.engine.simulator import Simulator
from llm_simulator.providers.admission import no_limit_headers
from llm_simulator.providers.gemini import fields
from llm_simulator.providers.gemini.common import MODELS_PREFIX, json_headers
from llm_simulator.providers.gemini.contents import parse_content
from llm_simulator.providers.heavy import is_heavy
from llm_simulator.providers.pipeline import serve_embedding
from llm_simulator.providers.validation import JsonObject, parse_object

MAX_BATCH = 250
# Batches from this many requests on are embedded off the event loop (about 0.1 ms a vector).
HEAVY_BATCH = 64
EMBED_FIELDS = ("model", "content", "taskType", "title", "outputDimensionality")
TASK_TYPES = frozenset(
    {
        "TASK_TYPE_UNSPECIFIED",
        "RETRIEVAL_QUERY",
        "RETRIEVAL_DOCUMENT",
        "SEMANTIC_SIMILARITY",
        "CLASSIFICATION",
        "CLUSTERING",
        "QUESTION_ANSWERING",
        "FACT_VERIFICATION",
        "CODE_RETRIEVAL_QUERY",
    }
)


def _embed_one(sim: Simulator, body: JsonObject, spec: ModelSpec, model: str, where: str) -> tuple[list[float], int]:
    """Validate one ``EmbedContentRequest``; its vector and input tokens."""
    fields.check_known(body, EMBED_FIELDS, where)
    # A batch names its fields from its request's index; a single embed request is the whole body.
    request = "BatchEmbedContentsRequest" if where else "EmbedContentRequest"

    def at(name: str) -> str:
        return f"{where}.{name}" if where else name

    named = fields.get_str(body, "model", at("model"))
    if named is not None and named.removeprefix(MODELS_PREFIX) != model:
        raise invalid(
            f"* {request}.{at('model')}: the model in the request ({named}) must match the "
            f"model in the URL (models/{model}).",
            param=at("model"),
        )
    content = fields.get(body, "content")
    if content is None:
        raise invalid(f"* {request}.{at('content')}: content is not specified.", param=at("content"))
    message, tokens = parse_content(sim, content, at("content"), request=request)
    task = fields.get_str(body, "taskType", at("task_type"))
    if task is not None and task not in TASK_TYPES:
        raise invalid(
            f"Invalid value at '{at('task_type')}' (type.googleapis.com/TaskType), \"{task}\"", param=at("task_type")
        )
    fields.get_str(body, "title", at("title"))
    native = spec.embedding_dimensions or 768
    size = fields.get_int(body, "outputDimensionality", at("output_dimensionality"), minimum=1) or native
    if size > native:
        raise invalid(
            f"* {request}.{at('output_dimensionality')}: must be at most {native} for models/{model}, got {size}.",
            param=at("output_dimensionality"),
        )
    if tokens > spec.context_window:
        raise invalid(
            f"The input token count ({tokens}) exceeds the maximum number of tokens allowed ({spec.context_window}).",
            param=f"{where}.content",
        )
    return embed(message.text, size), tokens


def _embed_batch(sim: Simulator, raw: list[Any], spec: ModelSpec, model: str) -> tuple[list[dict[str, Any]], int]:
    """Validate and embed each request of a batch; the embeddings and their input tokens."""
    embeddings: list[dict[str, Any]] = []
    total = 0
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise invalid(f"Invalid JSON payload received. Expected an object for 'requests[{i}]'.", param="requests")
        vector, tokens = _embed_one(sim, item, spec, model, f"requests[{i}]")
        embeddings.append({"values": vector})
        total += tokens
    return embeddings, total


class _Embed:
    """The embedding actions as the pipeline's admission stage sees them (no limit headers)."""

    provider = "gemini"
    limit_headers = staticmethod(no_limit_headers)


EMBED = _Embed()


def _no_texts() -> tuple[str, ...]:
    """Gemini's embedding inputs are not matched on text by fixtures (parts are not kept)."""
    return ()


async def embed_content(sim: Simulator, request: HttpRequest, model: str, spec: ModelSpec) -> Response:
    """Serve ``:embedContent``: ``{"embedding": {"values": […]}}``."""
    body = parse_object(request.body)
    vector, tokens = await off_loop(is_heavy(request), spec.context_window, _embed_one, sim, body, spec, model, "")
    await serve_embedding(sim, request, EMBED, spec, model, tokens, _no_texts)
    return JsonResponse(200, orjson.dumps({"embedding": {"values": vector}}), json_headers())


async def batch_embed_contents(sim: Simulator, request: HttpRequest, model: str, spec: ModelSpec) -> Response:
    """Serve ``:batchEmbedContents``: one embedding per request, in order."""
    body = parse_object(request.body)
    fields.check_known(body, ("requests",), "")
    raw = fields.get_list(body, "requests", "requests")
    if not raw:
        raise invalid("* BatchEmbedContentsRequest.requests: requests is not specified", param="requests")
    if len(raw) > MAX_BATCH:
        raise invalid(
            f"* BatchEmbedContentsRequest.requests: at most {MAX_BATCH} requests are allowed in a batch, "
            f"got {len(raw)}.",
            param="requests",
        )
    heavy = is_heavy(request) or len(raw) >= HEAVY_BATCH
    embeddings, total = await off_loop(heavy, spec.context_window, _embed_batch, sim, raw, spec, model)
    await serve_embedding(sim, request, EMBED, spec, model, total, _no_texts)
    return JsonResponse(200, orjson.dumps({"embeddings": embeddings}), json_headers())
