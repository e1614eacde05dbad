"""Internal requests: one request served by the app's own request handling, in process.

Batch jobs answer each of their lines this way, so a line meets exactly what a live
request meets (routing, auth, chaos, fixtures, seeding, rate limits, the latency model)
and nothing in the batch code depends on how the server's pipeline is built. The only
interface used is ASGI: the server binds its application once it exists (providers are
built before it), and ``call`` drives one HTTP exchange through it with a synthetic scope.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any, Protocol

from llm_simulator.core.record import RequestRecord
from llm_simulator.engine.timing import compressed

Message = MutableMapping[str, Any]
Asgi = Callable[[Message, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]]
# A header marking a request as internal (so logs and request records can tell batch lines apart).
INTERNAL_HEADER = "x-simulator-internal"


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
        path, _, query = path.partition("?")
        raw_headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        raw_headers.append((b"content-length", str(len(body)).encode()))
        raw_headers.append((INTERNAL_HEADER.encode(), b"batch"))
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
