"""The SDK's result types and the names of what it can talk to."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from llm_simulator.wire.defaults import Provider

__all__ = ["ChatResult", "Message", "Prompt", "Provider", "StreamEvent"]

# Provider: a wire format the SDK speaks (OpenAI chat completions, Anthropic messages,
# Gemini generateContent), defined once for every client in llm_simulator.wire.

Message = Mapping[str, Any]
"""A chat message ``{"role": "system" | "user" | "assistant", "content": str}``.

String contents are translated to each provider's shape; any other content is sent as is
(so it must already be in the chosen provider's own shape).
"""

Prompt = str | Sequence[Message]
"""A single user message as text, or a list of messages."""


@dataclass(frozen=True, slots=True)
class ChatResult:
    """One complete (non-streamed) chat answer.

    ``finish_reason`` is the provider's own value (``stop``/``length``, ``end_turn``/
    ``max_tokens``, ``STOP``/``MAX_TOKENS``); ``raw`` is the whole response body.
    """

    text: str
    model: str
    finish_reason: str | None
    input_tokens: int | None
    output_tokens: int | None
    raw: dict[str, Any] = field(repr=False)


@dataclass(frozen=True, slots=True)
class StreamEvent:
    """One piece of a streamed answer: a text delta, or (with empty text) the finish reason."""

    text: str
    finish_reason: str | None = None
