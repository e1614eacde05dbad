"""One WebSocket connection over ASGI: accept, read text messages, send JSON, close.

The ASGI ``websocket`` scope is served by the same granian or uvicorn worker as HTTP;
this wrapper is the only place that speaks its messages. A message is returned as a
``Frame``: its text, or a note of what was wrong with it (binary where text was expected,
larger than the limit), so each protocol can answer with its own error event instead of
dropping the socket.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import orjson

from llm_simulator.server.asgi import Receive, Scope, Send

# Close codes (RFC 6455 section 7.4.1): normal, policy violation, too big, internal error.
CLOSE_NORMAL = 1000
CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009
CLOSE_INTERNAL = 1011
# A close frame's reason is at most 123 bytes of UTF-8.
MAX_REASON_BYTES = 123


@dataclass(frozen=True, slots=True)
class Frame:
    """One client message: ``text``, or ``problem`` (``binary`` or ``oversize``) and no text."""

    text: str = ""
    problem: str = ""


class Disconnected(Exception):
    """The client closed the connection (or it dropped)."""


class WebSocket:
    """The server side of one WebSocket connection (the ASGI ``websocket`` scope)."""

    def __init__(self, scope: Scope, receive: Receive, send: Send, max_message_bytes: int) -> None:
        self.scope = scope
        self.path: str = scope["path"]
        self.headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        raw_query: bytes = scope.get("query_string", b"")
        self.query: dict[str, str] = dict(parse_qsl(raw_query.decode("latin-1"))) if raw_query else {}
        client = scope.get("client")
        self.client_host: str | None = client[0] if client else None
        self._receive = receive
        self._send = send
        self._max = max_message_bytes
        self.closed = False

    async def accept(self) -> bool:
        """Complete the handshake; False if the client left before it could."""
        message = await self._receive()
        if message["type"] != "websocket.connect":
            self.closed = True
            return False
        await self._send({"type": "websocket.accept"})
        return True

    async def receive(self) -> Frame:
        """The next message (raises ``Disconnected`` once the client has gone)."""
        while True:
            message = await self._receive()
            kind = message["type"]
            if kind == "websocket.disconnect":
                self.closed = True
                raise Disconnected
            if kind != "websocket.receive":
                continue
            text = message.get("text")
            if text is None:
                data: bytes = message.get("bytes") or b""
                return Frame(problem="oversize" if len(data) > self._max else "binary")
            if len(text) > self._max and len(text.encode()) > self._max:
                return Frame(problem="oversize")
            return Frame(text=text)

    async def send_json(self, payload: dict[str, Any]) -> None:
        """Send one JSON text message (raises ``Disconnected`` if the socket is closed)."""
        await self.send_text(orjson.dumps(payload).decode())

    async def send_text(self, text: str) -> None:
        """Send one text message (raises ``Disconnected`` if the socket is closed)."""
        if self.closed:
            raise Disconnected
        try:
            await self._send({"type": "websocket.send", "text": text})
        except (OSError, RuntimeError) as exc:  # the server's way of saying the client has gone
            self.closed = True
            raise Disconnected from exc

    async def close(self, code: int = CLOSE_NORMAL, reason: str = "") -> None:
        """Close with ``code`` and ``reason`` (cut to the protocol's limit); once."""
        if self.closed:
            return
        self.closed = True
        reason = reason.encode()[:MAX_REASON_BYTES].decode(errors="ignore")
        with contextlib.suppress(OSError, RuntimeError):  # already gone
            await self._send({"type": "websocket.close", "code": code, "reason": reason})


async def stop(task: asyncio.Task[None] | None) -> None:
    """Cancel a session's running turn (if any) and wait for it to wind down."""
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Disconnected):
            await task


def parse_object(text: str | bytes) -> dict[str, Any] | None:
    """The JSON object in ``text``, or None when it is not JSON (or not UTF-8) or not an object."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None
