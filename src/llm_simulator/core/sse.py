"""The one server-sent-events frame encoder (``infra/sse.py`` holds the clients' decoder)."""

from __future__ import annotations

DATA = b"data: "
END = b"\n\n"


def sse_frame(data: bytes, event: bytes | None = None) -> bytes:
    """One SSE event: an optional ``event:`` line, one ``data:`` line, the blank line."""
    if event is None:
        return DATA + data + END
    return b"event: " + event + b"\n" + DATA + data + END
