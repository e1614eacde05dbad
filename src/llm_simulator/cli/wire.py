"""Request bodies and reply extraction in each provider's public wire format.

Used by ``generate`` (sample bodies) and ``client`` (real calls), so the bodies the CLI
prints are exactly the ones it sends. Only the vendors' documented JSON shapes appear here,
never the simulator's internals; the facts the SDK and the load generator share (default
models, Gemini's paths and text, the end of a stream) come from ``llm_simulator.wire``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from llm_simulator.cli.output import UsageError
from llm_simulator.cli.remote import error_from_payload, parse_json
from llm_simulator.wire import gemini
from llm_simulator.wire.defaults import ANTHROPIC_DEFAULT_MAX_TOKENS, DEFAULT_EMBEDDING_MODELS, DEFAULT_MODELS, Provider
from llm_simulator.wire.http import gemini_path
from llm_simulator.wire.streams import StreamEnd

Role = Literal["user", "assistant"]


@dataclass(frozen=True)
class Turn:
    """One message of a conversation, provider-neutral."""

    role: Role
    text: str


@dataclass(frozen=True)
class WireRequest:
    """A POST to send: the path (with any query) relative to the server root, and the body."""

    path: str
    body: dict[str, Any]
    stream: bool = False


def chat_request(
    provider: Provider,
    model: str | None,
    turns: Sequence[Turn],
    *,
    system: str | None = None,
    max_tokens: int | None = None,
    stream: bool = False,
) -> WireRequest:
    """A chat request in ``provider``'s shape (Chat Completions, Messages or generateContent)."""
    model = model or DEFAULT_MODELS[provider]
    if provider == "openai":
        messages: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []
        messages += [{"role": t.role, "content": t.text} for t in turns]
        body: dict[str, Any] = {"model": model, "messages": messages}
        if max_tokens is not None:
            body["max_tokens"] = max_tokens
        if stream:
            body["stream"] = True
        return WireRequest("/v1/chat/completions", body, stream)
    if provider == "anthropic":
        body = {
            "model": model,
            "max_tokens": max_tokens if max_tokens is not None else ANTHROPIC_DEFAULT_MAX_TOKENS,
            "messages": [{"role": t.role, "content": t.text} for t in turns],
        }
        if system:
            body["system"] = system
        if stream:
            body["stream"] = True
        return WireRequest("/v1/messages", body, stream)
    # Gemini: the model and streaming are chosen by the URL; the assistant's role is "model".
    body = {"contents": [{"role": "user" if t.role == "user" else "model", "parts": [{"text": t.text}]} for t in turns]}
    if system:
        body["systemInstruction"] = {"parts": [{"text": system}]}
    if max_tokens is not None:
        body["generationConfig"] = {"maxOutputTokens": max_tokens}
    action = "streamGenerateContent?alt=sse" if stream else "generateContent"
    return WireRequest(gemini_path(model, action), body, stream)


def embedding_request(provider: Provider, model: str | None, text: str) -> WireRequest:
    """An embedding request (OpenAI ``/v1/embeddings`` or Gemini ``:embedContent``)."""
    if provider == "anthropic":
        raise UsageError("anthropic has no embeddings API (use --provider openai or gemini)")
    model = model or DEFAULT_EMBEDDING_MODELS[provider]
    if provider == "openai":
        return WireRequest("/v1/embeddings", {"model": model, "input": text})
    return WireRequest(gemini_path(model, "embedContent"), {"content": {"parts": [{"text": text}]}})


def reply_text(provider: Provider, body: Any) -> str:
    """The assistant's text in a non-streamed chat response ("" when there is none)."""
    if not isinstance(body, dict):
        return ""
    if provider == "openai":
        choices = body.get("choices") or [{}]
        return str((choices[0].get("message") or {}).get("content") or "")
    if provider == "anthropic":
        return "".join(b.get("text", "") for b in body.get("content") or () if b.get("type") == "text")
    return _gemini_text(body)


def _gemini_text(frame: dict[str, Any]) -> str:
    candidates = frame.get("candidates") or [{}]
    return gemini.candidate_text(candidates[0])


def embedding_values(provider: Provider, body: Any) -> list[float]:
    """The vector of an embedding response."""
    if isinstance(body, dict):
        if provider == "openai":
            data = body.get("data") or [{}]
            values = data[0].get("embedding")
        else:
            values = (body.get("embedding") or {}).get("values")
        if isinstance(values, list):
            return [float(v) for v in values]
    return []


def stream_piece(end: StreamEnd, event: str, data: str) -> str | None:
    """The text one SSE event adds; None at the provider's terminator; raises on an in-stream error.

    ``end`` follows the provider's end rule (``llm_simulator.wire.streams``); after the stream,
    ``end.complete`` says whether it ended whole.
    """
    if end.is_terminator(event, data):
        return None
    provider = end.provider
    payload = parse_json(data.encode())
    if not isinstance(payload, dict):
        return ""
    # Every provider's in-stream error is an object with an ``error`` member.
    if event == "error" or payload.get("error"):
        raise error_from_payload("stream", payload)
    if provider == "openai":
        choices = payload.get("choices") or [{}]
        return str((choices[0].get("delta") or {}).get("content") or "")
    if provider == "anthropic":
        delta = payload.get("delta") or {}
        return str(delta.get("text") or "") if event == "content_block_delta" else ""
    end.note_frame(payload)
    return _gemini_text(payload)
