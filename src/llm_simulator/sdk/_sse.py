"""A minimal server-sent-events decoder: lines in, ``(event, data)`` messages out."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SSEMessage:
    """One dispatched event: its ``event:`` name (``message`` by default) and joined ``data:``."""

    event: str
    data: str


class SSEDecoder:
    """Feed it lines without their terminators; a blank line dispatches the pending event.

    Follows the HTML living standard's rules that matter here: ``data:`` lines are joined
    with a newline, one space after the colon is dropped, comment lines (``:``) and unknown
    fields are ignored, and an event without data is not dispatched.
    """

    def __init__(self) -> None:
        self._event = ""
        self._data: list[str] = []

    def feed(self, line: str) -> SSEMessage | None:
        """Take one line; the message it completes, if any."""
        if not line:
            return self.flush()
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        return None

    def flush(self) -> SSEMessage | None:
        """Dispatch what is pending (at a blank line, or at the end of the stream)."""
        message = SSEMessage(self._event or "message", "\n".join(self._data)) if self._data else None
        self._event = ""
        self._data = []
        return message
