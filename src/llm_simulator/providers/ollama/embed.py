"""``POST /api/embed`` (a batch of inputs) and the legacy ``POST /api/embeddings`` (one prompt).

Vectors come from the engine's deterministic embedder (same text, same vector), unit-norm in
the model's dimensions or in ``dimensions``. An input longer than the model's context is
truncated (``truncate`` defaults to true) or, with ``truncate: false``, refused with a 400.
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from llm_simulator.core.errors import ErrorKind, SimulatorError, invalid
from llm_simulator.core.http import HttpRequest, JsonResponse, Response
from llm_simulator.engine.catalogue import ModelSpec
from llm_simulator.engine.cpu import off_loop
from llm_simulator.engine.embeddings import embed
from llm_simulator.engine.simulator import Simulator
from llm_simulator.providers.admission import no_limit_headers
from llm_simulator.providers.heavy import is_heavy
from llm_simulator.providers.ollama.chat import parse_body
from llm_simulator.providers.ollama.common import JSON_HEADERS, LoadedModels, nanoseconds, require_model
from llm_simulator.providers.ollama.request import get_flag, get_string, keep_alive, parse_options, unmarshal_error
from llm_simulator.providers.pipeline import serve_embedding
from llm_simulator.providers.validation import JsonObject

# Inputs from this many on are embedded off the event loop (about 0.1 ms a vector).
HEAVY_BATCH = 64


class _Embed:
    """The embedding endpoints as the pipeline's admission stage sees them (no limit headers)."""

    provider = "ollama"
    limit_headers = staticmethod(no_limit_headers)


EMBED = _Embed()


def _embedding_model(sim: Simulator, body: JsonObject, struct: str) -> tuple[str, ModelSpec]:
    name = get_string(body, "model", struct)
    spec = require_model(sim, name)
    assert name is not None
    if not spec.is_embedding:
        raise invalid(f'"{name}" does not support embeddings', param="model")
    return name, spec


def _inputs(body: JsonObject) -> list[str]:
    """``input``: one string or a list of strings (an empty string embeds nothing, as in Ollama)."""
    raw = body.get("input")
    if raw is None:
        return []
    if isinstance(raw, str):
        return [raw] if raw else []
    if isinstance(raw, list) and all(isinstance(item, str) for item in raw):
        return raw
    raise invalid(f"invalid input type: {type(raw).__name__}; expected a string or a list of strings", "input")


def _vectors(
    sim: Simulator, texts: Sequence[str], size: int, window: int, truncate: bool
) -> tuple[list[list[float]], int]:
    """The vectors of ``texts`` and the tokens they count (each at most ``window``)."""
    vectors = []
    total = 0
    for text in texts:
        tokens = sim.count_tokens(text)
        if tokens > window:
            if not truncate:
                raise invalid("input length exceeds the context length", param="input")
            tokens = window
        total += tokens
        vectors.append(embed(text, size))
    return vectors, total


async def handle_embed(sim: Simulator, loaded: LoadedModels, request: HttpRequest) -> Response:
    """Serve ``POST /api/embed``: ``{"model", "embeddings": [[…]], durations, "prompt_eval_count"}``."""
    arrived = sim.clock.now()
    body = parse_body(request.body)
    name, spec = _embedding_model(sim, body, "EmbedRequest")
    texts = _inputs(body)
    truncate = get_flag(body, "truncate", "EmbedRequest", True)
    options = parse_options(body, "EmbedRequest")
    native = spec.embedding_dimensions or 768
    size = body.get("dimensions")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int)):
        raise unmarshal_error(size, "EmbedRequest.dimensions", "int")
    if size is not None and not 1 <= size <= native:
        raise invalid(f"dimensions must be between 1 and {native}, got {size}", param="dimensions")
    window = min(options.num_ctx or spec.context_window, spec.context_window)
    heavy = is_heavy(request) or len(texts) >= HEAVY_BATCH
    vectors, tokens = await off_loop(heavy, None, _vectors, sim, texts, size or native, window, truncate)
    started = sim.clock.now()
    await serve_embedding(sim, request, EMBED, spec, name, tokens, lambda: texts)
    loaded.touch(spec, keep_alive(body), sim.clock.wall())
    end = sim.clock.now()
    answer = {
        "model": name,
        "embeddings": vectors,
        "total_duration": nanoseconds(end - arrived),
        "load_duration": nanoseconds(started - arrived),
        "prompt_eval_count": tokens,
    }
    return JsonResponse(200, orjson.dumps(answer), list(JSON_HEADERS))


async def handle_embeddings(sim: Simulator, loaded: LoadedModels, request: HttpRequest) -> Response:
    """Serve the legacy ``POST /api/embeddings``: ``{"embedding": […]}`` for one ``prompt``."""
    body = parse_body(request.body)
    try:
        name, spec = _embedding_model(sim, body, "EmbeddingRequest")
    except SimulatorError as exc:
        if exc.kind is not ErrorKind.NOT_FOUND:
            raise
        # The legacy handler keeps Ollama's older wording (the other routes dropped the hint).
        missing_model = body.get("model")
        raise SimulatorError(
            ErrorKind.NOT_FOUND, f'model "{missing_model}" not found, try pulling it first', param="model"
        ) from None
    prompt = get_string(body, "prompt", "EmbeddingRequest") or ""
    parse_options(body, "EmbeddingRequest")
    texts = [prompt] if prompt else []
    vectors, tokens = _vectors(sim, texts, spec.embedding_dimensions or 768, spec.context_window, True)
    await serve_embedding(sim, request, EMBED, spec, name, tokens, lambda: texts)
    loaded.touch(spec, keep_alive(body), sim.clock.wall())
    return JsonResponse(200, orjson.dumps({"embedding": vectors[0] if vectors else []}), list(JSON_HEADERS))
