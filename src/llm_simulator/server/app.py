"""The ASGI application: a framework-free hot path from request bytes to provider handlers.

``SimulatorApp`` is the composition root: it builds the simulator, telemetry, providers,
router, gate and the admin route groups (each from the narrow collaborators it needs), and
leaves the lifespan and draining to ``server/lifecycle.py``. Per request: match the route,
read the body (bounded), call the provider's handler, and write its JSON or its event
stream. Every failure ends in the owning provider's error shape: before the first byte as a
normal HTTP error, after it as the provider's in-stream error.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import re
import time
from typing import Any
from urllib.parse import parse_qsl

from llm_simulator.adapters.metrics import AdapterCollector
from llm_simulator.adapters.registry import AdapterRegistry
from llm_simulator.config.schema import SimulatorConfig
from llm_simulator.core.errors import SimulatorError
from llm_simulator.core.faults import FaultAction, HangUp, StreamCut
from llm_simulator.core.http import HttpRequest, JsonResponse, Route, StreamResponse
from llm_simulator.core.record import CURRENT, RequestRecord
from llm_simulator.engine.simulator import Simulator
from llm_simulator.infra.rng import IDS
from llm_simulator.providers.base import Provider
from llm_simulator.providers.internal import InternalDispatch
from llm_simulator.providers.registry import build_providers
from llm_simulator.security.gate import ADMIN_ENDPOINT, AuthError, Gate
from llm_simulator.server.adapter_routes import AdapterRoutes
from llm_simulator.server.asgi import Receive, Scope, Send
from llm_simulator.server.chaos_routes import ChaosRoutes
from llm_simulator.server.connection import (
    ConnectionCut,
    StreamWatch,
    cancel_on_disconnect,
    close_frames,
    cut_json_body,
    log_access,
)
from llm_simulator.server.dashboard import DashboardRoutes
from llm_simulator.server.engine_routes import EngineRoutes
from llm_simulator.server.errors import (
    body_timeout,
    incomplete_body,
    internal_error,
    no_route,
    request_timeout,
    shutting_down,
    too_large,
)
from llm_simulator.server.hardening import Hardening
from llm_simulator.server.lifecycle import Lifecycle
from llm_simulator.server.metrics_routes import MetricsRoutes
from llm_simulator.server.openapi import build_openapi
from llm_simulator.server.request_routes import RequestRoutes
from llm_simulator.server.routing import Match, Router
from llm_simulator.server.system_routes import Readiness, SystemRoutes
from llm_simulator.telemetry.hub import SYSTEM_ENDPOINTS, Telemetry
from llm_simulator.telemetry.setup import build_telemetry
from llm_simulator.telemetry.stats import Stats

log = logging.getLogger("llm_simulator.server")
# SYSTEM_ENDPOINTS (health checks, scrapes, the dashboard, the admin API) are exempt from the
# concurrency cap; telemetry defines them, as it sends no events or spans for them either.


class BodyTooLarge(Exception):
    """The request body exceeds ``server.max_body_bytes``."""


class ClientGone(Exception):
    """The client disconnected before the request was read."""


# A client's x-request-id is kept only if it is safe in a header and a log line.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def new_request_id() -> str:
    """A random ``req_…`` id."""
    return "req_" + IDS.hex(12)


class SimulatorApp:
    """The ASGI application."""

    def __init__(
        self, config: SimulatorConfig, sim: Simulator | None = None, telemetry: Telemetry | None = None
    ) -> None:
        self.config = config
        self.stats = telemetry.stats if telemetry is not None else Stats()
        self.telemetry = telemetry or build_telemetry(config, self.stats)
        self.sim = sim or Simulator(config, observer=self.stats)
        self.telemetry.queue_counts = self.sim.queue_counts
        # Batch jobs send their lines through this app, as internal requests.
        self.internal = InternalDispatch()
        self.providers = build_providers(self.sim, self.internal)
        self.default_provider: Provider = next(p for p in self.providers if p.name == "openai")
        self.router = Router()
        # Every route with its provider, in registration order (for /openapi.json).
        self.route_table: list[tuple[Route, Provider]] = []
        for provider in self.providers:
            for route in provider.routes():
                self._add_route(route, provider)
        self.gate = Gate(config.auth, self.sim.clock)
        self.readiness = Readiness()
        # Optional consumers of upstream data (latency profiles, ...): started with the worker.
        self.adapters = AdapterRegistry(config, self.sim)
        if self.adapters.enabled:
            self.readiness.details = self.adapters.ready_details
        self.system = SystemRoutes(
            config, self.sim, self.telemetry, self.gate, self.readiness, lambda: build_openapi(self)
        )
        for route in [
            *self.system.routes(),
            *ChaosRoutes(self.sim.chaos, self.sim.limits).routes(),
            *MetricsRoutes(
                config,
                self.telemetry,
                self.sim.engines if self.sim.deployments else None,
                (AdapterCollector(self.adapters),),
            ).routes(),
            *DashboardRoutes(self.sim, self.telemetry).routes(),
            *RequestRoutes(self.telemetry).routes(),
            *EngineRoutes(self.sim).routes(),
            *AdapterRoutes(self.adapters).routes(),
        ]:
            self._add_route(route, self.default_provider)
        self.max_body = config.server.max_body_bytes
        # Requests in flight, for the concurrency cap (statistics can be reset; this cannot).
        self.in_flight = 0
        self.body_timeout_s = config.security.body_timeout_s
        self.request_timeout_s = config.security.request_timeout_s
        self.write_timeout_s = config.security.write_timeout_s
        self._watches: dict[asyncio.Task[Any], StreamWatch] = {}
        self._sweeper: asyncio.Task[None] | None = None
        self.access_log = config.logging.access_log
        # Whether log lines need the current request's ids (JSON lines and the access log).
        self.log_context = config.logging.json_logs or config.logging.access_log
        self.hardening = Hardening(config.security)
        self.lifecycle = Lifecycle(self.telemetry, self.readiness, config.server.drain_timeout_s, (self.adapters,))
        self.internal.bind(self, self.telemetry)

    @property
    def draining(self) -> bool:
        """Whether the instance is draining (``/ready`` answers 503)."""
        return self.readiness.draining

    @draining.setter
    def draining(self, value: bool) -> None:
        self.readiness.draining = value

    def _add_route(self, route: Route, provider: Provider) -> None:
        self.router.add(route, provider)
        self.route_table.append((route, provider))

    # -- ASGI entry point -------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Dispatch an ASGI connection."""
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self.lifecycle.lifespan(receive, send)

    # -- Draining (server/lifecycle.py) ---------------------------------------------------------

    async def drain(self, deadline_s: float) -> None:
        """Stop being ready, let in-flight streams finish for ``deadline_s``, then cut them."""
        await self.lifecycle.drain(deadline_s)

    def _start_drain(self, deadline_s: float) -> None:
        """Start a drain unless one has started (what SIGTERM does)."""
        self.lifecycle.start_drain(deadline_s)

    @property
    def _drain_task(self) -> asyncio.Future[None] | None:
        return self.lifecycle.drain_task

    # -- HTTP ---------------------------------------------------------------------------------

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.monotonic()
        method: str = scope["method"]
        path: str = scope["path"]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        given = headers.get("x-request-id")
        # A client's id is kept only when it is safe to echo and log.
        request_id = given if given is not None and _REQUEST_ID.fullmatch(given) else new_request_id()
        raw_query: bytes = scope.get("query_string", b"")
        query = dict(parse_qsl(raw_query.decode("latin-1"))) if raw_query else {}
        origin = headers.get("origin")
        hardening = self.hardening
        if method == "OPTIONS" and origin is not None and not path.startswith(("/admin", "/dashboard/data")):
            preflight = hardening.preflight(headers)
            if preflight is not None:
                await self._send_json(send, JsonResponse(204, b"", preflight), request_id)
                self.stats.record_request("cors", "preflight", 204, time.monotonic() - started)
                return
        found = self.router.match(method, path, headers, query)
        stats = self.stats
        stats.active_requests += 1
        self.in_flight += 1
        provider = found.provider if isinstance(found, Match) else self._claimant(path, headers, query, found)
        if isinstance(found, Match):
            route = found.route
            endpoint = route.endpoint if route.endpoint_of is None else route.endpoint_of(found.params)
        else:
            endpoint = "unknown"
        if endpoint == ADMIN_ENDPOINT or path.startswith("/admin"):
            origin = None  # no CORS for the admin API: browsers must not reach it
        status = 500
        broken = False
        request: HttpRequest | None = None
        body = b""
        # The wall start from the simulator's clock, like every other wall stamp (created fields).
        record = RequestRecord(request_id, method, path, started, self.sim.clock.wall())
        record.provider = provider.name
        record.endpoint = endpoint
        telemetry = self.telemetry
        telemetry.begin(record, headers, query)
        # The current-record registry serves only the log filter (request and trace ids on
        # every line): the engine and admission get the record with the request.
        current = CURRENT.set(record) if self.log_context else None
        try:
            if not isinstance(found, Match):
                unrouted = no_route(method, path, found)
                record.error_type = str(unrouted.kind)
                error_response = provider.render_error(unrouted, request_id)
                if found:
                    error_response.headers.append((b"allow", ", ".join(found).encode()))
                hardening.add_headers(error_response.headers, origin)
                status = await self._send_json(send, error_response, request_id)
                return
            try:
                hardening.check_sizes(path, raw_query, scope["headers"])
                if endpoint not in SYSTEM_ENDPOINTS:  # probes and operators get through a full house
                    hardening.check_capacity(self.in_flight)
                if self.gate.required or endpoint == ADMIN_ENDPOINT:
                    client = scope.get("client")
                    await self.gate.check(method, path, endpoint, headers, query, client[0] if client else None)
                # One timer for the whole request: first the body's deadline (a client trickling
                # bytes cannot hold a slot open), then the handler's (a non-streamed answer,
                # or a stream's start, that takes too long ends in the provider's 504).
                deadline = asyncio.timeout(self.body_timeout_s)
                reading = True
                try:
                    async with deadline:
                        body = await self._read_body(scope, receive, headers)
                        reading = False
                        deadline.reschedule(asyncio.get_running_loop().time() + self.request_timeout_s)
                        request = HttpRequest(
                            method, path, query, headers, body, request_id, found.params, endpoint, record=record
                        )
                        response = await found.route.handler(request)
                except TimeoutError:
                    error = body_timeout(self.body_timeout_s) if reading else request_timeout(self.request_timeout_s)
                    raise error from None
            except SimulatorError as exc:
                record.error_type = str(exc.kind)
                if isinstance(exc, AuthError):
                    record.auth_failure = exc.reason
                response = provider.render_error(exc, request_id)
            except HangUp:
                status = await self._hang(send, receive, provider, request_id)
                broken = True
                return
            except StreamCut:
                broken = True
                status = 499
                await cut_json_body(send, request_id)
            except BodyTooLarge:
                record.error_type = "payload_too_large"
                response = provider.render_error(too_large(self.max_body), request_id)
            except ClientGone:
                # nginx's "client closed request". The client may only have stopped sending
                # (a truncated body): tell it why, in its provider's shape, if it still listens,
                # rather than leave the server to answer a bare 500.
                status = 499
                with contextlib.suppress(Exception):
                    incomplete = provider.render_error(incomplete_body(), request_id)
                    hardening.add_headers(incomplete.headers, origin)
                    await self._send_json(send, incomplete, request_id)
                return
            except Exception:
                log.exception(
                    "unhandled error in %s %s (%s)", method, path, request_id, extra={"request_id": request_id}
                )
                record.error_type = "server_error"
                response = provider.render_error(internal_error(), request_id)
            if request is not None and request.extra_headers:
                response.headers.extend(request.extra_headers)
            hardening.add_headers(response.headers, origin)
            if isinstance(response, StreamResponse):
                status = 200
                try:
                    status, broken = await self._send_stream(send, receive, response, provider, request_id, record)
                except ConnectionCut as cut:
                    if cut.client_fault:
                        status = 499  # the client stopped reading: not the model's failure
                    else:
                        broken = True  # a deliberate cut: the model "failed" this stream
                    raise
            else:
                status = await self._send_json(send, response, request_id)
        finally:
            stats.active_requests -= 1
            self.in_flight -= 1
            elapsed = time.monotonic() - started
            record.endpoint = endpoint
            record.status = status
            record.broken = broken
            if not record.error_type and (broken or status >= 400):
                record.error_type = "client_closed" if status == 499 else "stream_broken" if broken else "http_error"
            telemetry.finish(record, elapsed)
            if telemetry.request_log.enabled and not record.quiet:
                telemetry.request_log.add(record, query, headers, body, elapsed)
            if self.access_log:
                log_access(request_id, method, path, status, elapsed, provider.name, endpoint)
            if request is not None and request.on_done is not None:
                request.on_done(status, broken)
            if current is not None:
                CURRENT.reset(current)

    def _claimant(
        self, path: str, headers: dict[str, str], query: dict[str, str], allowed: list[str] | None
    ) -> Provider:
        """The provider whose error shape an unrouted request gets (OpenAI's by default).

        A wrong method on a known path (``allowed`` lists the right ones) gets the shape of
        the provider serving that path, whatever the request's headers say. Where providers
        share a path (OpenAI's ``GET /v1/models/{model}``, Gemini's ``POST …/{model}:method``)
        the one that claims the request wins.
        """
        if allowed:
            owners = [
                m.provider
                for m in (self.router.match(a, path, headers, query) for a in allowed)
                if isinstance(m, Match)
            ]
            for owner in owners:
                if owner.claims(path, headers, query):
                    return owner
            if owners:
                return owners[0]
        for provider in self.providers:
            if provider.claims(path, headers, query):
                return provider
        return self.default_provider

    async def _read_body(self, scope: Scope, receive: Receive, headers: dict[str, str]) -> bytes:
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body:
            raise BodyTooLarge
        if scope["method"] == "GET":
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
                raise BodyTooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    async def _send_json(self, send: Send, response: JsonResponse, request_id: str) -> int:
        headers = response.headers
        # Every response carries the simulator's correlation id, whatever the provider sets.
        if not any(name == b"x-request-id" for name, _ in headers):
            headers.append((b"x-request-id", request_id.encode()))
        if response.status != 204:  # a 204 carries no Content-Length (RFC 9110)
            headers.append((b"content-length", str(len(response.body)).encode()))
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": response.body})
        return response.status

    async def _hang(self, send: Send, receive: Receive, provider: Provider, request_id: str) -> int:
        """Answer nothing until the client gives up (chaos ``hang``); 499 when it does.

        The hung request counts as in flight, so a drain ends it at its deadline with the
        provider's 503 rather than leaving the client hanging past shutdown.
        """
        task = asyncio.current_task()
        assert task is not None
        self.lifecycle.enter(task)
        try:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return 499
        except asyncio.CancelledError:
            if not self.draining:
                raise
            return await self._send_json(send, provider.render_error(shutting_down(), request_id), request_id)
        finally:
            self.lifecycle.leave(task)

    def _watch(self, task: asyncio.Task[Any]) -> StreamWatch:
        """Register a stream with the stalled-reader sweep (started when the first stream is)."""
        watch = StreamWatch()
        self._watches[task] = watch
        if self._sweeper is None or self._sweeper.done():
            # An empty context: it outlives the stream that starts it and must not carry that
            # stream's request record (or its ids into log lines).
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep(), context=contextvars.Context())
        return watch

    async def _sweep(self) -> None:
        """Cut streams whose client read nothing for a whole sweep period (a stalled reader).

        Once per ``security.write_timeout_s``: a stream still blocked in the same write as at
        the previous sweep has had no progress for at least that long, so a stalled reader
        is cut after between one and two periods. Ends when no stream is left.
        """
        while self._watches:
            await asyncio.sleep(self.write_timeout_s)
            for task, watch in list(self._watches.items()):
                if watch.sending and watch.sent == watch.seen:
                    watch.stalled = True
                    task.cancel()
                watch.seen = watch.sent

    async def _send_stream(
        self,
        send: Send,
        receive: Receive,
        response: StreamResponse,
        provider: Provider,
        request_id: str,
        record: RequestRecord,
    ) -> tuple[int, bool]:
        """Send the event stream; the status to record and whether the stream broke.

        Broken means the server side failed it (an error event, a fault, the drain
        deadline); a client that leaves early is recorded as 499 and not broken, so clients
        abandoning streams in a load test cannot open a circuit breaker.
        """
        broken = False
        status = 200
        task = asyncio.current_task()
        assert task is not None
        self.lifecycle.enter(task)
        self.stats.active_streams += 1
        gone = asyncio.Event()
        watcher = asyncio.ensure_future(cancel_on_disconnect(receive, task, gone))
        watch = self._watch(task)

        # Writes that carry no event (the response start, the closing empty body), so that the
        # chunk count is the events sent: watch.sent counts every write.
        framing = 0

        async def write(message: dict[str, Any]) -> None:
            nonlocal framing
            # Every write is watched, the last one and error frames included: a client that
            # stops reading can block any of them.
            watch.sending = True
            await send(message)
            watch.sending = False
            watch.sent += 1
            if not message.get("body"):
                framing += 1

        frames = response.frames
        started = False
        try:
            headers = response.headers
            headers.append((b"x-request-id", request_id.encode()))
            await write({"type": "http.response.start", "status": 200, "headers": headers})
            started = True
            try:
                async for frame in frames:
                    watch.sending = True
                    await send({"type": "http.response.body", "body": frame, "more_body": True})
                    watch.sending = False
                    watch.sent += 1  # inline, not write(): this is the per-token path
            except StreamCut as cut:
                broken = True
                kind = cut.fault.kind
                record.error_type = f"stream_{kind}"
                log.info("chaos: %s fault in stream %s", kind, request_id)
                # One arm per wire action (core/faults.py FAULT_ACTIONS); the engine has
                # applied the others (a pause, an in-stream error) before any cut.
                action = cut.action
                if action is FaultAction.CUT_CONNECTION:
                    raise ConnectionCut(request_id) from None
                if action is FaultAction.MALFORMED_FRAME:
                    await write({"type": "http.response.body", "body": response.malformed, "more_body": True})
                elif action is FaultAction.END_UNTERMINATED:
                    pass  # the frames stopped before the provider's terminator: end the body here
                else:
                    log.warning("stream %s: fault %s has no wire action; ending the body", request_id, kind)
            except SimulatorError as exc:
                broken = True
                record.error_type = str(exc.kind)
                if response.on_error is not None:
                    await write({"type": "http.response.body", "body": response.on_error(exc), "more_body": True})
            except (asyncio.CancelledError, OSError, RuntimeError):
                raise  # the client went away or the drain deadline passed: handled below
            except Exception:
                # A bug while streaming: end the stream with the provider's error event rather
                # than a cut connection, and log it.
                log.exception("unhandled error while streaming %s", request_id, extra={"request_id": request_id})
                broken = True
                record.error_type = "server_error"
                if response.on_error is not None:
                    frame = response.on_error(internal_error())
                    await write({"type": "http.response.body", "body": frame, "more_body": True})
            await write({"type": "http.response.body", "body": b""})
        except (asyncio.CancelledError, OSError, RuntimeError):
            if watch.stalled:
                # The client stopped reading: writing it an error would block the same way.
                log.info("stream %s cut: the client read nothing for %gs", request_id, self.write_timeout_s)
                raise ConnectionCut(request_id, client_fault=True) from None
            if gone.is_set():
                status = 499
            else:
                broken = True
            # The client went away, or the drain deadline passed. In the second case the
            # client is still there: end its stream with the provider's in-stream error
            # rather than a truncated body. The finally-clauses release everything else.
            if started and not gone.is_set() and response.on_error is not None:
                with contextlib.suppress(Exception):
                    await write(
                        {"type": "http.response.body", "body": response.on_error(shutting_down()), "more_body": True}
                    )
                    await write({"type": "http.response.body", "body": b""})
        finally:
            watcher.cancel()
            await close_frames(frames)
            record.chunks = watch.sent - framing
            self.stats.active_streams -= 1
            self._watches.pop(task, None)
            self.lifecycle.leave(task)
        return status, broken
