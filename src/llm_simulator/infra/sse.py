r"""An incremental Server-Sent Events decoder: lines in (terminators removed), events out.

Shared by everything that reads event streams (the load generator, the SDK, the CLI client).
Follows the WHATWG event-stream rules that matter here: ``field: value`` lines (one optional
space after the colon is dropped), ``data`` lines joined with ``\n``, comment lines starting
with ``:`` ignored, unknown fields ignored, and an event dispatched at a blank line only when
it carries data.
"""

from __future__ import annotations

from typing import NamedTuple


class SseEvent(NamedTuple):
    """One dispatched event: its ``event:`` name ('' when none was given) and joined ``data:``."""

    event: str
    data: str


class SseDecoder:
    """Feed it one line at a time; ``flush`` at the end of the stream."""

    __slots__ = ("_data", "_event")

    def __init__(self) -> None:
        self._event = ""
        self._data: list[str] = []

    def feed(self, line: str) -> SseEvent | None:
        """Consume one line; the event it completes, if any."""
        if not line:
            return self.flush()
        if line[0] == ":":
            return None
        name, sep, value = line.partition(":")
        if sep and value[:1] == " ":
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        return None

    def flush(self) -> SseEvent | None:
        """Dispatch what is buffered (at a blank line, or at the end of the stream)."""
        event, data = self._event, self._data
        self._event = ""
        if not data:
            return None
        self._data = []
        return SseEvent(event, "\n".join(data))
