"""``POST /v1/chat/completions``: parse, plan, and render (JSON or SSE)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import orjson

from llm_simulator.core.errors import invalid
from llm_simulator.core.types import (
    ChoicePlan,
    Endpoint,
    FinishEvent,
    FinishReason,
    GenerationPlan,
    GenerationRequest,
    Message,
    TokenLogprob,
)
from llm_simulator.engine.simulator import Simulator
from llm_simulator.engine.timing import Timeline
from llm_simulator.providers.base import HttpRequest, JsonResponse, Response, StreamResponse
from llm_simulator.providers.openai.common import (
    check_limits,
    new_id,
    parse_stream_options,
    require_generation_model,
    require_model,
    response_headers,
    stream_headers,
    usage_object,
)
from llm_simulator.providers.openai.errors import stream_error_frame
from llm_simulator.providers.validation import (
    JsonObject,
    get_bool,
    get_int,
    get_list,
    get_number,
    get_object,
    get_stop,
    get_str,
    parse_object,
    type_error,
)

ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
# Per-message framing overhead of the chat format (OpenAI's published counting recipe):
# 3 tokens per message, 1 more when a name is given, and 3 that prime the reply.
TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
REPLY_PRIMING_TOKENS = 3
# Image parts are charged at the low-detail rate of the vision models.
IMAGE_PART_TOKENS = 85

FINISH = {
    FinishReason.STOP: "stop",
    FinishReason.STOP_SEQUENCE: "stop",
    FinishReason.LENGTH: "length",
}


def _content_text(content: Any, param: str) -> tuple[str, int]:
    """Text of a message's content and the extra tokens of its non-text parts."""
    if content is None:
        return "", 0
    if isinstance(content, str):
        return content, 0
    if not isinstance(content, list):
        raise type_error(param, "a string or an array of content parts", content)
    texts: list[str] = []
    extra = 0
    for i, part in enumerate(content):
        where = f"{param}[{i}]"
        if not isinstance(part, dict):
            raise type_error(where, "an object", part)
        kind = get_str(part, "type", f"{where}.type", required=True)
        if kind in ("text", "input_text", "refusal"):
            key = "refusal" if kind == "refusal" else "text"
            text = get_str(part, key, f"{where}.{key}", required=True)
            texts.append(text or "")
        elif kind in ("image_url", "input_image", "input_audio", "file"):
            extra += IMAGE_PART_TOKENS
        else:
            raise invalid(
                f"Invalid value: '{kind}'. Supported values are: 'text', 'image_url', "
                "'input_audio', 'refusal' and 'file'.",
                param=f"{where}.type",
                code="invalid_value",
            )
    return "\n".join(texts), extra


def parse_messages(sim: Simulator, raw: list[Any]) -> tuple[tuple[Message, ...], int]:
    """Neutral messages and their prompt token count (chat framing included)."""
    if not raw:
        raise invalid(
            "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
            param="messages",
            code="empty_array",
        )
    messages: list[Message] = []
    tokens = REPLY_PRIMING_TOKENS
    for i, item in enumerate(raw):
        where = f"messages[{i}]"
        if not isinstance(item, dict):
            raise type_error(where, "an object", item)
        role = get_str(item, "role", f"{where}.role", required=True)
        if role not in ROLES:
            raise invalid(
                f"Invalid value: '{role}'. Supported values are: 'system', 'assistant', 'user', "
                "'tool', 'function' and 'developer'.",
                param=f"{where}.role",
                code="invalid_value",
            )
        if "content" not in item and role in ("system", "developer", "user", "tool"):
            raise invalid(f"Missing required parameter: '{where}.content'.", param=f"{where}.content")
        text, extra = _content_text(item.get("content"), f"{where}.content")
        name = get_str(item, "name", f"{where}.name")
        if role == "tool":
            get_str(item, "tool_call_id", f"{where}.tool_call_id", required=True)
        tokens += TOKENS_PER_MESSAGE + sim.count_tokens(role) + sim.count_tokens(text) + extra
        if name:
            tokens += TOKENS_PER_NAME + sim.count_tokens(name)
        messages.append(Message(role, text, name))
    return tuple(messages), tokens


def parse_request(sim: Simulator, body: JsonObject) -> tuple[GenerationRequest, str, bool, bool]:
    """The neutral request, the model id as sent, ``stream`` and ``include_usage``."""
    model_id, spec = require_model(sim, body)
    raw_messages = get_list(body, "messages", required=True)
    assert raw_messages is not None
    messages, prompt_tokens = parse_messages(sim, raw_messages)
    require_generation_model(model_id, spec, "chat/completions")
    max_completion = get_int(body, "max_completion_tokens", minimum=1)
    max_tokens = get_int(body, "max_tokens", minimum=1)
    limit_param = "max_completion_tokens" if max_completion is not None else "max_tokens"
    limit = max_completion if max_completion is not None else max_tokens
    n = get_int(body, "n", minimum=1, maximum=128) or 1
    logprobs = get_bool(body, "logprobs")
    top_logprobs = get_int(body, "top_logprobs", minimum=0, maximum=20) or 0
    if top_logprobs and not logprobs:
        raise invalid(
            "Invalid 'top_logprobs': 'logprobs' must be set to true when 'top_logprobs' is used.", param="top_logprobs"
        )
    get_number(body, "temperature", minimum=0, maximum=2)
    get_number(body, "top_p", minimum=0, maximum=1)
    get_number(body, "presence_penalty", minimum=-2, maximum=2)
    get_number(body, "frequency_penalty", minimum=-2, maximum=2)
    get_str(body, "user")
    get_object(body, "metadata")
    get_str(body, "service_tier")
    seed = get_int(body, "seed")
    stream = get_bool(body, "stream")
    include_usage = parse_stream_options(body, stream)
    check_limits(model_id, spec, prompt_tokens, limit, limit_param)
    request = GenerationRequest(
        model=model_id,
        endpoint=Endpoint.CHAT,
        messages=messages,
        prompt_tokens=prompt_tokens,
        max_tokens=limit,
        n=n,
        stop=get_stop(body, "stop"),
        seed=seed,
        ignore_eos=get_bool(body, "ignore_eos"),
        logprobs=logprobs,
        top_logprobs=top_logprobs,
    )
    return request, model_id, stream, include_usage


def logprob_entry(lp: TokenLogprob) -> dict[str, Any]:
    """One token's chat-format logprob object."""
    return {
        "token": lp.token,
        "logprob": lp.logprob,
        "bytes": list(lp.token.encode()),
        "top_logprobs": [{"token": tok, "logprob": value, "bytes": list(tok.encode())} for tok, value in lp.top],
    }


def _choice_body(choice: ChoicePlan) -> dict[str, Any]:
    logprobs = None
    if choice.logprobs is not None:
        logprobs = {"content": [logprob_entry(lp) for lp in choice.logprobs], "refusal": None}
    return {
        "index": choice.index,
        "message": {"role": "assistant", "content": choice.text, "refusal": None, "annotations": []},
        "logprobs": logprobs,
        "finish_reason": FINISH[choice.finish_reason],
    }


def render_completion(plan: GenerationPlan, completion_id: str, created: int, *, azure: bool = False) -> bytes:
    """The non-streamed ``chat.completion`` object (with Azure's content-filter results if ``azure``)."""
    request = plan.request
    completion: dict[str, Any] = {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": request.model,
        "choices": [_choice_body(c) for c in plan.choices],
        "usage": usage_object(request.prompt_tokens, plan.completion_tokens),
        "service_tier": "default",
        "system_fingerprint": plan.system_fingerprint,
    }
    if azure:
        completion["prompt_filter_results"] = prompt_filter_results()
        for choice in completion["choices"]:
            choice["content_filter_results"] = CONTENT_FILTER_RESULTS
    return orjson.dumps(completion)


class ChunkWriter:
    """Renders ``chat.completion.chunk`` frames; the constant envelope is built once."""

    def __init__(
        self, plan: GenerationPlan, completion_id: str, created: int, include_usage: bool, *, azure: bool = False
    ) -> None:
        self._plan = plan
        # Azure annotates every content chunk's choice with its content-filter verdicts.
        self._filter = b',"content_filter_results":' + orjson.dumps(CONTENT_FILTER_RESULTS) if azure else b""
        self.azure = azure
        envelope = orjson.dumps(
            {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": plan.request.model,
                "service_tier": "default",
                "system_fingerprint": plan.system_fingerprint,
            }
        )
        self._head = b"data: " + envelope[:-1] + b',"choices":['
        self._tail = b'],"usage":null}\n\n' if include_usage else b"]}\n\n"

    def _frame(self, choice: bytes) -> bytes:
        return self._head + choice + self._tail

    def role(self, index: int) -> bytes:
        """The first chunk of a choice: the role, empty content."""
        return self._frame(
            b'{"index":%d,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}'
            % index
        )

    def token(self, index: int, text: str, logprob: TokenLogprob | None) -> bytes:
        """One content token."""
        lp = b"null"
        if logprob is not None:
            lp = orjson.dumps({"content": [logprob_entry(logprob)], "refusal": None})
        return self._frame(
            b'{"index":%d,"delta":{"content":%s},"logprobs":%s,"finish_reason":null%s}'
            % (index, orjson.dumps(text), lp, self._filter)
        )

    def prompt_filter(self) -> bytes:
        """Azure's first chunk: no choices, the prompt's content-filter results."""
        return self._head + b'],"prompt_filter_results":' + orjson.dumps(prompt_filter_results()) + b"}\n\n"

    def finish(self, index: int, reason: FinishReason) -> bytes:
        """The closing chunk of a choice: empty delta and the finish reason."""
        return self._frame(
            b'{"index":%d,"delta":{},"logprobs":null,"finish_reason":"%s"}' % (index, FINISH[reason].encode())
        )

    def usage(self) -> bytes:
        """The usage-only chunk (``choices: []``), sent only when ``include_usage`` was asked."""
        request = self._plan.request
        usage = orjson.dumps(usage_object(request.prompt_tokens, self._plan.completion_tokens))
        return self._head + b'],"usage":' + usage + b"}\n\n"


DONE = b"data: [DONE]\n\n"

_SAFE = {"filtered": False, "severity": "safe"}
# What Azure OpenAI's default content filter reports for harmless text.
CONTENT_FILTER_RESULTS: dict[str, Any] = {
    "hate": _SAFE,
    "self_harm": _SAFE,
    "sexual": _SAFE,
    "violence": _SAFE,
    "protected_material_code": {"filtered": False, "detected": False},
    "protected_material_text": {"filtered": False, "detected": False},
}


def prompt_filter_results() -> list[dict[str, Any]]:
    """Azure's ``prompt_filter_results`` for a single, harmless prompt."""
    results = {"hate": _SAFE, "self_harm": _SAFE, "sexual": _SAFE, "violence": _SAFE}
    return [
        {"prompt_index": 0, "content_filter_results": {**results, "jailbreak": {"filtered": False, "detected": False}}}
    ]


async def stream_frames(
    sim: Simulator, plan: GenerationPlan, timeline: Timeline, writer: ChunkWriter, include_usage: bool
) -> AsyncIterator[bytes]:
    """SSE frames of a chat completion stream, each yielded when its token is due."""
    started: set[int] = set()
    logprobs = [c.logprobs for c in plan.choices]
    if writer.azure:
        yield writer.prompt_filter()
    async for event in sim.stream(plan, timeline):
        index = event.choice
        if index not in started:
            started.add(index)
            yield writer.role(index)
        if isinstance(event, FinishEvent):
            yield writer.finish(index, event.reason)
        else:
            lps = logprobs[index]
            yield writer.token(index, event.text, lps[event.position] if lps is not None else None)
    if include_usage:
        yield writer.usage()
    yield DONE


async def handle(sim: Simulator, request: HttpRequest) -> Response:
    """Serve one chat completion request."""
    return await serve(sim, request, parse_object(request.body))


async def serve(sim: Simulator, request: HttpRequest, body: JsonObject, *, azure: bool = False) -> Response:
    """Serve a chat request whose body is already parsed; ``azure`` adds Azure's filter results."""
    started = time.monotonic()
    gen, model_id, stream, include_usage = parse_request(sim, body)
    spec = sim.resolve_model(model_id, "openai")
    assert spec is not None
    base_seed = sim.request_seed(gen.seed, gen.model, gen.messages, gen.n, gen.max_tokens)
    plan = sim.plan(gen, spec, base_seed)
    timeline = sim.open_timeline(spec, gen.prompt_tokens, base_seed)
    completion_id = new_id("chatcmpl-")
    created = int(sim.clock.wall())
    if stream:
        writer = ChunkWriter(plan, completion_id, created, include_usage, azure=azure)
        return StreamResponse(
            stream_frames(sim, plan, timeline, writer, include_usage),
            stream_headers(request, model_id),
            stream_error_frame,
        )
    await sim.complete(plan, timeline)
    return JsonResponse(
        200, render_completion(plan, completion_id, created, azure=azure), response_headers(request, started, model_id)
    )
