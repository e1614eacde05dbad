"""Each provider's wire format for the thin client: requests to build, answers to read.

Pure functions and small parsers with no I/O, shared by the sync and async clients. The
facts the CLI and the load generator share (defaults, auth headers, Gemini's paths and text,
the end of a stream) come from ``llm_simulator.wire``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from llm_simulator.infra.sse import SseEvent
from llm_simulator.sdk.errors import error_from_stream
from llm_simulator.sdk.types import ChatResult, Message, Prompt, Provider, StreamEvent
from llm_simulator.wire import gemini
from llm_simulator.wire.defaults import ANTHROPIC_DEFAULT_MAX_TOKENS
from llm_simulator.wire.http import gemini_path
from llm_simulator.wire.streams import StreamEnd

SEED_HEADER = "x-simulator-seed"


@dataclass(frozen=True, slots=True)
class WireRequest:
    """An HTTP request to make: method, path (from the server root), headers, JSON body, query."""

    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    json: object = None
    params: dict[str, str] = field(default_factory=dict)


def _messages(prompt: Prompt) -> list[Message]:
    if isinstance(prompt, str):
        return [{"role": "user", "content": prompt}]
    return list(prompt)


def _system_and_turns(messages: Sequence[Message]) -> tuple[list[str], list[Message]]:
    """System texts apart (Anthropic and Gemini take them outside the turns), then the turns."""
    system = [str(m.get("content", "")) for m in messages if m.get("role") in ("system", "developer")]
    turns = [m for m in messages if m.get("role") not in ("system", "developer")]
    return system, turns


def _merge(body: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """``extra`` fields on top of ``body``; nested objects (e.g. ``generationConfig``) merged one level."""
    for key, value in extra.items():
        current = body.get(key)
        if isinstance(current, dict) and isinstance(value, Mapping):
            body[key] = {**current, **value}
        else:
            body[key] = value
    return body


def chat_request(
    provider: Provider,
    prompt: Prompt,
    *,
    model: str,
    max_tokens: int | None,
    seed: int | None,
    stream: bool,
    extra: Mapping[str, Any],
) -> WireRequest:
    """The chat request in ``provider``'s wire format (``extra`` fields merged into the body)."""
    messages = _messages(prompt)
    headers: dict[str, str] = {}
    body: dict[str, Any]
    if provider == "openai":
        body = {"model": model, "messages": [dict(m) for m in messages]}
        if max_tokens is not None:
            body["max_completion_tokens"] = max_tokens
        if seed is not None:
            body["seed"] = seed
        if stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        return WireRequest("POST", "/v1/chat/completions", headers, _merge(body, extra))
    system, turns = _system_and_turns(messages)
    if provider == "anthropic":
        body = {
            "model": model,
            "max_tokens": max_tokens if max_tokens is not None else ANTHROPIC_DEFAULT_MAX_TOKENS,
            "messages": [{"role": m.get("role"), "content": m.get("content")} for m in turns],
        }
        if system:
            body["system"] = "\n\n".join(system)
        if stream:
            body["stream"] = True
        if seed is not None:  # Anthropic's API has no seed field: the simulator reads a header
            headers[SEED_HEADER] = str(seed)
        return WireRequest("POST", "/v1/messages", headers, _merge(body, extra))
    contents = []
    for m in turns:
        content = m.get("content")
        parts = [{"text": content}] if isinstance(content, str) else content
        contents.append({"role": "model" if m.get("role") == "assistant" else "user", "parts": parts})
    body = {"contents": contents}
    if system:
        body["systemInstruction"] = {"parts": [{"text": text} for text in system]}
    config: dict[str, Any] = {}
    if max_tokens is not None:
        config["maxOutputTokens"] = max_tokens
    if seed is not None:
        config["seed"] = seed
    if config:
        body["generationConfig"] = config
    if stream:
        path, params = gemini_path(model, "streamGenerateContent"), {"alt": "sse"}
        return WireRequest("POST", path, headers, _merge(body, extra), params)
    return WireRequest("POST", gemini_path(model, "generateContent"), headers, _merge(body, extra))


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _items(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _first(items: object) -> dict[str, Any]:
    return _dict(items[0]) if isinstance(items, list) and items else {}


def parse_chat(provider: Provider, data: object, model: str) -> ChatResult:
    """The ``ChatResult`` of a complete answer (``model`` when the body names none)."""
    raw = _dict(data)
    if provider == "openai":
        choice = _first(raw.get("choices"))
        content = _dict(choice.get("message")).get("content")
        usage = _dict(raw.get("usage"))
        return ChatResult(
            text=content if isinstance(content, str) else "",
            model=str(raw.get("model", model)),
            finish_reason=choice.get("finish_reason"),
            input_tokens=_int(usage.get("prompt_tokens")),
            output_tokens=_int(usage.get("completion_tokens")),
            raw=raw,
        )
    if provider == "anthropic":
        blocks = raw.get("content")
        text = "".join(
            b["text"]
            for b in _items(blocks)
            if isinstance(b, dict) and b.get("type") == "text" and isinstance(b.get("text"), str)
        )
        usage = _dict(raw.get("usage"))
        return ChatResult(
            text=text,
            model=str(raw.get("model", model)),
            finish_reason=raw.get("stop_reason"),
            input_tokens=_int(usage.get("input_tokens")),
            output_tokens=_int(usage.get("output_tokens")),
            raw=raw,
        )
    candidate = _first(raw.get("candidates"))
    usage = _dict(raw.get("usageMetadata"))
    return ChatResult(
        text=gemini.candidate_text(candidate),
        model=str(raw.get("modelVersion", model)),
        finish_reason=candidate.get("finishReason"),
        input_tokens=_int(usage.get("promptTokenCount")),
        output_tokens=_int(usage.get("candidatesTokenCount")),
        raw=raw,
    )


class StreamParser:
    """Turns one provider's SSE messages into ``StreamEvent``s; raises on an in-stream error.

    After the stream, ``model``, ``input_tokens`` and ``output_tokens`` hold what it reported
    (OpenAI's usage needs ``stream_options.include_usage``, which the SDK sends), and ``end``
    whether it ended whole by its provider's rule (``llm_simulator.wire.streams``).
    """

    def __init__(self, provider: Provider, model: str) -> None:
        self.provider = provider
        self.model = model
        self.input_tokens: int | None = None
        self.output_tokens: int | None = None
        self.end = StreamEnd(provider)

    def feed(self, message: SseEvent) -> list[StreamEvent]:
        """The events in one SSE message (often one, sometimes none)."""
        if self.end.is_terminator(message.event, message.data):
            return []
        try:
            data = orjson.loads(message.data)
        except orjson.JSONDecodeError:
            return []  # not JSON (a keep-alive or an unknown frame): nothing to report
        if not isinstance(data, dict):
            return []
        if message.event == "error" or "error" in data:
            raise error_from_stream(data)
        if self.provider == "openai":
            return self._openai(data)
        if self.provider == "anthropic":
            return self._anthropic(message.event, data)
        return self._gemini(data)

    def _openai(self, data: dict[str, Any]) -> list[StreamEvent]:
        self.model = str(data.get("model", self.model))
        usage = _dict(data.get("usage"))
        if usage:
            self.input_tokens = _int(usage.get("prompt_tokens"))
            self.output_tokens = _int(usage.get("completion_tokens"))
        choice = _first(data.get("choices"))
        if not choice:
            return []
        events: list[StreamEvent] = []
        content = _dict(choice.get("delta")).get("content")
        if isinstance(content, str) and content:
            events.append(StreamEvent(content))
        reason = choice.get("finish_reason")
        if isinstance(reason, str):
            events.append(StreamEvent("", reason))
        return events

    def _anthropic(self, event: str, data: dict[str, Any]) -> list[StreamEvent]:
        kind = data.get("type", event)
        if kind == "message_start":
            message = _dict(data.get("message"))
            self.model = str(message.get("model", self.model))
            self.input_tokens = _int(_dict(message.get("usage")).get("input_tokens"))
        elif kind == "content_block_delta":
            delta = _dict(data.get("delta"))
            if delta.get("type") == "text_delta" and isinstance(delta.get("text"), str) and delta["text"]:
                return [StreamEvent(delta["text"])]
        elif kind == "message_delta":
            usage = _dict(data.get("usage"))
            if "output_tokens" in usage:
                self.output_tokens = _int(usage.get("output_tokens"))
            reason = _dict(data.get("delta")).get("stop_reason")
            if isinstance(reason, str):
                return [StreamEvent("", reason)]
        return []

    def _gemini(self, data: dict[str, Any]) -> list[StreamEvent]:
        self.model = str(data.get("modelVersion", self.model))
        usage = _dict(data.get("usageMetadata"))
        if usage:
            self.input_tokens = _int(usage.get("promptTokenCount"))
            self.output_tokens = _int(usage.get("candidatesTokenCount"))
        self.end.note_frame(data)
        candidate = _first(data.get("candidates"))
        events: list[StreamEvent] = []
        text = gemini.candidate_text(candidate)
        if text:
            events.append(StreamEvent(text))
        reason = candidate.get("finishReason")
        if isinstance(reason, str):
            events.append(StreamEvent("", reason))
        return events


def embed_request(provider: Provider, texts: Sequence[str], model: str) -> WireRequest:
    """The embeddings request (OpenAI ``/v1/embeddings``, Gemini ``:batchEmbedContents``)."""
    if provider == "anthropic":
        raise ValueError("Anthropic has no embeddings API: use provider='openai' or provider='gemini'")
    if isinstance(texts, str):
        raise TypeError("texts must be a list of strings, not one string")
    if provider == "openai":
        return WireRequest("POST", "/v1/embeddings", {}, {"model": model, "input": list(texts)})
    requests = [{"content": {"parts": [{"text": text}]}} for text in texts]
    return WireRequest("POST", gemini_path(model, "batchEmbedContents"), {}, {"requests": requests})


def parse_embeddings(provider: Provider, data: object) -> list[list[float]]:
    """The vectors of an embeddings answer, in the order of the inputs."""
    raw = _dict(data)
    if provider == "openai":
        items = [_dict(item) for item in raw.get("data", []) if isinstance(item, dict)]
        items.sort(key=lambda item: _int(item.get("index")) or 0)
        return [[float(x) for x in item.get("embedding", [])] for item in items]
    return [[float(x) for x in _dict(item).get("values", [])] for item in _items(raw.get("embeddings"))]


def encode(body: object) -> bytes:
    """A JSON request body."""
    return orjson.dumps(body)
