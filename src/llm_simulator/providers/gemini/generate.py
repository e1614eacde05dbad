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
from llm_simulator.core.types import Endpoint, FinishReason, GenerationPlan, GenerationRequest, TokenEvent
from llm_simulator.engine.catalogue import ModelSpec
from llm_simulator.engine.simulator import Simulator
from llm_simulator.engine.timing import Timeline
from llm_simulator.providers.base import HttpRequest, JsonResponse, Response, StreamResponse
from llm_simulator.providers.gemini import fields
from llm_simulator.providers.gemini.common import escape_line_breaks, json_headers, new_response_id
from llm_simulator.providers.gemini.contents import parse_contents, parse_system
from llm_simulator.providers.gemini.errors import error_body, sse_error_frame
from llm_simulator.providers.seeding import header_seed
from llm_simulator.providers.validation import JsonObject, parse_object, preview

FINISH = {FinishReason.STOP: "STOP", FinishReason.STOP_SEQUENCE: "STOP", FinishReason.LENGTH: "MAX_TOKENS"}
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
    """A parsed generate request: the neutral request plus what the response reports."""

    request: GenerationRequest
    spec: ModelSpec


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


def _generation_config(body: JsonObject, spec: ModelSpec) -> tuple[int | None, int, tuple[str, ...], int | None]:
    """``maxOutputTokens``, ``candidateCount``, ``stopSequences`` and ``seed``, validated."""
    config = fields.get_object(body, "generationConfig", CONFIG)
    if config is None:
        return None, 1, (), None
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
) -> GenerationRequest:
    """Validate a ``GenerateContentRequest`` into a neutral request."""
    fields.check_known(body, REQUEST_FIELDS, "")
    system, system_tokens = parse_system(sim, body)
    turns, tokens = parse_contents(sim, body)
    prompt_tokens = tokens + system_tokens
    fields.get_list(body, "safetySettings", "safety_settings")
    fields.get_list(body, "tools", "tools")
    fields.get_object(body, "toolConfig", "tool_config")
    max_tokens, count, stops, seed = _generation_config(body, spec)
    if prompt_tokens > spec.context_window:
        raise SimulatorError(
            ErrorKind.CONTEXT_LENGTH,
            f"The input token count ({prompt_tokens}) exceeds the maximum number of tokens allowed "
            f"({spec.context_window}).",
            param="contents",
        )
    return GenerationRequest(
        model=model,
        endpoint=Endpoint.CHAT,
        messages=((system,) if system else ()) + tuple(turns),
        prompt_tokens=prompt_tokens,
        max_tokens=max_tokens,
        n=count,
        stop=stops,
        seed=seed if seed is not None else header_seed(request.headers),
    )


def _prompt_details(prompt_tokens: int) -> list[dict[str, Any]]:
    return [{"modality": "TEXT", "tokenCount": prompt_tokens}]


def usage_metadata(prompt_tokens: int, candidates_tokens: int | None) -> dict[str, Any]:
    """``usageMetadata``; without ``candidates_tokens`` the mid-stream form (prompt only)."""
    if candidates_tokens is None:
        return {
            "promptTokenCount": prompt_tokens,
            "totalTokenCount": prompt_tokens,
            "promptTokensDetails": _prompt_details(prompt_tokens),
        }
    return {
        "promptTokenCount": prompt_tokens,
        "candidatesTokenCount": candidates_tokens,
        "totalTokenCount": prompt_tokens + candidates_tokens,
        "promptTokensDetails": _prompt_details(prompt_tokens),
    }


def render_response(plan: GenerationPlan, response_id: str) -> bytes:
    """The complete ``GenerateContentResponse``."""
    request = plan.request
    candidates = [
        {
            "content": {"parts": [{"text": choice.text}], "role": "model"},
            "finishReason": FINISH[choice.finish_reason],
            "index": choice.index,
        }
        for choice in plan.choices
    ]
    payload = {
        "candidates": candidates,
        "usageMetadata": usage_metadata(request.prompt_tokens, plan.completion_tokens),
        "modelVersion": request.model,
        "responseId": response_id,
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
        final = (
            b',"usageMetadata":'
            + orjson.dumps(usage_metadata(request.prompt_tokens, plan.completion_tokens))
            + identity
        )
        self._head = prefix + b'{"candidates":[{"content":{"parts":[{"text":'
        self._partial_tail = escape_line_breaks(partial) + suffix
        self._final_tail = escape_line_breaks(final) + suffix
        self._open = [b'}],"role":"model"},"index":%d}]' % i + self._partial_tail for i in range(len(plan.choices))]

    def token(self, index: int, text: str) -> bytes:
        """A chunk with one token of candidate ``index``, which goes on."""
        return self._head + escape_line_breaks(orjson.dumps(text)) + self._open[index]

    def finish(self, index: int, text: str, reason: FinishReason, last: bool) -> bytes:
        """The chunk that ends candidate ``index`` (its last token, or no text); ``last`` adds full usage."""
        return b'%s%s}],"role":"model"},"finishReason":"%s","index":%d}]%s' % (
            self._head,
            escape_line_breaks(orjson.dumps(text)),
            FINISH[reason].encode(),
            index,
            self._final_tail if last else self._partial_tail,
        )


async def stream_chunks(
    sim: Simulator, plan: GenerationPlan, timeline: Timeline, writer: ChunkWriter
) -> AsyncIterator[bytes]:
    """Framed response chunks as their tokens fall due; a candidate's last token carries its finish."""
    lasts = [len(c.tokens) - 1 for c in plan.choices]
    reasons = [c.finish_reason for c in plan.choices]
    remaining = len(plan.choices)
    async for event in sim.stream(plan, timeline):
        index = event.choice
        if isinstance(event, TokenEvent):
            if event.position != lasts[index]:
                yield writer.token(index, event.text)
                continue
            text = event.text
        elif lasts[index] >= 0:
            continue  # already reported with the candidate's last token
        else:
            text = ""  # a candidate with no tokens at all
        remaining -= 1
        yield writer.finish(index, text, reasons[index], remaining == 0)


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


async def generate(sim: Simulator, request: HttpRequest, model: str, spec: ModelSpec, *, stream: bool) -> Response:
    """Serve ``:generateContent`` (``stream`` False) or ``:streamGenerateContent``."""
    gen = parse_request(sim, request, parse_object(request.body), model, spec)
    base_seed = sim.request_seed(gen.seed, gen.model, gen.messages, gen.n, gen.max_tokens)
    plan = sim.plan(gen, spec, base_seed)
    timeline = sim.open_timeline(spec, gen.prompt_tokens, base_seed)
    response_id = new_response_id()
    if not stream:
        await sim.complete(plan, timeline)
        return JsonResponse(200, render_response(plan, response_id), json_headers())
    if request.query.get("alt") == "sse":
        writer = ChunkWriter(plan, response_id, b"data: ", b"\n\n")
        return StreamResponse(stream_chunks(sim, plan, timeline, writer), on_error=sse_error_frame)
    array = ArrayStream(stream_chunks(sim, plan, timeline, ChunkWriter(plan, response_id)))
    headers = [(b"content-type", b"application/json; charset=UTF-8"), (b"cache-control", b"no-cache")]
    return StreamResponse(array.frames(), headers, array.error)


async def count_tokens(sim: Simulator, request: HttpRequest, model: str, spec: ModelSpec) -> Response:
    """Serve ``:countTokens`` for ``contents`` or a whole ``generateContentRequest``."""
    body = parse_object(request.body)
    fields.check_known(body, ("contents", "generateContentRequest"), "")
    inner = fields.get_object(body, "generateContentRequest", "generate_content_request")
    if inner is not None:
        gen = parse_request(sim, request, inner, model, spec)
        total = gen.prompt_tokens
    else:
        _, total = parse_contents(sim, body)
    payload = {"totalTokens": total, "promptTokensDetails": _prompt_details(total)}
    return JsonResponse(200, orjson.dumps(payload), json_headers())
