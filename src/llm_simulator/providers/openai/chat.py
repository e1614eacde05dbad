"""``POST /v1/chat/completions``: parse, plan, and render (JSON or SSE)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable
from typing import Any

import orjson

from llm_simulator.core.errors import invalid
from llm_simulator.core.http import HttpRequest, JsonResponse, Response, StreamResponse
from llm_simulator.core.plain import PlainTokens
from llm_simulator.core.types import (
    ChoicePlan,
    Endpoint,
    FinishEvent,
    FinishReason,
    GenerationPlan,
    GenerationRequest,
    SegmentKind,
    ToolCall,
)
from llm_simulator.engine.cpu import off_loop
from llm_simulator.engine.simulator import Simulator
from llm_simulator.engine.timing import Timeline
from llm_simulator.providers.heavy import body_window, is_heavy
from llm_simulator.providers.openai.chat_body import plain_body, plain_choice
from llm_simulator.providers.openai.chat_chunks import (
    CALL_ID_PREFIX,
    CONTENT_FILTER_RESULTS,
    DONE,
    FINISH,
    ChatTokens,
    ChunkWriter,
    logprob_entry,
    plan_usage,
    prompt_filter_results,
)
from llm_simulator.providers.openai.chat_messages import parse_messages
from llm_simulator.providers.openai.chat_plain import (
    CHAT_ENDPOINT,
    MAX_CHOICES,
    TOOL_RESULT_ROLES,
    Parsed,
    plain_request,
)
from llm_simulator.providers.openai.common import (
    MALFORMED_CHUNK,
    check_limits,
    new_id,
    parse_stream_options,
    require_generation_model,
    require_model,
    response_headers,
    service_tier,
    stream_headers,
)
from llm_simulator.providers.openai.errors import stream_error_frame
from llm_simulator.providers.openai.ratelimits import limit_headers
from llm_simulator.providers.openai.tools import (
    check_reasoning_model_params,
    parse_response_format,
    parse_tool_choice,
    parse_tools,
    reasoning_budget,
    tools_prompt_tokens,
)
from llm_simulator.providers.pipeline import fixed_id, serve_generation
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
)


def tool_call_object(call: ToolCall) -> dict[str, Any]:
    """One entry of ``message.tool_calls``."""
    return {
        "id": CALL_ID_PREFIX + call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": call.arguments},
    }


# Parameters that change nothing in the answer and are only checked (type and range). A
# request seldom sends any: one set test over the body's keys skips their seven checks.
CHECKED_ONLY = frozenset(
    {"temperature", "top_p", "presence_penalty", "frequency_penalty", "user", "metadata", "service_tier"}
)


def check_settings(body: JsonObject) -> None:
    """The checked-only parameters' types and ranges, in the order the API reports them."""
    get_number(body, "temperature", minimum=0, maximum=2)
    get_number(body, "top_p", minimum=0, maximum=1)
    get_number(body, "presence_penalty", minimum=-2, maximum=2)
    get_number(body, "frequency_penalty", minimum=-2, maximum=2)
    get_str(body, "user")
    get_object(body, "metadata")
    service_tier(body)


def parse_checked(sim: Simulator, body: JsonObject) -> Parsed:
    """The neutral request (its ``model`` the id as sent), the model, ``stream``, ``include_usage``.

    Every parameter by its own check, in the order the API reports them; ``serve`` reads a
    plain body in one pass instead (``chat_plain.plain_request``), to the same result.
    """
    model_id, spec = require_model(sim, body)
    raw_messages = get_list(body, "messages", required=True)
    assert raw_messages is not None
    messages, prompt_tokens = parse_messages(sim, raw_messages)
    require_generation_model(model_id, spec, CHAT_ENDPOINT)
    max_completion = get_int(body, "max_completion_tokens", minimum=1)
    max_tokens = get_int(body, "max_tokens", minimum=1)
    limit_param = "max_completion_tokens" if max_completion is not None else "max_tokens"
    limit = max_completion if max_completion is not None else max_tokens
    n = get_int(body, "n", minimum=1, maximum=MAX_CHOICES) or 1
    logprobs = get_bool(body, "logprobs")
    top_logprobs = get_int(body, "top_logprobs", minimum=0, maximum=20) or 0
    if top_logprobs and not logprobs:
        raise invalid(
            "Invalid 'top_logprobs': 'logprobs' must be set to true when 'top_logprobs' is used.", param="top_logprobs"
        )
    if not CHECKED_ONLY.isdisjoint(body):
        check_settings(body)
    seed = get_int(body, "seed")
    stream = get_bool(body, "stream")
    include_usage = parse_stream_options(body, stream)
    check_reasoning_model_params(body, model_id, spec)
    tools = parse_tools(body)
    tool_choice = parse_tool_choice(body, tools)
    prompt_tokens += tools_prompt_tokens(sim.count_tokens, tools)
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
        tools=tools,
        tool_choice=tool_choice,
        parallel_tool_calls=get_bool(body, "parallel_tool_calls", default=True),
        follows_tool_result=messages[-1].role in TOOL_RESULT_ROLES,
        output=parse_response_format(body, messages),
        reasoning_budget=reasoning_budget(body, model_id, spec),
    )
    return request, spec, stream, include_usage


def _choice_body(choice: ChoicePlan) -> dict[str, Any]:
    logprobs = None
    if choice.logprobs is not None:
        logprobs = {"content": [logprob_entry(lp) for lp in choice.logprobs], "refusal": None}
    calls = choice.tool_calls
    message: dict[str, Any] = {
        "role": "assistant",
        # Text before tool calls (a scripted reply may have both) is kept; otherwise null.
        "content": (choice.text or None) if calls else choice.text,
        "refusal": None,
        "annotations": [],
    }
    if calls:
        message["tool_calls"] = [tool_call_object(call) for call in calls]
    if choice.finish_reason is FinishReason.REFUSAL:
        message["content"], message["refusal"] = None, choice.text
    return {
        "index": choice.index,
        "message": message,
        "logprobs": logprobs,
        "finish_reason": FINISH[choice.finish_reason],
    }


def render_completion(
    plan: GenerationPlan, completion_id: str, created: int, *, azure: bool = False, tier: str = "default"
) -> bytes:
    """The non-streamed ``chat.completion`` object (with Azure's content-filter results if ``azure``)."""
    plain = None if azure else plain_choice(plan)
    if plain is not None:  # the common body, formatted directly (providers/openai/chat_body.py)
        return plain_body(plan, plain, completion_id, created, FINISH[plain.finish_reason], tier)
    return orjson.dumps(completion_object(plan, completion_id, created, azure=azure, tier=tier))


def completion_object(
    plan: GenerationPlan, completion_id: str, created: int, *, azure: bool = False, tier: str = "default"
) -> dict[str, Any]:
    """The ``chat.completion`` object as dictionaries: every body ``render_completion`` does not format directly."""
    request = plan.request
    completion: dict[str, Any] = {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": request.model,
        "choices": [_choice_body(c) for c in plan.choices],
        "usage": plan_usage(plan),
        "service_tier": tier,
        "system_fingerprint": plan.system_fingerprint,
    }
    if azure:
        completion["prompt_filter_results"] = prompt_filter_results()
        for choice in completion["choices"]:
            choice["content_filter_results"] = CONTENT_FILTER_RESULTS
    return completion


async def stream_frames(
    sim: Simulator, plan: GenerationPlan, timeline: Timeline, writer: ChunkWriter, include_usage: bool
) -> AsyncIterator[bytes]:
    """SSE frames of a chat completion stream, each yielded when its token is due.

    Reasoning tokens take their time but are never sent; a choice's first chunk (its role)
    goes out with its first visible token, so a reasoning model's time to first token
    includes its thinking.
    """
    started: set[int] = set()
    logprobs = [c.logprobs for c in plan.choices]
    layouts = [_Layout(c) if c.segments else None for c in plan.choices]
    if writer.azure:
        yield writer.prompt_filter()
    async for event in sim.stream(plan, timeline, hide_reasoning=True):
        index = event.choice
        if isinstance(event, FinishEvent):
            if index not in started:
                started.add(index)
                yield writer.role(index)
            yield writer.finish(index, event.reason)
            continue
        layout = layouts[index]
        if layout is None:  # plain text: the hot path
            if index not in started:
                started.add(index)
                yield writer.role(index)
            lps = logprobs[index]
            yield writer.token(index, event.text, lps[event.position] if lps is not None else None)
            continue
        kind = layout.kinds[event.position]
        if kind is SegmentKind.REASONING:
            continue
        frame = b""
        if index not in started:
            started.add(index)
            frame = writer.role(index, content=kind is SegmentKind.TEXT and not layout.refusal)
        if layout.refusal:
            frame += writer.refusal(index, event.text)
        elif kind is SegmentKind.TEXT:
            lps = logprobs[index]
            lp = lps[event.position - layout.text_start] if lps is not None else None
            frame += writer.token(index, event.text, lp)
        else:
            opening = layout.calls.get(event.position)
            if opening is not None:
                frame += writer.tool_call_start(index, opening[0], opening[1])
            frame += writer.tool_arguments(index, layout.call_of[event.position], event.text)
        yield frame
    if include_usage:
        yield writer.usage()
    yield DONE


class _Layout:
    """Where a choice's reasoning, text and tool calls sit among its token positions."""

    def __init__(self, choice: ChoicePlan) -> None:
        self.kinds = choice.segment_kinds()
        self.refusal = choice.finish_reason is FinishReason.REFUSAL
        self.text_start = next((s.start for s in choice.segments if s.kind is SegmentKind.TEXT), 0)
        self.calls: dict[int, tuple[int, ToolCall]] = {}
        self.call_of: dict[int, int] = {}
        number = 0
        for segment in choice.segments:
            if segment.tool_call is None:
                continue
            self.calls[segment.start] = (number, segment.tool_call)
            for position in range(segment.start, segment.stop):
                self.call_of[position] = number
            number += 1


def handle(sim: Simulator, request: HttpRequest) -> Awaitable[Response]:
    """Serve one chat completion request (``serve``'s awaitable: no coroutine of its own)."""
    return serve(sim, request, parse_object(request.body))


def serve(sim: Simulator, request: HttpRequest, body: JsonObject, *, azure: bool = False) -> Awaitable[Response]:
    """Serve a chat request whose body is already parsed; ``azure`` adds Azure's filter results.

    A small plain body is read inline and outright (no schema to budget, no window to count
    against) and its answer is the pipeline's coroutine itself: every coroutine between the
    server and the pipeline costs its creation and a frame on each step. Any other body goes
    through ``off_loop`` (the pool for a heavy one) in ``_serve_checked``. An error in a plain
    body is raised here, before anything is awaited (the server catches it alike).
    """
    started = time.monotonic()
    heavy = is_heavy(request)
    parsed = None if heavy else plain_request(sim, body)
    if parsed is None:
        return _serve_checked(sim, request, body, started, heavy, azure)
    return _serve_parsed(sim, request, parsed, started, heavy, azure, "default")


async def _serve_checked(
    sim: Simulator, request: HttpRequest, body: JsonObject, started: float, heavy: bool, azure: bool
) -> Response:
    """``serve`` for a body every parameter's own check reads (``parse_checked``)."""
    parsed = await off_loop(heavy, body_window(sim, body, "openai", heavy), parse_checked, sim, body)
    # The tier the answer reports: the one served (checked with the settings in ``parse_checked``).
    tier = service_tier(body) if "service_tier" in body else "default"
    return await _serve_parsed(sim, request, parsed, started, heavy, azure, tier)


def _serve_parsed(
    sim: Simulator, request: HttpRequest, parsed: Parsed, started: float, heavy: bool, azure: bool, tier: str
) -> Awaitable[Response]:
    """The pipeline's answer to a parsed request, reporting ``tier`` as its ``service_tier``."""
    gen, spec, stream, include_usage = parsed
    answer = ChatAnswer(sim, request, started, gen.model, include_usage, azure, tier)
    return serve_generation(sim, request, gen, spec, answer, stream=stream, heavy=heavy)


class ChatAnswer:
    """How a chat completion is answered: as chunks, or as one ``chat.completion`` body."""

    __slots__ = ("_azure", "_created", "_id", "_include_usage", "_model_id", "_request", "_sim", "_started", "_tier")

    provider = "openai"
    limit_headers = staticmethod(limit_headers)

    def __init__(
        self,
        sim: Simulator,
        request: HttpRequest,
        started: float,
        model_id: str,
        include_usage: bool,
        azure: bool,
        tier: str = "default",
    ) -> None:
        self._sim = sim
        self._request = request
        self._started = started
        self._model_id = model_id
        self._include_usage = include_usage
        self._azure = azure
        self._tier = tier
        self._id = ""
        self._created = 0

    @staticmethod
    def seed_identity(gen: GenerationRequest) -> tuple[object, ...]:
        """Model, messages, ``n`` and ``max_tokens``."""
        return gen.model, gen.messages, gen.n, gen.max_tokens

    def begin(self, plan: GenerationPlan) -> None:
        """The completion's id and creation time."""
        self._id = fixed_id(plan) or new_id("chatcmpl-")
        self._created = int(self._sim.clock.wall())

    def stream(self, plan: GenerationPlan, timeline: Timeline) -> StreamResponse:
        """``chat.completion.chunk`` frames, then ``[DONE]``."""
        writer = ChunkWriter(plan, self._id, self._created, self._include_usage, azure=self._azure, tier=self._tier)
        frames = stream_frames(self._sim, plan, timeline, writer, self._include_usage)
        pacer = self._sim.pacer(plan, timeline)
        plain = None
        if pacer is not None and not self._azure and plan.choices[0].logprobs is None:
            plain = PlainTokens(pacer, ChatTokens(writer, plan.choices[0], self._include_usage), frames)
        return StreamResponse(
            frames,
            stream_headers(self._request, self._model_id),
            stream_error_frame,
            malformed=MALFORMED_CHUNK,
            plain=plain,
        )

    def render(self, plan: GenerationPlan) -> JsonResponse:
        """The ``chat.completion`` body."""
        body = render_completion(plan, self._id, self._created, azure=self._azure, tier=self._tier)
        return JsonResponse(200, body, response_headers(self._request, self._started, self._model_id))
