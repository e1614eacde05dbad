"""``POST /api/chat`` and ``POST /api/generate``: parse, then answer through the generation pipeline.

``stream`` defaults to true, as in Ollama. A request without messages (chat) or without a
prompt (generate) only loads the model: Ollama answers it at once with ``done_reason:
"load"`` (or ``"unload"`` with ``keep_alive: 0``) and generates nothing.
"""

from __future__ import annotations

from typing import Any

import orjson

from llm_simulator.core.errors import invalid
from llm_simulator.core.http import HttpRequest, JsonResponse, Response
from llm_simulator.core.types import Endpoint, GenerationRequest, Message
from llm_simulator.engine.catalogue import ModelSpec
from llm_simulator.engine.simulator import Simulator
from llm_simulator.providers.heavy import is_heavy
from llm_simulator.providers.ollama.answer import CHAT, GENERATE, OllamaAnswer
from llm_simulator.providers.ollama.common import JSON_HEADERS, LoadedModels, require_model, timestamp
from llm_simulator.providers.ollama.request import (
    NO_TOOLS,
    context_limits,
    get_flag,
    get_string,
    keep_alive,
    parse_format,
    parse_options,
    parse_think,
    parse_tools,
    unmarshal_error,
)
from llm_simulator.providers.pipeline import serve_generation
from llm_simulator.providers.seeding import header_seed
from llm_simulator.providers.validation import JsonObject, json_text

# Chat-template framing per message (role markers, separators) and per image (a vision
# model's image embedding, as gemma3's 256 tokens).
TOKENS_PER_MESSAGE = 4
TOKENS_PER_IMAGE = 256


def parse_body(body: bytes) -> JsonObject:
    """The JSON object of a request body, refused in Go's words (Ollama decodes with ``encoding/json``)."""
    if not body.strip():
        raise invalid("missing request body")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise invalid(f"invalid character in request body: {exc}") from None
    if not isinstance(data, dict):
        raise unmarshal_error(data, "request", "api.Request")
    return data


def _images(item: JsonObject, struct: str) -> int:
    """Prompt tokens of a message's ``images`` (base64 strings)."""
    images = item.get("images")
    if images is None:
        return 0
    if not isinstance(images, list) or not all(isinstance(image, str) for image in images):
        raise unmarshal_error(images, f"{struct}.images", "[]api.ImageData")
    return TOKENS_PER_IMAGE * len(images)


def _tool_calls(sim: Simulator, item: JsonObject) -> int:
    """Prompt tokens of an assistant turn's earlier ``tool_calls``."""
    calls = item.get("tool_calls")
    if calls is None:
        return 0
    if not isinstance(calls, list):
        raise unmarshal_error(calls, "Message.tool_calls", "[]api.ToolCall")
    tokens = 0
    for call in calls:
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict):
            raise unmarshal_error(call, "Message.tool_calls", "api.ToolCall")
        name = get_string(function, "name", "ToolCallFunction") or ""
        tokens += TOKENS_PER_MESSAGE + sim.count_tokens(name)
        tokens += sim.count_tokens(json_text(function.get("arguments") or {}, "tool_calls.function.arguments"))
    return tokens


def parse_messages(sim: Simulator, raw: Any) -> tuple[tuple[Message, ...], int]:
    """Neutral messages and their prompt tokens (template framing included)."""
    if not isinstance(raw, list):
        raise unmarshal_error(raw, "ChatRequest.messages", "[]api.Message")
    messages: list[Message] = []
    tokens = 0
    for item in raw:
        if not isinstance(item, dict):
            raise unmarshal_error(item, "ChatRequest.messages", "api.Message")
        role = get_string(item, "role", "Message")
        if not role:
            raise invalid("messages: each message needs a role", param="messages")
        content = get_string(item, "content", "Message") or ""
        get_string(item, "thinking", "Message")
        tool_name = get_string(item, "tool_name", "Message")
        tokens += TOKENS_PER_MESSAGE + sim.count_tokens(role) + sim.count_tokens(content)
        tokens += _images(item, "Message") + _tool_calls(sim, item)
        messages.append(Message(role, content, tool_name))
    return tuple(messages), tokens


def _request(
    sim: Simulator,
    request: HttpRequest,
    body: JsonObject,
    spec: ModelSpec,
    messages: tuple[Message, ...],
    prompt_tokens: int,
    endpoint: Endpoint,
) -> GenerationRequest:
    """The neutral request: options, format, thinking and tools applied to the prompt."""
    name = body["model"]
    struct = "ChatRequest" if endpoint is Endpoint.CHAT else "GenerateRequest"
    options = parse_options(body, struct)
    output = parse_format(body)
    budget = parse_think(body, name, spec)
    # /api/generate has no tools: the model may not call any.
    tools, choice = parse_tools(body, name, spec) if endpoint is Endpoint.CHAT else ((), NO_TOOLS)
    for tool in tools:
        prompt_tokens += TOKENS_PER_MESSAGE + sim.count_tokens(tool.name) + sim.count_tokens(tool.description)
        prompt_tokens += sim.count_tokens(json_text(tool.parameters, "tools"))
    evaluated, limit = context_limits(spec, options, prompt_tokens)
    return GenerationRequest(
        model=name,
        endpoint=endpoint,
        messages=messages,
        prompt_tokens=evaluated,
        max_tokens=limit,
        stop=options.stop,
        seed=options.seed if options.seed is not None else header_seed(request.headers),
        tools=tools,
        tool_choice=choice,
        follows_tool_result=bool(messages) and messages[-1].role == "tool",
        output=output,
        reasoning_budget=budget,
    )


def _loaded_only(sim: Simulator, loaded: LoadedModels, spec: ModelSpec, body: JsonObject, kind: str) -> Response:
    """The answer to a request that only loads (or, with ``keep_alive: 0``, unloads) the model."""
    seconds = keep_alive(body)
    loaded.touch(spec, seconds, sim.clock.wall())
    answer: dict[str, Any] = {"model": body["model"], "created_at": timestamp(sim.clock.wall())}
    answer.update({"message": {"role": "assistant", "content": ""}} if kind == CHAT else {"response": ""})
    answer.update({"done": True, "done_reason": "load" if seconds > 0 else "unload"})
    return JsonResponse(200, orjson.dumps(answer), list(JSON_HEADERS))


def _generation(sim: Simulator, body: JsonObject, struct: str, verb: str) -> tuple[ModelSpec, bool]:
    """The model (which must generate, not embed) and ``stream`` (default true) of a chat or generate body."""
    spec = require_model(sim, get_string(body, "model", struct))
    if spec.is_embedding:
        raise invalid(f'"{body["model"]}" does not support {verb}', param="model")
    return spec, get_flag(body, "stream", struct, True)


async def handle_chat(sim: Simulator, loaded: LoadedModels, request: HttpRequest) -> Response:
    """Serve ``POST /api/chat``."""
    arrived = sim.clock.now()
    body = parse_body(request.body)
    spec, stream = _generation(sim, body, "ChatRequest", "chat")
    raw = body.get("messages")
    if raw is None or raw == []:
        return _loaded_only(sim, loaded, spec, body, CHAT)
    messages, tokens = parse_messages(sim, raw)
    gen = _request(sim, request, body, spec, messages, tokens, Endpoint.CHAT)
    answer = OllamaAnswer(sim, request, CHAT, spec, arrived, loaded, keep_alive(body))
    return await serve_generation(sim, request, gen, spec, answer, stream=stream, heavy=is_heavy(request))


async def handle_generate(sim: Simulator, loaded: LoadedModels, request: HttpRequest) -> Response:
    """Serve ``POST /api/generate`` (a prompt, an optional system prompt and suffix)."""
    arrived = sim.clock.now()
    body = parse_body(request.body)
    spec, stream = _generation(sim, body, "GenerateRequest", "generate")
    prompt = get_string(body, "prompt", "GenerateRequest")
    if not prompt:
        return _loaded_only(sim, loaded, spec, body, GENERATE)
    system = get_string(body, "system", "GenerateRequest")
    suffix = get_string(body, "suffix", "GenerateRequest")
    get_string(body, "template", "GenerateRequest")
    get_flag(body, "raw", "GenerateRequest", False)
    context = body.get("context")
    if context is not None and (not isinstance(context, list) or not all(isinstance(t, int) for t in context)):
        raise unmarshal_error(context, "GenerateRequest.context", "[]int")
    messages = ((Message("system", system),) if system else ()) + (Message("user", prompt),)
    tokens = sum(TOKENS_PER_MESSAGE + sim.count_tokens(m.text) for m in messages) + len(context or ())
    tokens += sim.count_tokens(suffix or "") + _images(body, "GenerateRequest")
    gen = _request(sim, request, body, spec, messages, tokens, Endpoint.COMPLETION)
    answer = OllamaAnswer(sim, request, GENERATE, spec, arrived, loaded, keep_alive(body))
    return await serve_generation(sim, request, gen, spec, answer, stream=stream, heavy=is_heavy(request))
