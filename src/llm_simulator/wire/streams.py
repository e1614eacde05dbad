"""Each provider's rule for the end of a stream: when to stop reading, and when the answer is whole.

- OpenAI ends with ``data: [DONE]`` (Chat Completions); Anthropic with ``event: message_stop``.
  That event is the end: nothing after it is read, and a stream that closes without it was
  cut, even if a finish reason arrived before.
- Gemini (``streamGenerateContent?alt=sse``) has no terminator: the server closes the
  connection after the last frame, and the official SDK (google-genai) reads until then. The
  last frame of a whole answer carries a ``finishReason`` on its candidate; a stream that
  closes before any candidate did was cut (as the simulator's ``no_terminator`` fault does).
  Reading stops only at the close, since usage may still follow.
- Ollama (``/api/chat``) streams NDJSON: one object per line, the last with ``done: true``
  (which carries the counts). That line is the end; a stream that closes before it was cut.
- Bedrock's ConverseStream (AWS event-stream framing) ends with ``messageStop`` (the stop
  reason: the answer is whole) and then ``metadata`` (usage); reading goes on to the close
  for the usage. A stream that closes before ``messageStop`` was cut.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from llm_simulator.wire.defaults import LoadProvider

OPENAI_TERMINATOR = "[DONE]"
ANTHROPIC_TERMINATOR = "message_stop"
BEDROCK_STOP = "messageStop"


class StreamEnd:
    """Tracks one stream against its provider's end rule.

    ``over``: the terminator arrived, read no further. ``complete``: the answer is whole (set
    with ``over`` for OpenAI and Anthropic, by a candidate's ``finishReason`` for Gemini).
    """

    __slots__ = ("complete", "over", "provider")

    def __init__(self, provider: LoadProvider) -> None:
        self.provider = provider
        self.over = False
        self.complete = False

    def is_terminator(self, event: str, data: str) -> bool:
        """Whether this SSE message is the provider's terminator (noted as the end when it is)."""
        provider = self.provider
        if (provider == "openai" and data.strip() == OPENAI_TERMINATOR) or (
            provider == "anthropic" and event == ANTHROPIC_TERMINATOR
        ):
            self.over = self.complete = True
            return True
        return False

    def note_frame(self, frame: Mapping[str, Any]) -> None:
        """Note a parsed Gemini frame or Ollama line: a ``finishReason``, or ``done: true``, completes the answer."""
        if self.provider == "ollama":
            if frame.get("done") is True:
                self.over = self.complete = True
            return
        if self.provider != "gemini" or self.complete:
            return
        candidates = frame.get("candidates")
        if isinstance(candidates, list) and any(isinstance(c, dict) and c.get("finishReason") for c in candidates):
            self.complete = True

    def note_event(self, event_type: str) -> None:
        """Note a Bedrock event by its ``:event-type``: ``messageStop`` completes the answer."""
        if event_type == BEDROCK_STOP:
            self.complete = True
