"""``POST /v1/messages`` and ``/v1/messages/count_tokens``: parse, plan, render JSON or SSE.

The stream is the API's named-event sequence: ``message_start`` (empty content) →
``content_block_start`` → ``ping`` → ``content_block_delta`` × N → ``content_block_stop`` →
``message_delta`` (stop reason, cumulative ``output_tokens``) → ``message_stop``. The SDK's
accumulator relies on that order and on block indexes 0..n-1.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from llm_simulator.core.errors import ErrorKind, SimulatorError, invalid
from llm_simulator.core.frozen import fast_init
from llm_simulator.core.http import HttpRequest, JsonResponse, Response, StreamResponse
from llm_simulator.core.plain import PlainTokens
from llm_simulator.core.sse import sse_frame
from llm_simulator.core.types import (
    ChoicePlan,
    Endpoint,
    FinishReason,
    GenerationPlan,
    GenerationRequest,
    SegmentKind,
    TokenEvent,
    ToolChoiceMode,
)
from llm_simulator.engine.catalogue import ModelSpec
from llm_simulator.engine.cpu import off_loop
from llm_simulator.engine.simulator import Simulator
from llm_simulator.engine.timing import Timeline
from llm_simulator.providers.anthropic.blocks import Block, blocks_of, content_block, opening_block, signature
from llm_simulator.providers.anthropic.caching import (
    NO_PREFIX,
    NO_REPORT,
    CachePrefix,
    CacheReport,
    cache_prefix,
    engine_cacheable,
    minimum_cacheable,
)
from llm_simulator.providers.anthropic.common import (
    json_headers,
    new_message_id,
    require_model,
    response_model,
    stream_headers,
)
from llm_simulator.providers.anthropic.errors import stream_error_frame
from llm_simulator.providers.anthropic.prompt import ends_with_tool_result, parse_messages
from llm_simulator.providers.anthropic.ratelimits import limit_headers
from llm_simulator.providers.anthropic.structured import (
    check_compatible,
    check_limits,
    check_model,
    parse_output_config,
)
from llm_simulator.providers.anthropic.tools import parse_tools, thinking_budget
from llm_simulator.providers.caching import prefix_cache_block
from llm_simulator.providers.heavy import body_window, is_heavy
from llm_simulator.providers.pipeline import fixed_id, serve_generation
from llm_simulator.providers.seeding import header_seed
from llm_simulator.providers.validation import (
    JsonObject,
    get_bool,
    get_int,
    get_list,
    get_number,
    get_object,
    get_str,
    missing,
    parse_object,
    type_error,
)

STOP_REASON = {
    FinishReason.STOP: "end_turn",
    FinishReason.STOP_SEQUENCE: "stop_sequence",
    FinishReason.LENGTH: "max_tokens",
    FinishReason.TOOL_CALLS: "tool_use",
    FinishReason.REFUSAL: "refusal",
}
# message_start reports the output tokens produced so far; the API shows a small number
# (the first token is already being decoded), and the SDK only needs an integer.
START_OUTPUT_TOKENS = 1


@fast_init  # built once per request: slots set directly, not through frozen __setattr__
@dataclass(frozen=True, slots=True)
class MessagesRequest:
    """A parsed Messages request: the neutral request plus what the response echoes."""

    request: GenerationRequest
    spec: ModelSpec
    model: str  # as the response reports it
    stream: bool
    cache: CachePrefix = NO_PREFIX  # where its cache_control breakpoints end the cacheable prefix


def _stop_sequences(body: JsonObject) -> tuple[str, ...]:
    raw = get_list(body, "stop_sequences")
    if raw is None:
        return ()
    for i, item in enumerate(raw):
        if not isinstance(item, str):
            raise type_error(f"stop_sequences.{i}", "a string", item)
        if not item.strip():
            raise invalid(
                f"stop_sequences.{i}: each stop sequence must contain non-whitespace", param=f"stop_sequences.{i}"
            )
    return tuple(raw)


# Betas (``anthropic-beta``) that raise a model's limits: the models each applies to (as
# announced: the 1M window for Sonnet 4 and 4.5, then for Opus and Sonnet 4.6) and the spec
# it gives them. Elsewhere a beta changes nothing.
LIMIT_BETAS: dict[str, tuple[frozenset[str], Callable[[ModelSpec], ModelSpec]]] = {
    "context-1m-2025-08-07": (
        frozenset({"claude-sonnet-4-20250514", "claude-sonnet-4-5-20250929", "claude-opus-4-6", "claude-sonnet-4-6"}),
        lambda spec: dataclasses.replace(spec, context_window=1_000_000),
    ),
    "output-128k-2025-02-19": (
        frozenset({"claude-3-7-sonnet-20250219"}),
        lambda spec: dataclasses.replace(spec, max_output_tokens=128_000),
    ),
}


def beta_limits(spec: ModelSpec, headers: Mapping[str, str]) -> ModelSpec:
    """``spec`` with the limits the request's ``anthropic-beta`` raises for it (itself when none does)."""
    for beta in (headers.get("anthropic-beta") or "").split(","):
        raised = LIMIT_BETAS.get(beta.strip())
        if raised is not None and spec.id in raised[0]:
            spec = raised[1](spec)
    return spec


def _check_limits(model: str, spec: ModelSpec, prompt_tokens: int, max_tokens: int) -> None:
    if max_tokens > spec.max_output_tokens:
        raise invalid(
            f"max_tokens: {max_tokens} > {spec.max_output_tokens}, which is the maximum allowed number of "
            f"output tokens for {model}",
            param="max_tokens",
        )
    if prompt_tokens > spec.context_window:
        raise SimulatorError(
            ErrorKind.CONTEXT_LENGTH,
            f"prompt is too long: {prompt_tokens} tokens > {spec.context_window} maximum",
            param="messages",
        )
    if prompt_tokens + max_tokens > spec.context_window:
        raise SimulatorError(
            ErrorKind.CONTEXT_LENGTH,
            f"input length and `max_tokens` exceed context limit: {prompt_tokens} + {max_tokens} > "
            f"{spec.context_window}, decrease input length or `max_tokens` and try again",
            param="max_tokens",
        )


def parse_request(sim: Simulator, request: HttpRequest, body: JsonObject) -> MessagesRequest:
    """Validate a Messages body (the API's rules and wording) into a neutral request."""
    model_id, spec = require_model(sim, body)
    max_tokens = get_int(body, "max_tokens", minimum=1)
    if max_tokens is None:  # absent or null: required either way
        raise missing("max_tokens")
    messages, prompt_tokens = parse_messages(sim, body)
    get_number(body, "temperature", minimum=0, maximum=1)
    get_number(body, "top_p", minimum=0, maximum=1)
    get_int(body, "top_k", minimum=0)
    metadata = get_object(body, "metadata")
    if metadata is not None:
        get_str(metadata, "user_id", "metadata.user_id")
        for key in metadata:
            if key != "user_id":  # the only field the API's metadata has
                raise invalid(f"metadata.{key}: Extra inputs are not permitted", param=f"metadata.{key}")
    stream = get_bool(body, "stream")
    model = response_model(model_id, spec)
    tool_use = parse_tools(sim, body)
    prompt_tokens += tool_use.prompt_tokens
    structured = parse_output_config(body, model_id)
    if structured.enabled or tool_use.strict_schemas:
        check_model(spec.id, structured.param or "tools")
        check_compatible(body, structured)
        schemas = tool_use.strict_schemas + ((structured.output.schema,) if structured.output.schema else ())
        check_limits(schemas, len(tool_use.strict_schemas))
    budget = thinking_budget(body, max_tokens, "reasoning" in spec.capabilities)
    if budget and tool_use.choice.mode in (ToolChoiceMode.REQUIRED, ToolChoiceMode.NAMED):
        raise invalid("Thinking may not be enabled when tool_choice forces tool use.", param="tool_choice")
    _check_limits(model, beta_limits(spec, request.headers), prompt_tokens, max_tokens)
    cache = cache_prefix(sim, body, tool_use.prompt_tokens)
    gen = GenerationRequest(
        model=model,
        endpoint=Endpoint.CHAT,
        messages=messages,
        prompt_tokens=prompt_tokens,
        max_tokens=max_tokens,
        stop=_stop_sequences(body),
        seed=header_seed(request.headers),
        tools=tool_use.tools,
        tool_choice=tool_use.choice,
        parallel_tool_calls=tool_use.parallel,
        follows_tool_result=ends_with_tool_result(body),
        output=structured.output,
        reasoning_budget=budget,
        cacheable_prompt_tokens=engine_cacheable(CacheReport(cache, minimum=minimum_cacheable(spec.id))),
    )
    return MessagesRequest(gen, spec, model, stream, cache)


def usage_object(prompt_tokens: int, output_tokens: int, cache: tuple[int, int, int] = (0, 0, 0)) -> dict[str, Any]:
    """The Message ``usage`` with the prompt-cache fields the API includes.

    ``cache`` is (read, created with a 5-minute ttl, with a 1-hour ttl); ``input_tokens``
    is what the prompt holds beyond them (after the last breakpoint, or all of it).
    """
    read, five_minutes, one_hour = cache
    return {
        "input_tokens": prompt_tokens - read - five_minutes - one_hour,
        "cache_creation_input_tokens": five_minutes + one_hour,
        "cache_read_input_tokens": read,
        "cache_creation": {"ephemeral_5m_input_tokens": five_minutes, "ephemeral_1h_input_tokens": one_hour},
        "output_tokens": output_tokens,
        "service_tier": "standard",
    }


def message_object(
    plan: GenerationPlan, message_id: str, *, final: bool, cache: CacheReport = NO_REPORT
) -> dict[str, Any]:
    """The Message: complete when ``final``, else as ``message_start`` carries it (no content)."""
    choice = plan.choices[0]
    request = plan.request
    counts = cache.counts(plan)
    if not final:
        return {
            "id": message_id,
            "type": "message",
            "role": "assistant",
            "model": request.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage_object(request.prompt_tokens, START_OUTPUT_TOKENS, counts),
        }
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": request.model,
        "content": [content_block(choice, block) for block in blocks_of(choice)],
        "stop_reason": STOP_REASON[choice.finish_reason],
        "stop_sequence": choice.stop_sequence,
        "usage": usage_object(request.prompt_tokens, plan.completion_tokens, counts),
    }


def _event(name: str, payload: bytes) -> bytes:
    return sse_frame(payload, name.encode())


PING = _event("ping", b'{"type":"ping"}')
TEXT_DELTA_HEAD = (
    b'event: content_block_delta\ndata: {"type":"content_block_delta","index":%d,"delta":{"type":"text_delta","text":'
)
TEXT_DELTA_TAIL = b"}}\n\n"
TEXT_DELTA_0 = TEXT_DELTA_HEAD % 0
MESSAGE_STOP = _event("message_stop", b'{"type":"message_stop"}')


class EventWriter:
    """Renders the Messages stream events of one plan, block by block."""

    def __init__(self, plan: GenerationPlan, message_id: str, cache: CacheReport = NO_REPORT) -> None:
        self._plan = plan
        self._message_id = message_id
        self._cache = cache

    def message_start(self) -> bytes:
        """``message_start`` with the message envelope, empty content, and the prompt's cache usage."""
        message = message_object(self._plan, self._message_id, final=False, cache=self._cache)
        return _event("message_start", orjson.dumps({"type": "message_start", "message": message}))

    @staticmethod
    def block_start(index: int, block: Block) -> bytes:
        """``content_block_start`` of an empty block of ``block``'s kind."""
        payload = {"type": "content_block_start", "index": index, "content_block": opening_block(block)}
        return _event("content_block_start", orjson.dumps(payload))

    @staticmethod
    def text_delta(index: int, text: str) -> bytes:
        """One ``text_delta`` (the hot path: one string encoding and three concatenations)."""
        return TEXT_DELTA_HEAD % index + orjson.dumps(text) + TEXT_DELTA_TAIL

    @staticmethod
    def delta(index: int, kind: SegmentKind, fragment: str) -> bytes:
        """A ``thinking_delta``, ``input_json_delta`` or ``text_delta`` for ``kind``."""
        if kind is SegmentKind.TEXT:
            return EventWriter.text_delta(index, fragment)
        if kind is SegmentKind.REASONING:
            delta: dict[str, str] = {"type": "thinking_delta", "thinking": fragment}
        else:
            delta = {"type": "input_json_delta", "partial_json": fragment}
        return _event(
            "content_block_delta", orjson.dumps({"type": "content_block_delta", "index": index, "delta": delta})
        )

    def block_stop(self, index: int, block: Block) -> bytes:
        """``content_block_stop`` (a thinking block's ``signature_delta`` first)."""
        frame = b""
        if block.kind is SegmentKind.REASONING:
            thinking = "".join(self._plan.choices[0].tokens[block.start : block.stop])
            delta = {"type": "signature_delta", "signature": signature(thinking)}
            payload = {"type": "content_block_delta", "index": index, "delta": delta}
            frame = _event("content_block_delta", orjson.dumps(payload))
        return frame + _event("content_block_stop", b'{"type":"content_block_stop","index":%d}' % index)

    def message_delta(self) -> bytes:
        """``message_delta``: stop reason and the final, cumulative usage."""
        plan = self._plan
        choice = plan.choices[0]
        usage = usage_object(plan.request.prompt_tokens, plan.completion_tokens, self._cache.counts(plan))
        del usage["cache_creation"], usage["service_tier"]
        payload = {
            "type": "message_delta",
            "delta": {"stop_reason": STOP_REASON[choice.finish_reason], "stop_sequence": choice.stop_sequence},
            "usage": usage,
        }
        return _event("message_delta", orjson.dumps(payload))


async def stream_events(
    sim: Simulator, plan: GenerationPlan, timeline: Timeline, writer: EventWriter
) -> AsyncIterator[bytes]:
    """The event stream; the opening events go out with the first token, when it is due.

    Blocks open at their first token and close when the next one opens (or at the end), so
    indexes run 0..n-1 in order, as the SDK's accumulator requires.
    """
    blocks = blocks_of(plan.choices[0])
    starts = {block.start: number for number, block in enumerate(blocks)}
    current = -1  # the open block's number
    # message_start goes out with the first token: by then the timeline has opened (after
    # any scripted delay), so the prompt's cache hit is known.
    started = False
    async for event in sim.stream(plan, timeline):
        if not isinstance(event, TokenEvent):
            continue
        frame = b"" if started else writer.message_start()
        started = True
        opening = starts.get(event.position)
        if opening is not None and opening != current:
            if current >= 0:
                frame += writer.block_stop(current, blocks[current])
            frame += writer.block_start(opening, blocks[opening])
            if current < 0:
                frame += PING  # the API pings once, after the first block opens
            current = opening
        frame += writer.delta(current, blocks[current].kind, event.text)
        yield frame
    tail = b"" if started else writer.message_start()
    if current < 0:  # nothing was generated: an empty text block, as the API sends
        current = 0
        tail += writer.block_start(0, blocks[0]) + PING
    yield tail + writer.block_stop(current, blocks[current]) + writer.message_delta() + MESSAGE_STOP


class MessageTokens:
    """A plain text message's events for the server's fast path (``core.plain``).

    Byte for byte what ``stream_events`` yields for a plan of one plain text block.
    """

    __slots__ = ("_block", "_writer")

    def __init__(self, writer: EventWriter, choice: ChoicePlan) -> None:
        self._writer = writer
        self._block = blocks_of(choice)[0]

    def first(self, text: str, last: bool) -> list[bytes]:
        """``message_start``, the block's start, the ping and the first ``text_delta`` (then the end if last)."""
        writer = self._writer
        frame = writer.message_start() + writer.block_start(0, self._block) + PING + TEXT_DELTA_0 + orjson.dumps(text)
        frames = [frame + TEXT_DELTA_TAIL]
        return [*frames, self._end()] if last else frames

    def token(self, text: str) -> bytes:
        """One ``text_delta`` of block 0."""
        return TEXT_DELTA_0 + orjson.dumps(text) + TEXT_DELTA_TAIL

    def last(self, text: str) -> list[bytes]:
        """The last ``text_delta``, then the block's stop, ``message_delta`` and ``message_stop``."""
        return [TEXT_DELTA_0 + orjson.dumps(text) + TEXT_DELTA_TAIL, self._end()]

    def _end(self) -> bytes:
        writer = self._writer
        return writer.block_stop(0, self._block) + writer.message_delta() + MESSAGE_STOP


# A content delta whose JSON is cut short, under its event name so the SDK parses (and fails on) it.
MALFORMED_EVENT = b"event: content_block_delta\ndata: " + (
    b'{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"tr\n\n'
)


async def handle(sim: Simulator, request: HttpRequest) -> Response:
    """Serve ``POST /v1/messages``."""
    return await serve(sim, request, parse_object(request.body))


async def serve(
    sim: Simulator, request: HttpRequest, body: JsonObject, answer_type: type[MessageAnswer] | None = None
) -> Response:
    """Answer the Messages ``body`` (as parsed from ``request``, or as a Vertex AI path completes it).

    ``answer_type`` replaces ``MessageAnswer`` where only the rate-limit headers differ (Vertex AI).
    """
    heavy = is_heavy(request)
    parsed = await off_loop(heavy, body_window(sim, body, "anthropic", heavy), parse_request, sim, request, body)
    answer = (answer_type or MessageAnswer)(sim, request, parsed)
    return await serve_generation(sim, request, parsed.request, parsed.spec, answer, stream=parsed.stream, heavy=heavy)


class MessageAnswer:
    """How a message is answered: as the event stream, or as one ``message`` object."""

    __slots__ = ("_cache", "_id", "_parsed", "_request", "_sim")

    provider = "anthropic"
    limit_headers = staticmethod(limit_headers)

    def __init__(self, sim: Simulator, request: HttpRequest, parsed: MessagesRequest) -> None:
        self._sim = sim
        self._request = request
        self._parsed = parsed
        self._id = ""
        self._cache: CacheReport | None = None

    @staticmethod
    def seed_identity(gen: GenerationRequest) -> tuple[object, ...]:
        """Model, messages and ``max_tokens``."""
        return gen.model, gen.messages, gen.max_tokens

    def begin(self, plan: GenerationPlan) -> None:
        """The message id and the prompt-cache report."""
        self._id = fixed_id(plan) or new_message_id()
        spec = self._parsed.spec
        self._cache = CacheReport(self._parsed.cache, prefix_cache_block(self._sim, spec), minimum_cacheable(spec.id))

    def stream(self, plan: GenerationPlan, timeline: Timeline) -> StreamResponse:
        """``message_start`` … ``message_stop``."""
        assert self._cache is not None
        writer = EventWriter(plan, self._id, self._cache)
        frames = stream_events(self._sim, plan, timeline, writer)
        pacer = self._sim.pacer(plan, timeline)
        plain = None if pacer is None else PlainTokens(pacer, MessageTokens(writer, plan.choices[0]), frames)
        return StreamResponse(
            frames, stream_headers(self._request), stream_error_frame, malformed=MALFORMED_EVENT, plain=plain
        )

    def render(self, plan: GenerationPlan) -> JsonResponse:
        """The final ``message`` object."""
        assert self._cache is not None
        body = message_object(plan, self._id, final=True, cache=self._cache)
        return JsonResponse(200, orjson.dumps(body), json_headers(self._request))


def _count_input(sim: Simulator, body: JsonObject) -> int:
    """The ``input_tokens`` of a Messages body (messages, system prompt and tools)."""
    _, tokens = parse_messages(sim, body)
    return tokens + parse_tools(sim, body).prompt_tokens


async def count_tokens(sim: Simulator, request: HttpRequest) -> Response:
    """Serve ``POST /v1/messages/count_tokens``: the ``input_tokens`` a message would use."""
    return await count_body(sim, request, parse_object(request.body))


# Fields of a Messages body that a count body must not carry: the API refuses them as extra
# inputs (a proxy that counts by resending its Messages body hits this). Fields the SDKs'
# count parameters have, beta ones included, and anything newer pass.
NOT_COUNTED_FIELDS = (
    "max_tokens",
    "stream",
    "stop_sequences",
    "temperature",
    "top_p",
    "top_k",
    "metadata",
    "service_tier",
    "container",
)


async def count_body(sim: Simulator, request: HttpRequest, body: JsonObject) -> Response:
    """The ``input_tokens`` of the Messages ``body`` (from ``request``, or completed by a Vertex AI path)."""
    for field in NOT_COUNTED_FIELDS:
        if field in body:
            raise invalid(f"{field}: Extra inputs are not permitted", param=field)
    _, spec = require_model(sim, body)
    # The thinking configuration is checked as Messages checks it (its shape, the budget's
    # minimum, the model's support); this body has no max_tokens to bound the budget.
    thinking_budget(body, sys.maxsize, "reasoning" in spec.capabilities)
    # Exact counts (no ceiling): this endpoint reports the number, whatever the window.
    tokens = await off_loop(is_heavy(request), None, _count_input, sim, body)
    return JsonResponse(200, orjson.dumps({"input_tokens": tokens}), json_headers(request))
