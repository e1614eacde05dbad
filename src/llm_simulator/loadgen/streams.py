"""Incremental stream parsing for the load generator: what each provider's stream has shown so far.

One ``StreamState`` subclass per wire format interprets decoded events (SSE, NDJSON lines or
AWS event-stream messages) into content-event times, usage and errors; ``error_kind`` reads a
provider's error body. Like ``loadgen.client`` it speaks only the public wire formats.
"""

from __future__ import annotations

from typing import Any, ClassVar

import orjson

from llm_simulator.wire import gemini
from llm_simulator.wire.defaults import LoadProvider
from llm_simulator.wire.eventstream import EventMessage
from llm_simulator.wire.streams import StreamEnd

# Characters of an error's detail kept in a result.
_DETAIL_LIMIT = 200


# -- SSE (decoding: llm_simulator.infra.sse) ------------------------------------------------------


class StreamState:
    """What a provider's stream has shown so far: content event times, usage, errors, the end.

    Subclasses interpret one decoded SSE event each; ``note_content`` is called once per
    *content event* (the definition of TTFT and ITL), never per token. Whether the stream
    ended whole follows the provider's rule in ``llm_simulator.wire.streams``.
    """

    __slots__ = ("content_events", "end", "error", "error_detail", "first", "itls", "last", "usage_tokens")
    provider: ClassVar[LoadProvider]

    def __init__(self) -> None:
        self.first: float | None = None
        self.last = 0.0
        self.itls: list[float] = []
        self.content_events = 0
        self.usage_tokens: int | None = None
        self.error: str | None = None
        self.error_detail = ""
        self.end = StreamEnd(self.provider)

    @property
    def done(self) -> bool:
        """Whether the stream has shown its provider's end (see ``llm_simulator.wire.streams``)."""
        return self.end.complete

    def note_content(self, now: float) -> None:
        """Record one content event at ``now`` (perf_counter seconds)."""
        if self.first is None:
            self.first = now
        else:
            self.itls.append(now - self.last)
        self.last = now
        self.content_events += 1

    def note_error(self, payload: Any, kind: str | None = None) -> None:
        """Record an in-stream error (only the first counts) as ``stream:<kind>``.

        Without an explicit ``kind`` it is read from the error object (``type``, ``status``
        or ``code``), so an in-stream error stays distinguishable from the same error sent
        as an HTTP status.
        """
        if self.error is not None:
            return
        if kind is None:
            found = (
                payload.get("type") or payload.get("status") or payload.get("code")
                if isinstance(payload, dict)
                else None
            )
            kind = str(found) if found else "error"
        self.error = "stream:" + kind
        self.error_detail = short_detail(payload)

    def on_event(self, event: str, data: str, now: float) -> None:
        """Interpret one SSE event that arrived at ``now``."""
        raise NotImplementedError


class OpenAIStream(StreamState):
    """Chat Completions chunks: ``data: {json}`` frames ending with ``data: [DONE]``.

    A content event is a chunk with a non-empty ``delta.content``, ``refusal``,
    ``reasoning_content``/``reasoning`` or any ``tool_calls`` in some choice; the opening
    role-only chunk (``content: ""``) is not one. Output tokens come from the usage chunk.
    """

    __slots__ = ()
    provider = "openai"

    def on_event(self, event: str, data: str, now: float) -> None:
        """Interpret one chunk."""
        if self.end.is_terminator(event, data):
            return
        chunk = loads_object(data)
        if chunk is None:
            self.note_error(data, "malformed_chunk")
            return
        if chunk.get("error"):
            self.note_error(chunk["error"])
            return
        for choice in chunk.get("choices") or ():
            delta = choice.get("delta") or {}
            if (
                delta.get("content")
                or delta.get("tool_calls")
                or delta.get("reasoning_content")
                or delta.get("reasoning")
                or delta.get("refusal")
            ):
                self.note_content(now)
                break
        usage = chunk.get("usage")
        if usage and isinstance(usage.get("completion_tokens"), int):
            self.usage_tokens = usage["completion_tokens"]


_ANTHROPIC_CONTENT_DELTAS = {"text_delta": "text", "input_json_delta": "partial_json", "thinking_delta": "thinking"}


class AnthropicStream(StreamState):
    """Messages events, dispatched on the SSE event name (as the official SDK does).

    A content event is a ``content_block_delta`` whose delta is a non-empty ``text_delta``,
    ``input_json_delta`` or ``thinking_delta`` (``signature_delta`` and ``ping`` are not
    content). Output tokens: ``message_delta.usage.output_tokens`` (cumulative). The stream
    is complete at ``message_stop``; ``event: error`` is an in-stream error.
    """

    __slots__ = ()
    provider = "anthropic"

    def on_event(self, event: str, data: str, now: float) -> None:
        """Interpret one named event."""
        if self.end.is_terminator(event, data):
            return
        if event == "content_block_delta":
            payload = loads_object(data)
            delta = (payload or {}).get("delta") or {}
            text_field = _ANTHROPIC_CONTENT_DELTAS.get(delta.get("type", ""))
            if text_field is not None and delta.get(text_field):
                self.note_content(now)
        elif event == "message_delta":
            usage = (loads_object(data) or {}).get("usage") or {}
            if isinstance(usage.get("output_tokens"), int):
                self.usage_tokens = usage["output_tokens"]
        elif event == "error":
            payload = loads_object(data) or {}
            self.note_error(payload.get("error") or data)


class GeminiStream(StreamState):
    """``streamGenerateContent?alt=sse``: every ``data:`` frame is a whole response.

    A content event is a frame with a non-empty ``text`` or a ``functionCall`` part in some
    candidate. Output tokens: the last ``usageMetadata`` seen (``candidatesTokenCount`` plus
    ``thoughtsTokenCount``). There is no terminator: the stream is complete once a candidate
    carries a ``finishReason``.
    """

    __slots__ = ()
    provider = "gemini"

    def on_event(self, event: str, data: str, now: float) -> None:
        """Interpret one frame."""
        frame = loads_object(data)
        if frame is None:
            self.note_error(data, "malformed_chunk")
            return
        if frame.get("error"):
            self.note_error(frame["error"])
            return
        content = False
        for candidate in frame.get("candidates") or ():
            for part in (candidate.get("content") or {}).get("parts") or ():
                if part.get("text") or part.get("functionCall"):
                    content = True
        self.end.note_frame(frame)
        if content:
            self.note_content(now)
        usage = frame.get("usageMetadata")
        if usage and "candidatesTokenCount" in usage:
            self.usage_tokens = gemini.output_tokens(usage)


class OllamaStream(StreamState):
    """``/api/chat`` NDJSON: every line is one object (``event`` is empty; ``data`` is the line).

    A content event is a line whose ``message`` has non-empty ``content`` or ``thinking`` or
    any ``tool_calls``. The stream is complete at the line with ``done: true``, whose
    ``eval_count`` is the output tokens; a line ``{"error": "..."}`` is an in-stream error.
    """

    __slots__ = ()
    provider = "ollama"

    def on_event(self, event: str, data: str, now: float) -> None:
        """Interpret one line."""
        line = loads_object(data)
        if line is None:
            self.note_error(data, "malformed_chunk")
            return
        if line.get("error"):
            self.note_error(line["error"], "error")
            return
        message = line.get("message") or {}
        if message.get("content") or message.get("thinking") or message.get("tool_calls"):
            self.note_content(now)
        self.end.note_frame(line)
        if self.end.complete and isinstance(line.get("eval_count"), int):
            self.usage_tokens = line["eval_count"]


class BedrockStream(StreamState):
    """ConverseStream: AWS event-stream messages (``on_message``), not SSE.

    A content event is a ``contentBlockDelta`` with non-empty ``text``, tool ``input`` or
    ``reasoningContent.text``. Output tokens: ``metadata.usage.outputTokens``. The answer is
    whole at ``messageStop``; an ``exception`` message is an in-stream error named by its
    ``:exception-type`` (``stream:throttlingException``…).
    """

    __slots__ = ()
    provider = "bedrock"

    def on_message(self, message: EventMessage, now: float) -> None:
        """Interpret one decoded message."""
        if message.message_type != "event":
            self.note_error(
                loads_object(message.payload) or message.payload.decode("utf-8", "replace"), message.event_type
            )
            return
        self.on_event(message.event_type, message.payload.decode(), now)

    def on_event(self, event: str, data: str, now: float) -> None:
        """Interpret one event by its ``:event-type``."""
        self.end.note_event(event)
        if event == "contentBlockDelta":
            delta = (loads_object(data) or {}).get("delta") or {}
            if (
                delta.get("text")
                or (delta.get("toolUse") or {}).get("input")
                or (delta.get("reasoningContent") or {}).get("text")
            ):
                self.note_content(now)
        elif event == "metadata":
            usage = (loads_object(data) or {}).get("usage") or {}
            if isinstance(usage.get("outputTokens"), int):
                self.usage_tokens = usage["outputTokens"]


STREAM_STATES: dict[LoadProvider, type[StreamState]] = {
    "openai": OpenAIStream,
    "anthropic": AnthropicStream,
    "gemini": GeminiStream,
    "ollama": OllamaStream,
    "bedrock": BedrockStream,
}


def usage_output_tokens(provider: LoadProvider, body: Any) -> int | None:
    """Output tokens reported in a non-streamed response body, if any."""
    if not isinstance(body, dict):
        return None
    if provider == "ollama":
        count = body.get("eval_count")
        return count if isinstance(count, int) else None
    if provider == "gemini":
        gemini_usage = body.get("usageMetadata")
        return gemini.output_tokens(gemini_usage) if isinstance(gemini_usage, dict) else None
    usage = body.get("usage")
    if not isinstance(usage, dict):
        return None
    field = {"openai": "completion_tokens", "bedrock": "outputTokens"}.get(provider, "output_tokens")
    value = usage.get(field)
    return value if isinstance(value, int) else None


def error_kind(status: int, body: bytes, aws_type: str | None = None) -> tuple[str, str]:
    """A short kind and a detail for an HTTP error response, from the provider's error body.

    OpenAI puts the kind in ``error.type`` (or ``code``), Anthropic in ``error.type`` and
    Gemini in ``error.status``; Bedrock in the ``x-amzn-ErrorType`` header (``aws_type``, up
    to its ``:``) with ``{"message"}`` as the body; Ollama's ``{"error": "<message>"}`` has no
    kind, and neither has an unparseable body: both give ``http_<status>``.
    """
    parsed = loads_object(body)
    if aws_type:
        message = parsed.get("message") if parsed is not None else None
        return aws_type.split(":", 1)[0], short_detail(message or body.decode("utf-8", "replace"))
    err = parsed.get("error") if parsed is not None else None
    if isinstance(err, dict):
        kind = err.get("type") or err.get("status") or err.get("code")
        if kind:
            return str(kind), short_detail(err.get("message") or err)
    if isinstance(err, str) and err:
        return f"http_{status}", short_detail(err)
    return f"http_{status}", short_detail(body.decode("utf-8", "replace"))


def loads_object(data: str | bytes) -> dict[str, Any] | None:
    """``data`` parsed as a JSON object, or None (not JSON, or not an object)."""
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def short_detail(value: Any) -> str:
    """``value`` as text (JSON unless a string), cut to the detail limit of a result."""
    text = value if isinstance(value, str) else orjson.dumps(value, default=str).decode()
    return text[:_DETAIL_LIMIT]
