"""``POST /v1/embeddings``: hashed n-gram vectors, float or base64, with ``dimensions``."""

from __future__ import annotations

import base64
import sys
import time
from array import array
from typing import Any

import orjson

from llm_simulator.core.errors import invalid
from llm_simulator.core.http import HttpRequest, JsonResponse, Response
from llm_simulator.engine.cpu import off_loop
from llm_simulator.engine.embeddings import embed
from llm_simulator.engine.simulator import Simulator
from llm_simulator.providers.heavy import is_heavy
from llm_simulator.providers.openai.common import require_model, response_headers
from llm_simulator.providers.openai.ratelimits import limit_headers
from llm_simulator.providers.pipeline import serve_embedding
from llm_simulator.providers.validation import JsonObject, get_int, get_str, parse_object, type_error

MAX_INPUTS = 2048
# OpenAI's cap on the tokens of all inputs of one request together.
MAX_REQUEST_TOKENS = 300_000
# Vectors × dimensions from which the vectors are computed and rendered off the event loop
# (pure Python: about 0.1 ms per 1536-float vector, 0.3 s for 2048 of them).
HEAVY_FLOATS = 64 * 1536
# Only the text-embedding-3 generation can shorten its vectors.
SHORTENABLE_PREFIX = "text-embedding-3"


def _inputs(sim: Simulator, raw: Any) -> list[tuple[str, int]]:
    """Each input's text and token count; token-id inputs are decoded."""
    vocab = sim.tokenizer.vocab_size

    def from_ids(ids: list[int], param: str) -> tuple[str, int]:
        if not ids:
            raise invalid(f"'{param}' cannot be an empty array of tokens.", param=param)
        for token in ids:
            if not 0 <= token < vocab:
                raise invalid(f"Invalid token id {token} in '{param}'.", param=param)
        return sim.tokenizer.decode(ids), len(ids)

    def from_text(text: str, param: str) -> tuple[str, int]:
        if not text:
            raise invalid(f"'{param}' cannot be an empty string.", param=param, code="invalid_value")
        return text, sim.count_tokens(text)

    def is_ids(value: Any) -> bool:
        return isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in value)

    if raw is None:
        raise invalid("Missing required parameter: 'input'.", param="input", code="missing_required_parameter")
    if isinstance(raw, str):
        return [from_text(raw, "input")]
    if not isinstance(raw, list):
        raise type_error("input", "a string, an array of strings, or token ids", raw)
    if not raw:
        raise invalid("'input' cannot be an empty array.", param="input", code="invalid_value")
    if len(raw) > MAX_INPUTS:
        raise invalid(f"'input' can hold at most {MAX_INPUTS} items, got {len(raw)}.", param="input")
    if is_ids(raw):
        return [from_ids(raw, "input")]
    out = []
    for i, item in enumerate(raw):
        if isinstance(item, str):
            out.append(from_text(item, f"input[{i}]"))
        elif is_ids(item):
            out.append(from_ids(item, f"input[{i}]"))
        else:
            raise type_error(f"input[{i}]", "a string or an array of token ids", item)
    return out


def encode_base64(vector: list[float]) -> str:
    """Little-endian float32 bytes, base64-encoded (what ``encoding_format=base64`` returns)."""
    packed = array("f", vector)
    if sys.byteorder != "little":  # pragma: no cover - big-endian hosts
        packed.byteswap()
    return base64.b64encode(packed.tobytes()).decode()


async def handle(sim: Simulator, request: HttpRequest) -> Response:
    """Serve one embeddings request."""
    return await serve(sim, request, parse_object(request.body))


class _Embeddings:
    """The embeddings endpoint as the pipeline's admission stage sees it."""

    provider = "openai"
    limit_headers = staticmethod(limit_headers)


EMBEDDINGS = _Embeddings()


async def serve(sim: Simulator, request: HttpRequest, body: JsonObject) -> Response:
    """Serve a embeddings request whose body is already parsed (Azure rewrites its model first)."""
    started = time.monotonic()
    model_id, spec = require_model(sim, body)
    if not spec.is_embedding:
        raise invalid(f"The model `{model_id}` does not support embeddings.", param="model", code="model_not_supported")
    # Each input must fit the window: a longer one is refused below without being tokenised.
    inputs = await off_loop(is_heavy(request), spec.context_window, _inputs, sim, body.get("input"))
    native = spec.embedding_dimensions or 1536
    dimensions = get_int(body, "dimensions", minimum=1)
    if dimensions is not None:
        if not model_id.startswith(SHORTENABLE_PREFIX) and dimensions != native:
            raise invalid("This model does not support specifying dimensions.", param="dimensions")
        if dimensions > native:
            raise invalid(
                f"Invalid 'dimensions': at most {native} for this model, got {dimensions}.", param="dimensions"
            )
    size = dimensions or native
    encoding = get_str(body, "encoding_format") or "float"
    if encoding not in ("float", "base64"):
        raise invalid(
            f"Invalid value: '{encoding}'. Supported values are: 'float' and 'base64'.",
            param="encoding_format",
            code="invalid_value",
        )
    get_str(body, "user")
    for i, (_, tokens) in enumerate(inputs):
        if tokens > spec.context_window:
            raise invalid(
                f"This model's maximum context length is {spec.context_window} tokens, however you "
                f"requested {tokens} tokens in input[{i}]. Please reduce your prompt.",
                param="input",
                code="context_length_exceeded",
            )
    total = sum(tokens for _, tokens in inputs)
    if total > MAX_REQUEST_TOKENS:
        raise invalid(
            f"Requested {total} tokens, max {MAX_REQUEST_TOKENS} tokens per request", code="max_tokens_per_request"
        )
    await serve_embedding(sim, request, EMBEDDINGS, spec, model_id, total, lambda: [text for text, _ in inputs])
    heavy = is_heavy(request) or len(inputs) * size >= HEAVY_FLOATS
    payload = await off_loop(heavy, None, render, inputs, size, encoding == "base64", model_id, total)
    return JsonResponse(200, payload, response_headers(request, started, model_id))


def render(inputs: list[tuple[str, int]], size: int, as_base64: bool, model_id: str, total: int) -> bytes:
    """The response body: one ``size``-dimensional vector per input (base64 if ``as_base64``).

    Serialised one item at a time and joined (the same bytes as one ``orjson.dumps`` of the
    whole list): orjson holds the GIL for a whole call, and one call over thousands of vectors
    (tens of MB) would stall the event loop for tens of milliseconds while this runs on the pool.
    """
    parts = []
    for index, (text, _) in enumerate(inputs):
        vector = embed(text, size)
        item = {"object": "embedding", "index": index, "embedding": encode_base64(vector) if as_base64 else vector}
        parts.append(orjson.dumps(item))
    usage = orjson.dumps({"prompt_tokens": total, "total_tokens": total})
    return b"".join(
        (
            b'{"object":"list","data":[',
            b",".join(parts),
            b'],"model":',
            orjson.dumps(model_id),
            b',"usage":',
            usage,
            b"}",
        )
    )
