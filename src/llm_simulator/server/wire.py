"""One stream's writes: the policy both stream loops (``server.streaming``, ``server.plain_stream``) use.

Every write is watched by the stalled-reader sweep (``StreamWatch.sending`` while it is in
progress: a client that stops reading can block any of them) and counted (``watch.sent``:
the frames written, plus the writes that carry no event, counted apart in ``framing`` so
that the chunk count is the events sent). Frames ready together go out in one write. The
stream's last frames end the body in that same write — one pass through the server instead
of two: its cost is per write, not per byte — except when it would be the body's first
write: granian frames a response whose first body message is also its last with a
content-length, not chunked (unless it is an event stream), and a stream's framing must not
depend on how many frames it has.
"""

from __future__ import annotations

from typing import Any

from llm_simulator.server.asgi import Send
from llm_simulator.server.connection import StreamWatch


class StreamWire:
    """One stream's writes, each watched by the stalled-reader sweep, counted as they go."""

    __slots__ = ("broken", "ended", "framing", "send", "watch")

    def __init__(self, send: Send, watch: StreamWatch) -> None:
        self.send = send
        self.watch = watch
        # Writes that carry no event (the response start, the closing empty body), so that
        # the chunk count is the events sent: watch.sent counts every write.
        self.framing = 0
        # Whether the server side failed the stream (a fault, an error frame, the drain).
        self.broken = False
        # Whether the body has been ended (by ``last_body``): no closing empty body is due then.
        self.ended = False

    async def _put(self, message: dict[str, Any], frames: int) -> None:
        """Send ``message`` watched by the sweep, then count ``frames`` as sent: every write's sequence."""
        watch = self.watch
        watch.sending = True
        await self.send(message)
        watch.sending = False
        watch.sent += frames

    async def write(self, message: dict[str, Any]) -> None:
        """Write one ASGI message (the start, an error frame, the end); one without a body is framing."""
        await self._put(message, 1)
        if not message.get("body"):
            self.framing += 1

    async def body(self, data: bytes, frames: int) -> None:
        """Write ``data`` (``frames`` frames, joined), more to come."""
        await self._put({"type": "http.response.body", "body": data, "more_body": True}, frames)

    async def frames(self, batch: list[bytes]) -> None:
        """Write ``batch`` (frames ready together) as one body message; each frame counts as sent."""
        await self.body(batch[0] if len(batch) == 1 else b"".join(batch), len(batch))

    async def last_body(self, data: bytes, frames: int) -> None:
        """Write ``data`` (the stream's last ``frames`` frames, joined) and end the body with it.

        Unless nothing of the body has been written yet (see the module docstring): then the
        body stays open and the caller's closing empty write ends it.
        """
        if self.watch.sent == self.framing:  # nothing of the body written yet
            await self.body(data, frames)
            return
        await self._put({"type": "http.response.body", "body": data}, frames)
        self.ended = True

    async def last(self, batch: list[bytes]) -> None:
        """Write ``batch`` (the stream's last frames) and end the body with it (``last_body``)."""
        await self.last_body(b"".join(batch), len(batch))
