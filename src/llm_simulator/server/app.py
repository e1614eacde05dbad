"""The ASGI application: the composition root of a framework-free hot path.

``SimulatorApp`` builds the simulator, telemetry, providers, routes, gate and the admin
route groups (each from the narrow collaborators it needs), and the phases every HTTP
exchange goes through, each in its own module:

1. ``ServerExchange(scope)`` (``server/exchange.py``): the per-request state, the
   request's headers, query and id read once; a CORS preflight is answered there and then;
2. ``Routes.resolve`` (``server/routing.py``): route, provider, endpoint;
3. ``Bookkeeping.begin`` (``server/bookkeeping.py``): counted in flight, telemetry record;
4. ``Handling.answer`` (``server/handling.py``): the ordered pre-checks
   (``server/prechecks.py``), the body and the handler under one timer, every failure in
   the owning provider's error shape;
5. ``Responder.respond`` (``server/responding.py``, streams in ``server/streaming.py``):
   the JSON body or the event stream, one arm per wire action of a chaos fault;
6. ``Bookkeeping.end``, however the exchange ended: telemetry, logs, admission's callback.

The lifespan and draining are ``server/lifecycle.py``'s.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, cast

from llm_simulator.adapters.registry import AdapterRegistry
from llm_simulator.config.schema import SimulatorConfig
from llm_simulator.core.http import Route
from llm_simulator.engine.simulator import Simulator
from llm_simulator.providers.base import Provider
from llm_simulator.providers.internal import InternalDispatch
from llm_simulator.providers.openai import OpenAIProvider
from llm_simulator.providers.registry import build_providers
from llm_simulator.security.gate import Gate
from llm_simulator.server.adapter_routes import AdapterRoutes, LineageRoutes, ObservatoryRoutes, RouterRoutes
from llm_simulator.server.asgi import Receive, Scope, Send
from llm_simulator.server.bookkeeping import Bookkeeping
from llm_simulator.server.chaos_routes import ChaosRoutes
from llm_simulator.server.dashboard import DashboardRoutes
from llm_simulator.server.engine_routes import EngineRoutes
from llm_simulator.server.exchange import ServerExchange
from llm_simulator.server.handling import Handling
from llm_simulator.server.hardening import Hardening
from llm_simulator.server.lifecycle import Lifecycle
from llm_simulator.server.metrics_routes import MetricsRoutes
from llm_simulator.server.prechecks import PreChecks
from llm_simulator.server.request_routes import RequestRoutes
from llm_simulator.server.responding import Responder
from llm_simulator.server.routing import Routes
from llm_simulator.server.scope_routes import ScopeRoutes
from llm_simulator.server.streaming import StreamSender
from llm_simulator.server.system_routes import Readiness, SystemRoutes
from llm_simulator.telemetry.hub import Telemetry
from llm_simulator.telemetry.setup import build_telemetry
from llm_simulator.telemetry.stats import Stats

if TYPE_CHECKING:
    from prometheus_client.registry import Collector

    from llm_simulator.adapters.lineage.adapter import LineageAdapter
    from llm_simulator.adapters.observatory.adapter import ObservatoryAdapter
    from llm_simulator.adapters.router.adapter import RouterAdapter
    from llm_simulator.proxy.layer import ProxyLayer
    from llm_simulator.server.websocket import WebSocketRoutes


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
        # Fleet-wide state (docs/scaling.md): resets reach every replica, the request log is one.
        self.sim.state.follow_resets(self.telemetry.reset)
        self.telemetry.request_log.share(self.sim.state.stores.requests)
        self.providers = build_providers(self.sim, self.internal)
        self.default_provider: Provider = next(p for p in self.providers if p.name == "openai")
        self.routes = Routes(self.providers, self.default_provider)
        self.router = self.routes.router
        # Every route with its provider, in registration order (for /openapi.json).
        self.route_table: list[tuple[Route, Provider]] = self.routes.table
        # Proxy mode and replay (docs/proxy.md) take over provider routes' handlers; None when off.
        self.proxy: ProxyLayer | None = None
        if config.proxy.active:
            # Imported only then: a plain simulator's workers never load the proxy package.
            from llm_simulator.proxy.layer import ProxyLayer

            self.proxy = ProxyLayer(config, self.sim)
        # Optional consumers of upstream data (latency profiles, ...): started with the worker.
        self.adapters = AdapterRegistry(config, self.sim)
        router = cast("RouterAdapter | None", self.adapters.get("router"))
        lineage = cast("LineageAdapter | None", self.adapters.get("lineage"))
        for provider in self.providers:
            for route in provider.routes():
                served = route if self.proxy is None else self.proxy.wrap(route, provider.name)
                # Lineage records what is served; the routing rules decide before anything else sees it.
                served = served if lineage is None else lineage.wrap(served, provider.name)
                self.routes.add(served if router is None else router.wrap(served, provider.name), provider)
        self.gate = Gate(config.auth, self.sim.clock)
        self.readiness = Readiness()
        if self.adapters.enabled:
            self.readiness.details = self.adapters.ready_details
        self.system = SystemRoutes(config, self.sim, self.telemetry, self.gate, self.readiness, self._openapi)
        for route in [
            *self.system.routes(),
            *ChaosRoutes(self.sim.chaos, self.sim.limits, self.sim.scopes).routes(),
            *ScopeRoutes(self.sim.scopes, self.sim.chaos).routes(),
            *MetricsRoutes(
                config, self.telemetry, self.sim.engines if self.sim.deployments else None, self._scrape_collectors
            ).routes(),
            *DashboardRoutes(self.sim, self.telemetry).routes(),
            *RequestRoutes(self.telemetry).routes(),
            *EngineRoutes(self.sim).routes(),
            *AdapterRoutes(self.adapters).routes(),
            *self._adapter_routes(),
        ]:
            self.routes.add(route, self.default_provider)
        security = config.security
        self.hardening = Hardening(security)
        # The scopes' last add of their counters goes before the state backend closes.
        proxy = () if self.proxy is None else (self.proxy,)
        services = (self.sim.scopes, self.sim.state, self.adapters, *proxy)
        self.lifecycle = Lifecycle(self.telemetry, self.readiness, config.server.drain_timeout_s, services)
        # The phases of an exchange (see the module doc).
        self.books = Bookkeeping(config, self.telemetry, self.sim.clock, self.sim.scopes)
        checks = PreChecks(self.hardening, self.gate, self.books, config.server.max_body_bytes)
        streams = StreamSender(self.stats, self.lifecycle, security.write_timeout_s)
        self.responder = Responder(self.hardening, streams, self.lifecycle, self.readiness, self.stats)
        self.handling = Handling(checks, self.responder, security.body_timeout_s, security.request_timeout_s)
        self.internal.bind(self, self.telemetry)
        # The WebSocket APIs, built on the first WebSocket connection (``sockets``).
        self._sockets: WebSocketRoutes | None = None

    @property
    def sockets(self) -> WebSocketRoutes:
        """The WebSocket APIs: each model turn is an internal request through this app.

        Built, and their ≈ 30 modules imported, on the first WebSocket connection: a worker
        that serves none never loads them (start-up time, memory).
        """
        if self._sockets is None:
            from llm_simulator.server.websocket import WebSocketRoutes

            openai = next(p for p in self.providers if isinstance(p, OpenAIProvider))
            max_message_bytes = self.config.server.max_body_bytes
            self._sockets = WebSocketRoutes(
                self.internal, self.gate, self.sim.catalogue, max_message_bytes, openai.client_secrets
            )
        return self._sockets

    def _openapi(self) -> dict[str, Any]:
        """The OpenAPI document (built on the first ``GET /openapi.json``).

        Its modules (every route's request and response bodies) are imported then, not when
        a worker starts.
        """
        from llm_simulator.server.openapi import build_openapi

        return build_openapi(self)

    def _scrape_collectors(self) -> tuple[Collector, ...]:
        """The adapters' and the state backend's ``/metrics`` families (built on the first scrape)."""
        from llm_simulator.adapters.metrics import AdapterCollector
        from llm_simulator.telemetry.state_metrics import StateCollector

        stores = self.sim.state.stores
        return (AdapterCollector(self.adapters), StateCollector(stores.kind, stores.guard))

    @property
    def in_flight(self) -> int:
        """Requests in flight, for the concurrency cap (statistics can be reset; this cannot)."""
        return self.books.in_flight

    def _adapter_routes(self) -> list[Route]:
        """The observatory's receiver and the router's admin API, when those adapters are enabled."""
        routes: list[Route] = []
        observatory = cast("ObservatoryAdapter | None", self.adapters.get("observatory"))
        if observatory is not None:
            routes.extend(ObservatoryRoutes(observatory).routes())
        router = cast("RouterAdapter | None", self.adapters.get("router"))
        if router is not None:
            routes.extend(RouterRoutes(router).routes())
        lineage = cast("LineageAdapter | None", self.adapters.get("lineage"))
        if lineage is not None:
            routes.extend(LineageRoutes(lineage).routes())
        return routes

    @property
    def draining(self) -> bool:
        """Whether the instance is draining (``/ready`` answers 503)."""
        return self.readiness.draining

    @draining.setter
    def draining(self, value: bool) -> None:
        self.readiness.draining = value

    # -- ASGI entry point -------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Dispatch an ASGI connection."""
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "websocket":
            await self.sockets.serve(scope, receive, send)
        elif kind == "lifespan":
            await self.lifecycle.lifespan(receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        """One HTTP exchange, phase by phase (see the module doc)."""
        exchange = ServerExchange(scope)
        if exchange.method == "OPTIONS" and await self.responder.preflight(exchange, send):
            return
        self.routes.resolve(exchange)
        books = self.books
        books.begin(exchange)
        try:
            response = await self.handling.answer(exchange, receive, send)
            if response is not None:
                await self.responder.respond(exchange, response, send, receive)
        finally:
            books.end(exchange)

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
