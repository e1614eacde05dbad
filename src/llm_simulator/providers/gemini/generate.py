"""``:generateContent``, ``:streamGenerateContent`` and ``:countTokens``.

A streamed response is a sequence of complete ``GenerateContentResponse`` objects, each
holding only the new text; the chunk that ends a candidate carries its ``finishReason``,
and the last one the full ``usageMetadata`` (earlier ones repeat the prompt count, as the
API does). With ``alt=sse`` each is one ``data:`` line and nothing else (the SDK rejects
any other SSE field); without it the body is one JSON array streamed element by element.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson

from llm_simulator.core.errors import ErrorKind, SimulatorError, invalid
from llm_simulator.core.http import HttpRequest, JsonResponse, Response, StreamResponse
from llm_simulator.core.plain import PlainTokens
from llm_simulator.core.sse import DATA, END, sse_frame
from llm_simulator.core.types import (
    ChoicePlan,
    Endpoint,
    FinishReason,
    GenerationPlan,
    GenerationRequest,
    SegmentKind,
    TokenEvent,
    ToolCall,
)
from llm_simulator.engine.catalogue import ModelSpec
from llm_simulator.engine.cpu import off_loop
from llm_simulator.engine.simulator import Simulator
from llm_simulator.engine.timing import Timeline
from llm_simulator.providers.admission import no_limit_headers
from llm_simulator.providers.caching import gemini_cached_tokens
from llm_simulator.providers.gemini import fields
from llm_simulator.providers.gemini.blocking import (
    FINISH,
    PROMPT_FEEDBACK,
    blocked_candidate,
    finish_reason,
    malformed,
    prompt_blocked,
)
from llm_simulator.providers.gemini.common import escape_line_breaks, json_headers, new_response_id
from llm_simulator.providers.gemini.contents import ends_with_function_response, parse_contents, parse_system
from llm_simulator.providers.gemini.errors import error_body, sse_error_frame
from llm_simulator.providers.gemini.tools import parse_output, parse_tool_config, parse_tools, thinking_budget
from llm_simulator.providers.heavy import is_heavy
from llm_simulator.providers.pipeline import fixed_id, serve_generation
from llm_simulator.providers.seeding import header_seed
from llm_simulator.providers.validation import JsonObject, parse_object, preview

MAX_CANDIDATES = 8
MAX_STOP_SEQUENCES = 5

REQUEST_FIELDS = (
    "model",
    "continuationToken",
    "contents",
    "systemInstruction",
    "generationConfig",
    "safetySettings",
    "tools",
    "toolConfig",
    "labels",
    "cachedContent",
    "serviceTier",
    "store",
)
CONFIG_FIELDS = (
    "temperature",
    "topP",
    "topK",
    "candidateCount",
    "maxOutputTokens",
    "stopSequences",
    "responseLogprobs",
    "logprobs",
    "presencePenalty",
    "frequencyPenalty",
    "seed",
    "responseMimeType",
    "responseSchema",
    "responseJsonSchema",
    "responseModalities",
    "mediaResolution",
    "speechConfig",
    "thinkingConfig",
    "imageConfig",
    "enableEnhancedCivicAnswers",
    "audioTranscriptionConfig",
    "enableAffectiveDialog",
)
CONFIG = "generation_config"


@dataclass(frozen=True, slots=True)
class GenerateRequest:
    """A parsed generate request: the neutral request and whether thoughts are returned."""

    request: GenerationRequest
    include_thoughts: bool


def _stop_sequences(config: JsonObject) -> tuple[str, ...]:
    raw = fields.get_list(config, "stopSequences", f"{CONFIG}.stop_sequences")
    if raw is None:
        return ()
    if len(raw) > MAX_STOP_SEQUENCES:
        raise invalid(
            f"* GenerateContentRequest.{CONFIG}.stop_sequences: at most {MAX_STOP_SEQUENCES} stop sequences "
            f"are allowed, got {len(raw)}.",
            param=f"{CONFIG}.stop_sequences",
        )
    for i, item in enumerate(raw):
        if not isinstance(item, str):
            raise invalid(
                f"Invalid value at '{CONFIG}.stop_sequences[{i}]' (TYPE_STRING), {preview(item)}",
                param=f"{CONFIG}.stop_sequences",
            )
    return tuple(s for s in raw if s)


# A generationConfig of only these fields, each a plain int in its range (the usual one),
# needs none of the per-field checks: ``_plain_config`` reads it at once.
PLAIN_CONFIG = frozenset({"maxOutputTokens", "candidateCount", "seed"})

GenerationConfig = tuple[int | None, int, tuple[str, ...], int | None]


def _plain_config(config: JsonObject, spec: ModelSpec) -> GenerationConfig | None:
    """``_generation_config``'s result for a plain config (see ``PLAIN_CONFIG``); None: check it field by field."""
    if not PLAIN_CONFIG.issuperset(config):
        return None
    max_tokens, count, seed = config.get("maxOutputTokens"), config.get("candidateCount"), config.get("seed")
    if max_tokens is not None and not (type(max_tokens) is int and 1 <= max_tokens <= spec.max_output_tokens):
        return None
    if count is not None and not (type(count) is int and 1 <= count <= MAX_CANDIDATES):
        return None
    if seed is not None and not (type(seed) is int and fields.INT32_MIN <= seed <= fields.INT32_MAX):
        return None
    return max_tokens, count or 1, (), seed


def _generation_config(body: JsonObject, spec: ModelSpec) -> GenerationConfig:
    """``maxOutputTokens``, ``candidateCount``, ``stopSequences`` and ``seed``, validated."""
    config = fields.get_object(body, "generationConfig", CONFIG)
    if config is None:
        return None, 1, (), None
    plain = _plain_config(config, spec)
    if plain is not None:
        return plain
    fields.check_known(config, CONFIG_FIELDS, CONFIG)
    temperature = fields.get_float(config, "temperature", f"{CONFIG}.temperature")
    if temperature is not None and not 0 <= temperature <= 2:
        raise invalid(
            f"* GenerateContentRequest.{CONFIG}.temperature: temperature must be between 0 and 2, got {temperature}.",
            param=f"{CONFIG}.temperature",
        )
    top_p = fields.get_float(config, "topP", f"{CONFIG}.top_p")
    if top_p is not None and not 0 <= top_p <= 1:
        raise invalid(
            f"* GenerateContentRequest.{CONFIG}.top_p: top_p must be between 0 and 1, got {top_p}.",
            param=f"{CONFIG}.top_p",
        )
    fields.get_float(config, "topK", f"{CONFIG}.top_k")
    fields.get_float(config, "presencePenalty", f"{CONFIG}.presence_penalty")
    fields.get_float(config, "frequencyPenalty", f"{CONFIG}.frequency_penalty")
    fields.get_str(config, "responseMimeType", f"{CONFIG}.response_mime_type")
    count = fields.get_int(config, "candidateCount", f"{CONFIG}.candidate_count", minimum=1) or 1
    if count > MAX_CANDIDATES:
        raise invalid(
            f"* GenerateContentRequest.{CONFIG}.candidate_count: must be at most {MAX_CANDIDATES}, got {count}.",
            param=f"{CONFIG}.candidate_count",
        )
    max_tokens = fields.get_int(config, "maxOutputTokens", f"{CONFIG}.max_output_tokens", minimum=1)
    if max_tokens is not None and max_tokens > spec.max_output_tokens:
        raise invalid(
            f"Unable to submit request because it has a maxOutputTokens value of {max_tokens} but the supported "
            f"range is from 1 (inclusive) to {spec.max_output_tokens + 1} (exclusive). Update the value and try again.",
            param=f"{CONFIG}.max_output_tokens",
        )
    seed = fields.get_int(config, "seed", f"{CONFIG}.seed")
    return max_tokens, count, _stop_sequences(config), seed


def parse_request(
    sim: Simulator, request: HttpRequest, body: JsonObject, model: str, spec: ModelSpec
) -> GenerateRequest:
    """Validate a ``GenerateContentRequest`` into a neutral request."""
    fields.check_known(body, REQUEST_FIELDS, "")
    system, system_tokens = parse_system(sim, body)
    turns, tokens = parse_contents(sim, body)
    prompt_tokens = tokens + system_tokens
    fields.get_list(body, "safetySettings", "safety_settings")
    declared, tool_tokens = parse_tools(sim, body)
    prompt_tokens += tool_tokens
    tools, choice = parse_tool_config(body, declared)
    max_tokens, count, stops, seed = _generation_config(body, spec)
    config = fields.get_object(body, "generationConfig", CONFIG)
    budget, include_thoughts = thinking_budget(config, spec)
    messages = ((system,) if system else ()) + tuple(turns)
    if prompt_tokens > spec.context_window:
        raise SimulatorError(
            ErrorKind.CONTEXT_LENGTH,
            f"The input token count ({prompt_tokens}) exceeds the maximum number of tokens allowed "
            f"({spec.context_window}).",
            param="contents",
        )
    gen = GenerationRequest(
        model=model,
        endpoint=Endpoint.CHAT,
        messages=messages,
        prompt_tokens=prompt_tokens,
        max_tokens=max_tokens,
        n=count,
        stop=stops,
        seed=seed if seed is not None else header_seed(request.headers),
        tools=tools,
        tool_choice=choice,
        follows_tool_result=ends_with_function_response(body),
        output=parse_output(config, messages),
        reasoning_budget=budget,
    )
    return GenerateRequest(gen, include_thoughts)


def _prompt_details(prompt_tokens: int) -> list[dict[str, Any]]:
    return [{"modality": "TEXT", "tokenCount": prompt_tokens}]


def usage_metadata(
    prompt_tokens: int, candidates_tokens: int | None, thoughts_tokens: int = 0, cached_tokens: int = 0
) -> dict[str, Any]:
    """``usageMetadata``; without ``candidates_tokens`` the mid-stream form (prompt only).

    Thinking tokens are reported apart (``thoughtsTokenCount``), not in the candidates'
    count, and the total adds them. Implicit-cache hits (``cached_tokens``, part of the
    prompt count) appear only when there are some, as the API leaves the fields out.
    """
    if candidates_tokens is None:
        return {
            "promptTokenCount": prompt_tokens,
            "totalTokenCount": prompt_tokens,
            "promptTokensDetails": _prompt_details(prompt_tokens),
        }
    usage: dict[str, Any] = {
        "promptTokenCount": prompt_tokens,
        "candidatesTokenCount": candidates_tokens,
        "totalTokenCount": prompt_tokens + candidates_tokens + thoughts_tokens,
    }
    if cached_tokens:
        usage["cachedContentTokenCount"] = cached_tokens
    usage["promptTokensDetails"] = _prompt_details(prompt_tokens)
    if cached_tokens:
        usage["cacheTokensDetails"] = _prompt_details(cached_tokens)
    if thoughts_tokens:
        usage["thoughtsTokenCount"] = thoughts_tokens
    return usage


def plan_usage(plan: GenerationPlan) -> dict[str, Any]:
    """The final ``usageMetadata`` of a plan (its cached tokens are known once its timeline opened)."""
    thoughts = sum(c.reasoning_tokens for c in plan.choices)
    cached = gemini_cached_tokens(plan.request.model, plan.cached_tokens)
    return usage_metadata(plan.request.prompt_tokens, plan.completion_tokens - thoughts, thoughts, cached)


def function_args(call: ToolCall) -> dict[str, Any]:
    """A call's ``args`` object (``{}`` when max tokens cut its JSON short)."""
    try:
        value = orjson.loads(call.arguments)
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def candidate_parts(choice: ChoicePlan, include_thoughts: bool) -> list[dict[str, Any]]:
    """A finished candidate's parts: thoughts (if asked for), text, function calls."""
    if not choice.segments:
        return [{"text": choice.text}]
    parts: list[dict[str, Any]] = []
    for segment in choice.segments:
        text = "".join(choice.tokens[segment.start : segment.stop])
        if segment.kind is SegmentKind.REASONING:
            if include_thoughts and text:
                parts.append({"text": text, "thought": True})
        elif segment.tool_call is not None:
            if choice.finish_reason is FinishReason.LENGTH or not malformed(segment.tool_call):
                parts.append(
                    {"functionCall": {"name": segment.tool_call.name, "args": function_args(segment.tool_call)}}
                )
        elif text:
            parts.append({"text": text})
    return parts or [{"text": ""}]


def render_response(plan: GenerationPlan, response_id: str, include_thoughts: bool = False) -> bytes:
    """The complete ``GenerateContentResponse``."""
    request = plan.request
    candidates = [
        blocked_candidate(choice.index)
        if choice.finish_reason is FinishReason.REFUSAL
        else {
            "content": {"parts": candidate_parts(choice, include_thoughts), "role": "model"},
            "finishReason": finish_reason(choice),
            "index": choice.index,
        }
        for choice in plan.choices
    ]
    payload = {
        "candidates": candidates,
        "usageMetadata": plan_usage(plan),
        "modelVersion": request.model,
        "responseId": response_id,
    }
    if prompt_blocked(plan):
        del payload["candidates"]
        payload = {
            "promptFeedback": PROMPT_FEEDBACK,
            **payload,
            "usageMetadata": usage_metadata(request.prompt_tokens, None),
        }
    return escape_line_breaks(orjson.dumps(payload))


class ChunkWriter:
    """Renders streamed ``GenerateContentResponse`` chunks, each already framed.

    Everything but the token's text is built once per stream (the hot path is one JSON
    string encoding and three concatenations per token); ``prefix`` and ``suffix`` frame
    each chunk (``data: `` and a blank line for SSE, nothing inside a JSON array).
    """

    def __init__(self, plan: GenerationPlan, response_id: str, prefix: bytes = b"", suffix: bytes = b"") -> None:
        request = plan.request
        identity = b"," + orjson.dumps({"modelVersion": request.model, "responseId": response_id})[1:]
        partial = b',"usageMetadata":' + orjson.dumps(usage_metadata(request.prompt_tokens, None)) + identity
        self._plan = plan
        self._identity = identity
        self._prefix = prefix
        self._suffix = suffix
        self._head = prefix + b'{"candidates":[{"content":{"parts":[{"text":'
        self._partial_tail = escape_line_breaks(partial) + suffix
        self._open = [b'}],"role":"model"},"index":%d}]' % i + self._partial_tail for i in range(len(plan.choices))]

    @property
    def _final_tail(self) -> bytes:
        """The full usage and identity that close the last chunk.

        Built when needed, not up front: the plan's cached tokens are known only once its
        timeline opened (after a scripted delay, that is after the writer was made).
        """
        final = b',"usageMetadata":' + orjson.dumps(plan_usage(self._plan)) + self._identity
        return escape_line_breaks(final) + self._suffix

    @property
    def head(self) -> bytes:
        """The bytes of a text chunk before its JSON text."""
        return self._head

    def open_tail(self, index: int) -> bytes:
        """The bytes after a text chunk's JSON text while candidate ``index`` goes on."""
        return self._open[index]

    def token(self, index: int, text: str) -> bytes:
        """A chunk with one token of candidate ``index``, which goes on."""
        return self._head + escape_line_breaks(orjson.dumps(text)) + self._open[index]

    def parts(self, index: int, parts: bytes, reason: str | None, last: bool) -> bytes:
        """A chunk with already-encoded ``parts`` (thoughts, function calls), maybe ending the candidate."""
        finish = b',"finishReason":"%s"' % reason.encode() if reason is not None else b""
        tail = self._final_tail if last else self._partial_tail
        return b'%s{"candidates":[{"content":{"parts":%s,"role":"model"}%s,"index":%d}]%s' % (
            self._prefix,
            escape_line_breaks(parts),
            finish,
            index,
            tail,
        )

    def blocked(self, index: int, last: bool) -> bytes:
        """The one chunk of a candidate blocked for safety (its tokens are never sent).

        A blocked prompt has one chunk for the whole response, with the last candidate's end
        (empty before that): ``promptFeedback`` and the prompt's usage, no candidates.
        """
        if prompt_blocked(self._plan):
            if not last:
                return b""
            return self._prefix + b'{"promptFeedback":' + orjson.dumps(PROMPT_FEEDBACK) + self._partial_tail
        candidate = orjson.dumps(blocked_candidate(index))
        return b'%s{"candidates":[%s]%s' % (
            self._prefix,
            candidate,
            self._final_tail if last else self._partial_tail,
        )

    def finish(self, index: int, text: str, reason: FinishReason, last: bool) -> bytes:
        """The chunk that ends candidate ``index`` (its last token, or no text); ``last`` adds full usage."""
        return b'%s%s}],"role":"model"},"finishReason":"%s","index":%d}]%s' % (
            self._head,
            escape_line_breaks(orjson.dumps(text)),
            FINISH[reason].encode(),
            index,
            self._final_tail if last else self._partial_tail,
        )


class CandidateTokens:
    """A plain candidate's SSE chunks for the server's fast path (``core.plain``).

    Byte for byte what ``stream_chunks`` yields for one candidate of plain text: a chunk per
    token, the last one carrying the finish reason and the full usage.
    """

    __slots__ = ("_head", "_index", "_open", "_reason", "_writer")

    def __init__(self, writer: ChunkWriter, choice: ChoicePlan) -> None:
        self._writer = writer
        self._index = choice.index
        self._reason = choice.finish_reason
        self._head = writer.head
        self._open = writer.open_tail(choice.index)

    def first(self, text: str, last: bool) -> list[bytes]:
        """The first token's chunk (the finishing chunk if it is the only token)."""
        return self.last(text) if last else [self.token(text)]

    def token(self, text: str) -> bytes:
        """A chunk with one token of the candidate, which goes on."""
        return self._head + escape_line_breaks(orjson.dumps(text)) + self._open

    def last(self, text: str) -> list[bytes]:
        """The chunk with the last token, the finish reason and the full usage."""
        return [self._writer.finish(self._index, text, self._reason, True)]


async def stream_chunks(
    sim: Simulator, plan: GenerationPlan, timeline: Timeline, writer: ChunkWriter, include_thoughts: bool = False
) -> AsyncIterator[bytes]:
    """Framed response chunks as their tokens fall due; a candidate's last token carries its finish.

    Thought tokens go out as ``thought`` parts when asked for (otherwise they only take their
    time); a function call goes out whole, in one part, when its last argument token is due.
    """
    lasts = [len(c.tokens) - 1 for c in plan.choices]
    reasons = [c.finish_reason for c in plan.choices]
    layouts = [_PartLayout(c) if c.segments else None for c in plan.choices]
    remaining = len(plan.choices)
    async for event in sim.stream(plan, timeline, hide_reasoning=not include_thoughts):
        index = event.choice
        layout = layouts[index]
        if isinstance(event, TokenEvent):
            ending = event.position == lasts[index]
            if layout is None:
                if not ending:
                    yield writer.token(index, event.text)
                    continue
                remaining -= 1
                yield writer.finish(index, event.text, reasons[index], remaining == 0)
                continue
            if layout.blocked:
                if ending:
                    remaining -= 1
                    frame = writer.blocked(index, remaining == 0)
                    if frame:
                        yield frame
                continue
            part = layout.part(event.position, event.text, include_thoughts)
            if ending:
                remaining -= 1
                yield writer.parts(index, b"[" + (part or b'{"text":""}') + b"]", layout.finish, remaining == 0)
            elif part is not None:
                yield writer.parts(index, b"[" + part + b"]", None, False)
        elif lasts[index] < 0:  # a candidate with no tokens at all
            remaining -= 1
            yield writer.finish(index, "", reasons[index], remaining == 0)


class _PartLayout:
    """Which part each token position of a segmented candidate belongs to."""

    def __init__(self, choice: ChoicePlan) -> None:
        self.kinds = choice.segment_kinds()
        self.blocked = choice.finish_reason is FinishReason.REFUSAL
        self.finish = finish_reason(choice)
        cut = choice.finish_reason is FinishReason.LENGTH
        self.call_ends: dict[int, ToolCall] = {
            s.stop - 1: s.tool_call
            for s in choice.segments
            if s.tool_call is not None and s.stop > s.start and (cut or not malformed(s.tool_call))
        }

    def part(self, position: int, text: str, include_thoughts: bool) -> bytes | None:
        """The encoded part this token adds to the stream (None: nothing to send yet)."""
        kind = self.kinds[position]
        if kind is SegmentKind.TEXT:
            return b'{"text":' + orjson.dumps(text) + b"}"
        if kind is SegmentKind.REASONING:
            return b'{"text":' + orjson.dumps(text) + b',"thought":true}' if include_thoughts else None
        call = self.call_ends.get(position)
        if call is None:
            return None
        return orjson.dumps({"functionCall": {"name": call.name, "args": function_args(call)}})


class ArrayStream:
    """The default framing: one JSON array, streamed element by element, closed at the end."""

    def __init__(self, chunks: AsyncIterator[bytes]) -> None:
        self._chunks = chunks
        self._opened = False
        self._closed = False

    async def frames(self) -> AsyncIterator[bytes]:
        """``[`` and the first element, a comma and CRLF before each next one, then ``]``.

        The state is updated before each frame is handed out: the server may stop the stream
        while a frame is being sent and then ask for :meth:`error`, which must continue
        exactly what was sent.
        """
        async for chunk in self._chunks:
            prefix = b",\r\n" if self._opened else b"["
            self._opened = True
            yield prefix + chunk
        closing = b"]" if self._opened else b"[]"
        self._opened = self._closed = True
        yield closing

    def error(self, error: SimulatorError) -> bytes:
        """An error element that closes the array (opened first if need be; nothing once closed)."""
        if self._closed:
            return b""
        self._closed = True
        return (b",\r\n" if self._opened else b"[") + error_body(error) + b"]"


# A response chunk cut short (a chaos ``malformed`` fault).
MALFORMED_CHUNK = b'{"candidates": [{"content": {"parts": [{"text": "tr'


async def generate(sim: Simulator, request: HttpRequest, model: str, spec: ModelSpec, *, stream: bool) -> Response:
    """Serve ``:generateContent`` (``stream`` False) or ``:streamGenerateContent``."""
    heavy = is_heavy(request)
    body = parse_object(request.body)
    parsed = await off_loop(heavy, spec.context_window, parse_request, sim, request, body, model, spec)
    answer = GenerateAnswer(sim, request, parsed.include_thoughts)
    return await serve_generation(sim, request, parsed.request, spec, answer, stream=stream, heavy=heavy)


class GenerateAnswer:
    """How content is answered: streamed (a JSON array, or SSE with ``alt=sse``) or whole."""

    __slots__ = ("_id", "_include_thoughts", "_request", "_sim")

    provider = "gemini"
    limit_headers = staticmethod(no_limit_headers)

    def __init__(self, sim: Simulator, request: HttpRequest, include_thoughts: bool) -> None:
        self._sim = sim
        self._request = request
        self._include_thoughts = include_thoughts
        self._id = ""

    @staticmethod
    def seed_identity(gen: GenerationRequest) -> tuple[object, ...]:
        """Model, contents, ``candidateCount`` and ``maxOutputTokens``."""
        return gen.model, gen.messages, gen.n, gen.max_tokens

    def begin(self, plan: GenerationPlan) -> None:
        """The response id."""
        self._id = fixed_id(plan) or new_response_id()

    def stream(self, plan: GenerationPlan, timeline: Timeline) -> StreamResponse:
        """``GenerateContentResponse`` chunks, as SSE events or as the elements of one array."""
        sim = self._sim
        if self._request.query.get("alt") == "sse":
            writer = ChunkWriter(plan, self._id, DATA, END)
            frames = stream_chunks(sim, plan, timeline, writer, self._include_thoughts)
            pacer = sim.pacer(plan, timeline)
            plain = None if pacer is None else PlainTokens(pacer, CandidateTokens(writer, plan.choices[0]), frames)
            return StreamResponse(frames, on_error=sse_error_frame, malformed=sse_frame(MALFORMED_CHUNK), plain=plain)
        array = ArrayStream(stream_chunks(sim, plan, timeline, ChunkWriter(plan, self._id), self._include_thoughts))
        headers = [(b"content-type", b"application/json; charset=UTF-8"), (b"cache-control", b"no-cache")]
        # In array mode a malformed element leaves the JSON array unparseable, as a cut proxy would.
        return StreamResponse(array.frames(), headers, array.error, malformed=b",\r\n" + MALFORMED_CHUNK)

    def render(self, plan: GenerationPlan) -> JsonResponse:
        """One ``GenerateContentResponse``."""
        return JsonResponse(200, render_response(plan, self._id, self._include_thoughts), json_headers())


async def count_tokens(sim: Simulator, request: HttpRequest, model: str, spec: ModelSpec) -> Response:
    """Serve ``:countTokens`` for ``contents`` or a whole ``generateContentRequest``."""
    body = parse_object(request.body)
    fields.check_known(body, ("contents", "generateContentRequest"), "")
    inner = fields.get_object(body, "generateContentRequest", "generate_content_request")
    # Exact counts (no ceiling), except for a whole request, which is refused over the window.
    if inner is not None:
        parsed = await off_loop(is_heavy(request), spec.context_window, parse_request, sim, request, inner, model, spec)
        total = parsed.request.prompt_tokens
    else:
        _, total = await off_loop(is_heavy(request), None, parse_contents, sim, body)
    payload = {"totalTokens": total, "promptTokensDetails": _prompt_details(total)}
    return JsonResponse(200, orjson.dumps(payload), json_headers())
