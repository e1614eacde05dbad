"""From a routed exchange to the response to send: the checks, the body, the handler, failures.

``Handling.answer`` runs the ordered pre-checks (``server/prechecks.py``), reads the body
and calls the route's handler under one timer (first the body's deadline, so a client
trickling bytes cannot hold a slot open, then the handler's, so a non-streamed answer or a
stream's start that takes too long ends in the provider's 504), and turns every failure
into the owning provider's error shape. Chaos that replaces the answer (a hang, a cut JSON
body) and a client gone mid-body are answered here; they leave nothing more to send.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from llm_simulator.core.errors import SimulatorError
from llm_simulator.core.faults import HangUp, StreamCut
from llm_simulator.core.http import HttpRequest, Response
from llm_simulator.security.gate import AuthError
from llm_simulator.server.asgi import Receive, Send
from llm_simulator.server.errors import body_timeout, incomplete_body, internal_error, request_timeout
from llm_simulator.server.exchange import ServerExchange
from llm_simulator.server.prechecks import ClientGone, PreChecks
from llm_simulator.server.responding import Responder

log = logging.getLogger("llm_simulator.server")


class Handling:
    """Produces each exchange's response (see the module doc)."""

    def __init__(
        self, checks: PreChecks, responder: Responder, body_timeout_s: float, request_timeout_s: float
    ) -> None:
        self._checks = checks
        self._responder = responder
        self.body_timeout_s = body_timeout_s
        self.request_timeout_s = request_timeout_s

    async def answer(self, exchange: ServerExchange, receive: Receive, send: Send) -> Response | None:
        """The response to send, or None when the exchange has been answered already.

        One coroutine for the checks, the body and the handler: every frame between the
        server and the handler is paid again each time the handler's work suspends.
        """
        provider = exchange.provider
        request_id = exchange.request_id
        try:
            waiting = self._checks.run(exchange)
            if waiting is not None:
                await waiting
            route = exchange.route
            assert route is not None, "refuse_unrouted let an unrouted request through"
            # One timer, rescheduled between the body and the handler.
            deadline = asyncio.timeout(self.body_timeout_s)
            reading = True
            try:
                async with deadline:
                    exchange.body = body = await self._checks.read_body(exchange, receive)
                    reading = False
                    deadline.reschedule(asyncio.get_running_loop().time() + self.request_timeout_s)
                    request = HttpRequest(
                        exchange.method,
                        exchange.path,
                        exchange.query,
                        exchange.headers,
                        body,
                        exchange.request_id,
                        exchange.params,
                        exchange.endpoint,
                        exchange,
                        exchange.scope.get("query_string", b""),
                    )
                    return await route.handler(request)
            except TimeoutError:
                error = body_timeout(self.body_timeout_s) if reading else request_timeout(self.request_timeout_s)
                raise error from None
        except SimulatorError as exc:
            record = exchange.telemetry
            # A type the handler chose (strict mode's "strict_no_fixture") stays; else the error's kind.
            if not record.error_type:
                record.error_type = str(exc.kind)
            if isinstance(exc, AuthError):
                record.auth_failure = exc.reason
            return provider.render_error(exc, request_id)
        except HangUp:
            await self._responder.hang(exchange, send, receive)
        except StreamCut:
            await self._responder.cut(exchange, send)
        except ClientGone:
            # The client may only have stopped sending (a truncated body): tell it why, in
            # its provider's shape, if it still listens, rather than leave the server to
            # answer a bare 500. Recorded as nginx's "client closed request".
            with contextlib.suppress(Exception):
                incomplete = provider.render_error(incomplete_body(), request_id)
                await self._responder.respond(exchange, incomplete, send, receive)
            exchange.status = 499
        except Exception:
            log.exception(
                "unhandled error in %s %s (%s)",
                exchange.method,
                exchange.path,
                request_id,
                extra={"request_id": request_id},
            )
            exchange.telemetry.error_type = "server_error"
            return provider.render_error(internal_error(), request_id)
        return None
