"""The connection-level pieces of the server: deliberate cuts, stream write watches, logs.

A chaos ``disconnect`` (or a client that stopped reading) must reach the client as a
dropped connection, which ASGI can only express by raising out of the application; these
helpers do that, keep the servers' logs free of the resulting tracebacks, and write the
access log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Callable
from typing import Any

from llm_simulator.infra.rng import IDS
from llm_simulator.server.asgi import Receive, Send

log = logging.getLogger("llm_simulator.server")
access_log = logging.getLogger("llm_simulator.access")


class StreamWatch:
    """Write progress of one stream, for the stalled-reader sweep, and whether its client left."""

    __slots__ = ("gone", "seen", "sending", "sent", "stalled")

    def __init__(self) -> None:
        self.sending = False
        self.sent = 0
        self.seen = -1
        self.stalled = False
        # Set by ``DisconnectWatch`` before it cancels the stream: a flag rather than an
        # ``asyncio.Event`` (≈ 0.75 KB with its waiters' deque, per idle open stream), since
        # nothing waits for it, the stream only reads it once it was cancelled.
        self.gone = False


class ConnectionCut(Exception):
    """Raised out of the ASGI app on purpose: the server then drops the connection mid-body.

    That is how a chaos ``disconnect`` reaches the client as the real failure does: an
    incomplete chunked (or content-length) body, not a clean end. ``client_fault`` marks a
    cut made because the client stopped reading (not the model's failure).
    """

    def __init__(self, request_id: str, *, client_fault: bool = False) -> None:
        # A mark unique to this cut, as the exception's text: the log filter recognises the
        # cut's report by it, whatever text the server wraps around the exception. A request
        # id the server made is random enough to be the mark; a client's gets a random suffix.
        self.request_id = request_id
        self.mark = request_id if _GENERATED_ID.fullmatch(request_id) else f"{request_id} (cut-{IDS.hex(8)})"
        super().__init__(self.mark)
        self.client_fault = client_fault
        _UNREPORTED[self.mark] = None
        while len(_UNREPORTED) > MAX_UNREPORTED:  # a server that never reports them
            del _UNREPORTED[next(iter(_UNREPORTED))]


# The ids ``exchange.new_request_id`` makes.
_GENERATED_ID = re.compile(r"req_[0-9a-f]{24}")
# Marks of deliberate cuts whose server error report has not been seen yet (oldest first).
_UNREPORTED: dict[str, None] = {}
MAX_UNREPORTED = 1024


class HideDeliberateCuts(logging.Filter):
    """Drop the servers' "application raised" error for a deliberate cut (logged once, at info).

    uvicorn passes the exception as ``exc_info``; granian logs the formatted traceback as the
    message, from a child logger, so the filter sits on the handlers too. A report is
    recognised by the exception itself or by the mark of a cut this process made, never by
    the wording of a server's traceback: a real error is kept whatever it mentions.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """False for a record about a deliberate ``ConnectionCut``."""
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, ConnectionCut):
            _UNREPORTED.pop(exc.mark, None)
            return False
        if record.levelno < logging.ERROR or not _UNREPORTED:
            return True
        text = str(record.msg)
        for mark in _UNREPORTED:
            if mark in text:
                del _UNREPORTED[mark]
                return False
        return True


# The loggers granian and uvicorn report an exception escaping the application on.
SERVER_ERROR_LOGGERS = ("_granian", "uvicorn.error")


def hide_deliberate_cuts() -> None:
    """Install ``HideDeliberateCuts`` on the servers' error loggers and their handlers (once)."""
    for name in SERVER_ERROR_LOGGERS:
        logger = logging.getLogger(name)
        for target in (logger, *logger.handlers):
            if not any(isinstance(f, HideDeliberateCuts) for f in target.filters):
                target.addFilter(HideDeliberateCuts())


def printable(text: str) -> str:
    """``text`` with control characters escaped, so a path cannot forge log lines."""
    return text if text.isprintable() else text.encode("unicode_escape").decode("ascii")


def log_access(
    request_id: str, method: str, path: str, status: int, elapsed: float, provider: str, endpoint: str
) -> None:
    """One access line: readable as text, and each field its own key in JSON lines."""
    ms = round(elapsed * 1000, 1)
    fields = {
        "request_id": request_id,
        "method": method,
        "path": path,
        "status": status,
        "duration_ms": ms,
        "provider": provider,
        "endpoint": endpoint,
    }
    access_log.info("%s %s %d %.1fms %s", method, printable(path), status, ms, request_id, extra=fields)


async def cut_json_body(send: Send, request_id: str) -> None:
    """Start a JSON response and drop the connection inside its body (a non-streamed ``disconnect``)."""
    log.info("chaos: connection cut in response %s", request_id)
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", b"4096"),
        (b"x-request-id", request_id.encode()),
    ]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b'{"id":', "more_body": True})
    raise ConnectionCut(request_id)


async def close_frames(frames: Any) -> None:
    """Close a stream's frame generator (its ``finally`` clauses run), ignoring its errors."""
    aclose: Callable[[], Any] | None = getattr(frames, "aclose", None)
    if aclose is not None:
        with contextlib.suppress(Exception):
            await aclose()


class DisconnectWatch:
    """Cancels a streaming task when its client disconnects: a callback on each ``receive``.

    Rather than a task awaiting ``receive()`` in a loop: granian's ``receive()`` hands back a
    future, which ``asyncio.ensure_future`` passes through as it is, so an open stream holds
    that future and this object, not a second task with its coroutine (≈ 0.7 KB per idle
    stream, and a task created and stepped per request). A ``receive`` that is a coroutine
    (uvicorn's) is wrapped in a task per message, as before. ``watch.gone`` is set before the
    cancel, so the stream knows why it was cancelled.
    """

    __slots__ = ("_pending", "_receive", "_task", "_watch")

    def __init__(self, receive: Receive, task: asyncio.Task[Any], watch: StreamWatch) -> None:
        self._receive = receive
        self._task = task
        self._watch = watch
        self._pending: asyncio.Future[Any] | None = None
        self._next()

    def _next(self) -> None:
        try:
            pending = asyncio.ensure_future(self._receive())
        except Exception:  # the server's receive failed at once: nothing left to watch
            self._pending = None
            return
        self._pending = pending
        pending.add_done_callback(self._received)

    def _received(self, pending: asyncio.Future[Any]) -> None:
        if pending is not self._pending or pending.cancelled() or pending.exception() is not None:
            return  # closed, or the server's receive failed: stop watching
        message = pending.result()
        if isinstance(message, dict) and message.get("type") == "http.disconnect":
            self._pending = None
            self._watch.gone = True
            self._task.cancel()
            return
        self._next()

    def close(self) -> None:
        """Stop watching (the stream has ended): the pending ``receive`` is cancelled."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.cancel()
