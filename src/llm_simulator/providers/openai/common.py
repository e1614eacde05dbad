"""Pieces shared by the OpenAI endpoints: model lookup, limits, ids and headers."""

from __future__ import annotations

import time
from typing import Any

from llm_simulator.core.errors import ErrorKind, SimulatorError, invalid
from llm_simulator.core.http import JSON_CONTENT_TYPE, Headers, HttpRequest
from llm_simulator.engine.catalogue import ModelSpec
from llm_simulator.engine.simulator import Simulator
from llm_simulator.infra.rng import IDS
from llm_simulator.providers.validation import JsonObject, get_bool, get_object, get_str

# A chunk whose JSON is cut short, as a proxy truncating one would leave it (chaos ``malformed``).
MALFORMED_CHUNK = b'data: {"id":"chunk","choices":[{"index":0,"delta":{"content":"trunc\n\n'
# The same for a legacy completion stream (its choices carry ``text``).
MALFORMED_TEXT_CHUNK = b'data: {"id":"chunk","choices":[{"index":0,"text":"trunc\n\n'


def new_id(prefix: str, length: int = 29) -> str:
    """An OpenAI-style id such as ``chatcmpl-…`` (random; ids are not part of seeding)."""
    return prefix + IDS.token(length)


def require_model(sim: Simulator, body: JsonObject) -> tuple[str, ModelSpec]:
    """The requested model id and its spec; 404 ``model_not_found`` when unknown."""
    model_id = get_str(body, "model", required=True)
    assert model_id is not None
    return model_id, known_model(sim, model_id)


def known_model(sim: Simulator, model_id: str) -> ModelSpec:
    """The spec of ``model_id``; a 400 when it is empty, 404 ``model_not_found`` when unknown."""
    if not model_id:
        raise invalid("Invalid 'model': empty string. Expected a model id.", param="model")
    spec = sim.resolve_model(model_id, "openai")
    if spec is None:
        raise SimulatorError(
            ErrorKind.NOT_FOUND,
            f"The model `{model_id}` does not exist or you do not have access to it.",
            param="model",
            code="model_not_found",
        )
    return spec


def require_generation_model(model_id: str, spec: ModelSpec, endpoint: str) -> None:
    """Reject a model the endpoint does not serve, as OpenAI does (404; see ``generation_refusal``)."""
    refusal = generation_refusal(model_id, spec, endpoint)
    if refusal is not None:
        raise refusal


def generation_refusal(model_id: str, spec: ModelSpec, endpoint: str) -> SimulatorError | None:
    """The 404 OpenAI answers when ``endpoint`` does not serve ``spec``; None when it does.

    Embedding models serve no text-generation endpoint; OpenAI's chat models (the catalogue's
    OpenAI models without the ``completion`` capability) not the legacy v1/completions; the
    legacy completion models (``completion`` without ``chat``) not the chat endpoints. The
    one statement of these rules: ``require_generation_model`` raises the error, the plain
    chat body's one pass (``chat_plain``) only asks whether there is one.
    """
    if spec.is_embedding:
        return SimulatorError(
            ErrorKind.NOT_FOUND,
            f"The model `{model_id}` is an embedding model and is not supported in the v1/{endpoint} endpoint.",
            param="model",
            code="model_not_supported",
        )
    if spec.kind != "chat":
        return SimulatorError(
            ErrorKind.NOT_FOUND,
            f"The model `{model_id}` is not supported in the v1/{endpoint} endpoint.",
            param="model",
            code="model_not_supported",
        )
    caps = spec.capabilities
    if endpoint == "completions" and spec.provider == "openai" and "completion" not in caps and "chat" in caps:
        return SimulatorError(
            ErrorKind.NOT_FOUND,
            "This is a chat model and not supported in the v1/completions endpoint. "
            "Did you mean to use v1/chat/completions?",
            param="model",
        )
    if endpoint != "completions" and "chat" not in caps and "completion" in caps:
        return SimulatorError(
            ErrorKind.NOT_FOUND,
            f"This is not a chat model and thus not supported in the v1/{endpoint} endpoint. "
            "Did you mean to use v1/completions?",
            param="model",
        )
    return None


def check_limits(
    model_id: str,
    spec: ModelSpec,
    prompt_tokens: int,
    max_tokens: int | None,
    param: str,
    prompt_param: str = "messages",
) -> None:
    """Reject ``max_tokens`` above the model's output limit or a request over its window.

    ``param`` names the output-limit field, ``prompt_param`` the input field (``messages``
    for chat, ``prompt`` for legacy completions).
    """
    if max_tokens is not None and max_tokens > spec.max_output_tokens:
        raise invalid(
            f"max_tokens is too large: {max_tokens}. This model supports at most "
            f"{spec.max_output_tokens} completion tokens, whereas you provided {max_tokens}.",
            param=param,
            code="invalid_value",
        )
    requested = prompt_tokens + (max_tokens or 0)
    if requested > spec.context_window:
        raise SimulatorError(
            ErrorKind.CONTEXT_LENGTH,
            f"This model's maximum context length is {spec.context_window} tokens. However, you "
            f"requested {requested} tokens ({prompt_tokens} in the {prompt_param}, {max_tokens or 0} in "
            f"the completion). Please reduce the length of the {prompt_param} or completion.",
            param=prompt_param,
            code="context_length_exceeded",
        )


def response_headers(request: HttpRequest, started: float, model_id: str) -> Headers:
    """Headers OpenAI sends with every successful JSON response."""
    return [
        JSON_CONTENT_TYPE,
        (b"x-request-id", request.request_id.encode()),
        (b"openai-version", b"2020-10-01"),
        (b"openai-model", model_id.encode()),
        (b"openai-processing-ms", str(int((time.monotonic() - started) * 1000)).encode()),
    ]


def stream_headers(request: HttpRequest, model_id: str) -> Headers:
    """Headers of an OpenAI event stream (never compressed).

    No ``x-request-id`` here: the server adds it to every stream (see ``StreamResponse``),
    and a second copy would reach clients as ``"id, id"``.
    """
    return [
        (b"content-type", b"text/event-stream; charset=utf-8"),
        (b"cache-control", b"no-cache"),
        (b"x-accel-buffering", b"no"),
        (b"openai-version", b"2020-10-01"),
        (b"openai-model", model_id.encode()),
    ]


def usage_object(
    prompt_tokens: int, completion_tokens: int, reasoning_tokens: int = 0, cached_tokens: int = 0
) -> dict[str, Any]:
    """The chat ``usage`` object with its detail sub-objects (reasoning is part of completion).

    ``cached_tokens`` is the prompt-cache hit as the API reports it (see providers.caching).
    """
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "prompt_tokens_details": {"cached_tokens": cached_tokens, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": reasoning_tokens,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def parse_stream_options(body: JsonObject, stream: bool) -> bool:
    """``stream_options.include_usage``; the options are only allowed on a stream."""
    options = get_object(body, "stream_options")
    if options is None:
        return False
    if not stream:
        raise invalid(
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.", param="stream_options"
        )
    return get_bool(options, "include_usage", "stream_options.include_usage")


def legacy_usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    """The legacy completions ``usage`` object."""
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


# The processing tiers a request may ask for (``service_tier``), in the SDK's order: chat
# completions take these; the Responses API also ``ultrafast`` (``RESPONSES_SERVICE_TIERS``).
SERVICE_TIERS = ("auto", "default", "flex", "scale", "priority", "fast")
RESPONSES_SERVICE_TIERS = (*SERVICE_TIERS, "ultrafast")
# The tier a request is reported as served on, where it is not the one asked for: ``auto``
# is the project's default tier, and Fast mode is served (and reported) as ``priority``.
SERVED_AS = {"auto": "default", "fast": "priority"}


def service_tier(body: JsonObject, allowed: tuple[str, ...] = SERVICE_TIERS) -> str:
    """The tier the request is served on (``SERVED_AS``; none asked for is ``default``).

    Chat completions and the Responses API report it. A value outside ``allowed`` is a 400
    in the API's wording.
    """
    value = get_str(body, "service_tier")
    if value is None:
        return "default"
    if value not in allowed:
        listed = ", ".join(f"'{tier}'" for tier in allowed[:-1]) + f" and '{allowed[-1]}'"
        raise invalid(
            f"Invalid value: '{value}'. Supported values are: {listed}.", param="service_tier", code="invalid_value"
        )
    return SERVED_AS.get(value, value)
