"""Responding: what goes on the wire for an exchange, one arm per kind of answer.

- a JSON body (an answer or an error in the provider's shape), with the exchange's extra
  headers (rate-limit state, ``allow``) and the hardening headers (security, CORS);
- an event stream (``server/streaming.py``, whose faults have their own wire arms);
- a CORS preflight's 204;
- chaos before or instead of an answer: a ``hang`` (nothing until the client leaves, or the
  provider's 503 at the drain deadline) and a non-streamed ``disconnect`` (a JSON body cut
  short by a dropped connection).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable

from llm_simulator.core.http import JsonResponse, Response, StreamResponse
from llm_simulator.server.asgi import Receive, Send
from llm_simulator.server.connection import cut_json_body
from llm_simulator.server.errors import shutting_down
from llm_simulator.server.exchange import ServerExchange
from llm_simulator.server.hardening import Hardening
from llm_simulator.server.lifecycle import Lifecycle
from llm_simulator.server.streaming import StreamSender
from llm_simulator.server.system_routes import Readiness
from llm_simulator.telemetry.stats import Stats


async def send_json(send: Send, response: JsonResponse, exchange: ServerExchange) -> None:
    """Send a complete JSON response (with ``x-request-id`` and its length), then note its status."""
    headers = response.headers
    # Every response carries the simulator's correlation id, whatever the provider sets.
    # (A loop rather than any() over a generator: half the cost, once per response.)
    for name, _ in headers:
        if name == b"x-request-id":
            break
    else:
        headers.append((b"x-request-id", exchange.request_id.encode()))
    if response.status != 204:  # a 204 carries no Content-Length (RFC 9110)
        headers.append((b"content-length", str(len(response.body)).encode()))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})
    exchange.status = response.status


class Responder:
    """Writes each exchange's answer and records its status (and whether its stream broke)."""

    def __init__(
        self, hardening: Hardening, streams: StreamSender, lifecycle: Lifecycle, readiness: Readiness, stats: Stats
    ) -> None:
        self._hardening = hardening
        self._streams = streams
        self._lifecycle = lifecycle
        self._readiness = readiness
        self._stats = stats

    def respond(self, exchange: ServerExchange, response: Response, send: Send, receive: Receive) -> Awaitable[None]:
        """Sending ``response`` (a JSON body or an event stream) with the exchange's headers.

        Returns the sending coroutine rather than being one, so a stream's frames (whose
        every suspension passes through each frame above them) sit no deeper than before.
        """
        headers = response.headers
        if exchange.extra_headers:
            headers.extend(exchange.extra_headers)
        self._hardening.add_headers(headers, exchange.origin)
        if isinstance(response, StreamResponse):
            return self._streams.send(send, receive, response, exchange)
        return send_json(send, response, exchange)

    async def preflight(self, exchange: ServerExchange, send: Send) -> bool:
        """Answer a CORS preflight we allow with its 204 (counted, not routed); whether it was one.

        The admin API and the dashboard's data get none: browsers must not reach them.
        """
        if exchange.origin is None or exchange.path.startswith(("/admin", "/dashboard/data")):
            return False
        headers = self._hardening.preflight(exchange.headers)
        if headers is None:
            return False
        await send_json(send, JsonResponse(204, b"", headers), exchange)
        self._stats.record_request("cors", "preflight", 204, time.monotonic() - exchange.started)
        return True

    async def hang(self, exchange: ServerExchange, send: Send, receive: Receive) -> None:
        """Answer nothing until the client gives up (chaos ``hang``); 499 when it does.

        The hung request counts as in flight, so a drain ends it at its deadline with the
        provider's 503 rather than leaving the client hanging past shutdown.
        """
        task = asyncio.current_task()
        assert task is not None
        self._lifecycle.enter(task)
        try:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    exchange.status = 499
                    break
        except asyncio.CancelledError:
            if not self._readiness.draining:
                raise
            refusal = exchange.provider.render_error(shutting_down(), exchange.request_id)
            await send_json(send, refusal, exchange)
        finally:
            self._lifecycle.leave(task)
        exchange.broken = True

    async def cut(self, exchange: ServerExchange, send: Send) -> None:
        """A non-streamed chaos ``disconnect``: a JSON body dropped mid-way (raises ``ConnectionCut``)."""
        exchange.broken = True
        exchange.status = 499
        await cut_json_body(send, exchange.request_id)
