"""Internal requests: one request served by the app's own request handling, in process.

Batch jobs answer each of their lines this way, so a line meets exactly what a live
request meets (routing, auth, chaos, fixtures, seeding, rate limits, the latency model)
and nothing in the batch code depends on how the server's pipeline is built. The only
interface used is ASGI: the server binds its application once it exists (providers are
built before it), and ``call`` drives one HTTP exchange through it with a synthetic scope.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any, Protocol

from llm_simulator.core.record import RequestRecord
from llm_simulator.engine.timing import compressed

Message = MutableMapping[str, Any]
Asgi = Callable[[Message, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]]
# Where a streamed internal request's body goes as the app writes it (``InternalDispatch.open``).
Sink = Callable[[bytes], Awaitable[None]]
# A header marking a request as internal (so logs and request records can tell batch lines apart).
INTERNAL_HEADER = "x-simulator-internal"
# The scope key of an internal request's endpoint label (a WebSocket turn's), read by routing.
ENDPOINT_SCOPE_KEY = "llm_simulator.endpoint"
# Seconds a hung-up internal request gets to finish its bookkeeping before it is cancelled.
_CLOSE_WAIT_S = 5.0


class ReaderGone(Exception):
    """Raised by a ``Sink`` whose reader has gone: the request is then hung up, as a client's would be."""


@dataclass(frozen=True, slots=True)
class InternalResponse:
    """What an internal request got: its status, its headers (lower-cased) and its whole body."""

    status: int
    headers: dict[str, str]
    body: bytes


class Reporter(Protocol):
    """Where work served outside an HTTP exchange reports its telemetry record (the server's telemetry)."""

    def begin(self, rec: RequestRecord, headers: Mapping[str, str], query: Mapping[str, str]) -> None:
        """The work has started: note its caller and trace, announce it."""
        ...

    def conclude(
        self, rec: RequestRecord, duration_s: float, query: Mapping[str, str], headers: Mapping[str, str], body: bytes
    ) -> None:
        """The work has ended (``rec.status`` set): stats, metrics, events, the request log."""
        ...


class InternalDispatch:
    """Sends requests through the app it is bound to (``bind`` is called by the server).

    It is also the providers' way to the server's telemetry for work no HTTP exchange
    carries (a background response): ``reporter``, bound with the app.
    """

    def __init__(self) -> None:
        self._app: Asgi | None = None
        self.reporter: Reporter | None = None

    def bind(self, app: Asgi, reporter: Reporter | None = None) -> None:
        """Serve internal requests with ``app`` from now on; report detached work to ``reporter``."""
        self._app = app
        self.reporter = reporter

    @property
    def bound(self) -> bool:
        """Whether an app serves internal requests."""
        return self._app is not None

    def open(
        self, path: str, headers: Mapping[str, str], body: bytes, *, endpoint: str, sink: Sink | None = None
    ) -> InternalStream:
        """A streamed ``POST path`` served in process, read as it is written (``InternalStream``).

        A WebSocket turn is served this way: it meets exactly what an HTTP request meets
        (routing, auth, chaos, rate limits, fixtures, the engine's timing, telemetry), and
        its record and metrics carry ``endpoint`` (``realtime``, ``live``, ...). With a
        ``sink``, a successful stream's body is handed to it in the app's own write, each
        chunk as it is released (no queue, no second task per chunk).
        """
        app = self._app
        if app is None:
            raise RuntimeError("no application bound for internal requests")
        return InternalStream(app, _scope("POST", path, headers, body, endpoint), body, sink)

    async def call(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes, *, time_scale: float = 1.0
    ) -> InternalResponse:
        """Serve one request in process; a stream is read to its end (its body is the frames).

        ``time_scale`` compresses the request's latency (``engine.timing.compressed``): its
        token schedule is the model's, every wait is ``time_scale`` times as long.
        """
        app = self._app
        if app is None:
            raise RuntimeError("no application bound for internal requests")
        scope = _scope(method, path, headers, body, None)
        sent = False
        never = asyncio.Event()

        async def receive() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await never.wait()  # the internal client never disconnects
            return {"type": "http.disconnect"}

        status = 500
        response_headers: dict[str, str] = {}
        chunks: list[bytes] = []

        async def send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                for name, value in message.get("headers", []):
                    response_headers[name.decode("latin-1").lower()] = value.decode("latin-1")
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        if time_scale == 1.0:
            await app(scope, receive, send)
        else:
            with compressed(time_scale):
                await app(scope, receive, send)
        return InternalResponse(status, response_headers, b"".join(chunks))


def _scope(method: str, path: str, headers: Mapping[str, str], body: bytes, endpoint: str | None) -> dict[str, Any]:
    """The synthetic ASGI ``http`` scope of an internal request (``endpoint`` relabels its metrics)."""
    path, _, query = path.partition("?")
    raw_headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    raw_headers.append((b"content-length", str(len(body)).encode()))
    raw_headers.append((INTERNAL_HEADER.encode(), b"batch" if endpoint is None else endpoint.encode()))
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode("latin-1"),
        "headers": raw_headers,
        "client": ("127.0.0.1", 0),
        "server": ("127.0.0.1", 0),
    }
    if endpoint is not None:
        scope[ENDPOINT_SCOPE_KEY] = endpoint
    return scope


class InternalStream:
    """One streamed internal request: ``start`` waits for the status, ``chunks`` yields the body.

    The app runs in its own task, writing into a queue as the engine releases frames, so
    the reader sees each frame at its due time; with a ``sink``, a successful (< 400)
    stream's chunks go to it instead, awaited inside the app's write (``finished`` then
    waits for the end). ``cut`` is True when the app dropped the connection mid-body (a
    chaos disconnect) instead of ending it; ``close`` abandons the request as a client that
    hangs up does (the app sees ``http.disconnect``), and so does a sink raising ``ReaderGone``.
    """

    def __init__(self, app: Asgi, scope: dict[str, Any], body: bytes, sink: Sink | None = None) -> None:
        self.status = 500
        self.headers: dict[str, str] = {}
        self.cut = False
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._started = asyncio.Event()
        self._gone = asyncio.Event()
        self._body: bytes | None = body
        self._sink = sink
        self._task = asyncio.ensure_future(self._run(app, scope))

    async def _run(self, app: Asgi, scope: dict[str, Any]) -> None:
        try:
            await app(scope, self._receive, self._send)
        except Exception:  # a deliberate cut (ConnectionCut) or the app's failure: the body ends early
            self.cut = True
        finally:
            self._started.set()
            self._queue.put_nowait(None)

    async def _receive(self) -> Message:
        body, self._body = self._body, None
        if body is not None:
            return {"type": "http.request", "body": body, "more_body": False}
        await self._gone.wait()
        return {"type": "http.disconnect"}

    async def _send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = int(message["status"])
            for name, value in message.get("headers", []):
                self.headers[name.decode("latin-1").lower()] = value.decode("latin-1")
            self._started.set()
        elif message["type"] == "http.response.body":
            chunk = message.get("body", b"")
            if not chunk:
                return
            if self._sink is None or self.status >= 400:
                self._queue.put_nowait(chunk)
            elif not self._gone.is_set():  # after a hang-up nothing more reaches the reader
                await self._deliver(self._sink, chunk)

    async def _deliver(self, sink: Sink, chunk: bytes) -> None:
        try:
            await sink(chunk)
        except ReaderGone:
            # Hang up as a client does: the app's disconnect watcher cancels this write and
            # records the stream as the client's leaving (499), not as the model's failure.
            self._gone.set()
            await asyncio.sleep(_CLOSE_WAIT_S)
            raise OSError("the internal reader has gone") from None

    async def start(self) -> int:
        """The response's status, once the app has started answering."""
        await self._started.wait()
        return self.status

    async def finished(self) -> None:
        """Wait for the app to end the request (a sink has had every chunk by then)."""
        while await self._queue.get() is not None:
            pass

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body as the app writes it, to its end (or its cut)."""
        while (chunk := await self._queue.get()) is not None:
            yield chunk

    async def close(self) -> None:
        """Hang up: the app sees a disconnect; wait (briefly) for it to finish its bookkeeping."""
        self._gone.set()
        if not self._task.done():
            try:
                await asyncio.wait_for(asyncio.shield(self._task), _CLOSE_WAIT_S)
            except (TimeoutError, asyncio.CancelledError):
                self._task.cancel()
