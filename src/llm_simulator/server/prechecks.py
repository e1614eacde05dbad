"""The ordered checks a routed request passes before its handler runs, and the body read.

Each check is a small step that raises the neutral ``SimulatorError`` the request meets
(the route's provider renders it). A step that needs to wait returns its awaitable, so the
synchronous ones cost a call each and no coroutine. In order:

1. ``refuse_unrouted``: a 404 for an unknown path, a 405 (with ``allow``) for a wrong method;
2. ``check_sizes``: a 414 for an over-long URL, a 431 for over-large headers;
3. ``check_capacity``: the provider's "overloaded" past ``security.max_concurrent_requests``
   (health checks, scrapes and the admin API get through a full house);
4. ``authenticate``: the security gate (keys, roles, per-key throttles), when auth is on
   or the request is for the admin API.

Then ``read_body`` reads the body, bounded by ``server.max_body_bytes`` (a 413), under the
body deadline the server sets around it.
"""

from __future__ import annotations

from collections.abc import Awaitable

from llm_simulator.core.http import Headers
from llm_simulator.security.gate import ADMIN_ENDPOINT, Gate
from llm_simulator.server.asgi import Receive
from llm_simulator.server.bookkeeping import Bookkeeping
from llm_simulator.server.errors import no_route, too_large
from llm_simulator.server.exchange import ServerExchange
from llm_simulator.server.hardening import Hardening
from llm_simulator.telemetry.hub import SYSTEM_ENDPOINTS


class ClientGone(Exception):
    """The client disconnected before the request was read."""


class PreChecks:
    """The checks between routing and the handler, in the module doc's order (``run``).

    ``Handling.answer`` runs them (``run``) in its own coroutine, awaiting what they return,
    so the handler's frames sit no deeper than before.
    """

    def __init__(self, hardening: Hardening, gate: Gate, books: Bookkeeping, max_body: int) -> None:
        self._hardening = hardening
        self._gate = gate
        self._books = books
        self.max_body = max_body

    def run(self, exchange: ServerExchange) -> Awaitable[object] | None:
        """Every check in order: None when all passed, else the awaitable of the last one.

        One call where the server would otherwise loop over four: the synchronous checks
        raise, and only authentication may need a wait (it comes last).
        """
        if exchange.route is None:
            self.refuse_unrouted(exchange)
        self.check_sizes(exchange)
        self.check_capacity(exchange)
        return self.authenticate(exchange)

    def refuse_unrouted(self, exchange: ServerExchange) -> None:
        """A 404 when nothing serves the path, a 405 naming the methods it allows."""
        if exchange.route is None:
            allowed = exchange.allowed
            if allowed:
                extra: Headers = [(b"allow", ", ".join(allowed).encode())]
                exchange.extra_headers = extra
            raise no_route(exchange.method, exchange.path, allowed)

    def check_sizes(self, exchange: ServerExchange) -> None:
        """A 414 or 431 for a URL or headers past the limits."""
        scope = exchange.scope
        self._hardening.check_sizes(exchange.path, scope.get("query_string", b""), scope["headers"])

    def check_capacity(self, exchange: ServerExchange) -> None:
        """The provider's "overloaded" past the concurrency cap; probes and operators get through."""
        if exchange.endpoint not in SYSTEM_ENDPOINTS:
            self._hardening.check_capacity(self._books.in_flight)

    def authenticate(self, exchange: ServerExchange) -> Awaitable[object] | None:
        """The security gate's check, when auth is on or the request is for the admin API."""
        endpoint = exchange.endpoint
        if not (self._gate.required or endpoint == ADMIN_ENDPOINT):
            return None
        client = exchange.scope.get("client")
        return self._gate.check(
            exchange.method, exchange.path, endpoint, exchange.headers, exchange.query, client[0] if client else None
        )

    async def read_body(self, exchange: ServerExchange, receive: Receive) -> bytes:
        """The whole body: a 413 past ``max_body`` (declared or counted), ``ClientGone`` on a disconnect."""
        declared = exchange.headers.get("content-length")
        length = int(declared) if declared is not None and declared.isdigit() else -1
        if length > self.max_body:
            raise too_large(self.max_body)
        if exchange.method == "GET":
            return b""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientGone
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                raise too_large(self.max_body)
            chunks.append(chunk)
            # A body of a declared length is whole once that many bytes have come. granian hands
            # over a body's one data frame with ``more_body`` set and answers the next receive
            # with an empty last message, after another trip through its threads (runtime, then
            # a GIL hand-over): under load as long as the first (bench/streams.py at 2000
            # streams: tens of ms of every request's TTFT), so it is not asked for.
            if not message.get("more_body", False) or size == length:
                break
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)
