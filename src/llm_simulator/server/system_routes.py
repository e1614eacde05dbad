"""Provider-independent routes: health, readiness, version, admin statistics and fixtures.

Admin errors are OpenAI-shaped (the default provider renders every system route's errors).
The fixture routes act on a test scope's fixtures when the request names one (``?scope=ID``
or the ``x-simulator-test-id`` header).
"""

from __future__ import annotations

import asyncio
import platform
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson

from llm_simulator._version import __version__
from llm_simulator.config.loader import redacted
from llm_simulator.core.errors import ErrorKind, SimulatorError, invalid
from llm_simulator.core.event_types import DRAINING, INITIALISING, READY, STOPPED
from llm_simulator.core.http import JSON_CONTENT_TYPE, HttpRequest, JsonResponse, Response, Route
from llm_simulator.core.test_scope import read_admin_scope
from llm_simulator.engine.script import FixtureError
from llm_simulator.engine.script.loader import parse_fixtures

if TYPE_CHECKING:
    from llm_simulator.config.schema import SimulatorConfig
    from llm_simulator.engine.script.registry import Script
    from llm_simulator.engine.script.shared import SharedFixtures
    from llm_simulator.engine.simulator import Simulator
    from llm_simulator.security.gate import Gate
    from llm_simulator.telemetry.hub import Telemetry


class Readiness:
    """The worker's runtime state: initialising, ready, draining (``POST /admin/drain`` or a signal), stopped.

    Each change is passed to ``listener`` (the telemetry's ``server.state`` event).
    """

    __slots__ = ("details", "listener", "state")

    def __init__(self) -> None:
        self.state = INITIALISING
        # Extra detail for /ready (the adapters' health): reported, never a reason to be unready.
        self.details: Callable[[], dict[str, Any]] | None = None
        self.listener: Callable[[str, str | None, str], None] | None = None

    @property
    def draining(self) -> bool:
        """Whether the instance is draining or stopped (``/ready`` answers 503)."""
        return self.state in (DRAINING, STOPPED)

    @draining.setter
    def draining(self, value: bool) -> None:
        self.transition(DRAINING if value else READY, "admin drain" if value else "admin undrain")

    def transition(self, state: str, reason: str) -> None:
        """Enter ``state`` for ``reason`` and tell the listener; staying put, or leaving ``stopped``, is a no-op."""
        previous = self.state
        if previous in (state, STOPPED):
            return
        self.state = state
        if self.listener is not None:
            self.listener(state, previous, reason)


def _json(status: int, payload: object) -> JsonResponse:
    return JsonResponse(status, orjson.dumps(payload), [JSON_CONTENT_TYPE, (b"cache-control", b"no-store")])


class SystemRoutes:
    """``/health``, ``/ready``, ``/version``, ``/admin/stats``, ``/admin/fixtures``, ``/admin/sessions``."""

    def __init__(
        self,
        config: SimulatorConfig,
        sim: Simulator,
        telemetry: Telemetry,
        gate: Gate,
        readiness: Readiness,
        openapi: Callable[[], dict[str, Any]],
    ) -> None:
        self._config = config
        self._sim = sim
        self._telemetry = telemetry
        self._gate = gate
        self._readiness = readiness
        self._build_openapi = openapi
        self._openapi: bytes | None = None

    def routes(self) -> list[Route]:
        """The system routes."""
        return [
            Route("GET", "/health", self.health, "health"),
            Route("GET", "/ready", self.ready, "ready"),
            Route("GET", "/version", self.version, "version"),
            Route("GET", "/openapi.json", self.openapi, "openapi"),
            Route("GET", "/admin/config", self.effective_config, "admin"),
            Route("GET", "/admin/stats", self.stats, "admin"),
            Route("POST", "/admin/stats/reset", self.reset_stats, "admin"),
            Route("POST", "/admin/drain", self.drain, "admin"),
            Route("GET", "/admin/auth", self.auth_status, "admin"),
            Route("GET", "/admin/fixtures", self.list_fixtures, "admin"),
            Route("POST", "/admin/fixtures", self.load_fixtures, "admin"),
            Route("DELETE", "/admin/fixtures", self.clear_fixtures, "admin"),
            Route("GET", "/admin/sessions", self.list_sessions, "admin"),
            Route("DELETE", "/admin/sessions", self.clear_sessions, "admin"),
            Route("GET", "/admin/sessions/{session}", self.get_session, "admin"),
            Route("DELETE", "/admin/sessions/{session}", self.drop_session, "admin"),
        ]

    async def health(self, request: HttpRequest) -> Response:
        """Liveness: the process answers."""
        return _json(200, {"status": "ok"})

    async def ready(self, request: HttpRequest) -> Response:
        """Readiness: false (503) while draining."""
        details = self._readiness.details
        extra = {"adapters": details()} if details is not None else {}
        if self._readiness.draining:
            return _json(503, {"ready": False, "reason": "draining", **extra})
        return _json(200, {"ready": True, **extra})

    async def drain(self, request: HttpRequest) -> Response:
        """Mark the instance not ready (for a pre-stop hook); serving continues."""
        self._readiness.draining = True
        return _json(200, {"draining": True})

    async def openapi(self, request: HttpRequest) -> Response:
        """The OpenAPI document of every route (built once)."""
        if self._openapi is None:
            self._openapi = orjson.dumps(self._build_openapi())
        return JsonResponse(200, self._openapi, [JSON_CONTENT_TYPE])

    async def auth_status(self, request: HttpRequest) -> Response:
        """Whether auth is on, the keys' names, roles, throttles and states, and failure counts (no secrets)."""
        return _json(200, self._gate.status())

    async def version(self, request: HttpRequest) -> Response:
        """Simulator, Python and server versions."""
        return _json(
            200,
            {
                "name": "llm-simulator",
                "version": __version__,
                "python": platform.python_version(),
                "server": self._config.server.implementation,
            },
        )

    async def effective_config(self, request: HttpRequest) -> Response:
        """The configuration this worker runs with, secrets redacted (as ``config show`` prints it)."""
        return _json(200, redacted(self._config))

    async def stats(self, request: HttpRequest) -> Response:
        """Counters, per-model latency percentiles and the simulator's own emit-time error (all workers)."""
        telemetry = self._telemetry
        merged = telemetry.merged_stats()
        snapshot = merged.snapshot()
        snapshot["queue"] = {"running": merged.running, "waiting": merged.waiting}
        snapshot["event_loop_lag_last_ms"] = round(telemetry.last_loop_lag_s * 1000, 3)
        snapshot["event_sinks"] = [
            {"sink": name, "sent": sent, "dropped": dropped} for name, (sent, dropped) in sorted(merged.sinks.items())
        ]
        snapshot["scheduler_pending"] = len(self._sim.scheduler)
        # For leak checks (the soak benchmark): tasks alive in this worker's event loop.
        snapshot["asyncio_tasks"] = len(asyncio.all_tasks())
        return _json(200, snapshot)

    async def reset_stats(self, request: HttpRequest) -> Response:
        """Reset every statistic (every worker's)."""
        self._telemetry.reset()
        await self._sim.state.reset_fleet()
        return _json(200, {"reset": True})

    # -- Fixtures and sessions -------------------------------------------------------------

    async def _fixtures(self, request: HttpRequest) -> tuple[SharedFixtures, Script, bool]:
        """The fixtures the request reads or changes, and whether they are a test scope's.

        A scope's (named by ``?scope=`` or the test id header; bounded by ``scopes.max_fixtures``),
        else the global ones.
        """
        test_id = read_admin_scope(request.headers, request.query)
        if test_id is None:
            return self._sim.fixtures, self._sim.script, False
        scope = await self._sim.scopes.open(test_id)
        return scope.fixtures, scope.script, True

    async def list_fixtures(self, request: HttpRequest) -> Response:
        """Every loaded rule (with its hit count) and scenario (with its session count)."""
        return _json(200, (await self._fixtures(request))[1].fixtures_view())

    async def load_fixtures(self, request: HttpRequest) -> Response:
        """Load a YAML or JSON fixtures document; ``?mode=replace`` (default) or ``append``."""
        mode = request.query.get("mode", "replace")
        if mode not in ("replace", "append"):
            raise invalid(f"Invalid 'mode': {mode!r}. Use 'replace' or 'append'.", param="mode", code="invalid_value")
        if not request.body.strip():
            raise invalid("The request body must be a fixtures document (YAML or JSON).", code="invalid_fixtures")
        shared, script, scoped = await self._fixtures(request)
        try:
            if scoped:
                parsed = parse_fixtures(request.body, "request body")
                size = len(parsed.rules) + len(parsed.scenarios) + (script.size if mode == "append" else 0)
                bound = self._sim.scopes.config.max_fixtures
                if size > bound:
                    raise FixtureError(f"a test scope holds at most {bound} fixture rules and scenarios, not {size}")
                if mode == "append" and not (parsed.rules or parsed.scenarios):
                    # Nothing to add: recording it would grow the scope's shared document for nothing.
                    raise FixtureError("the document adds no rule or scenario to the scope")
            # Loaded here, then published to the fleet (every replica within sync_interval_s).
            fixtures = await shared.load(request.body, replace=mode == "replace")
        except FixtureError as exc:
            raise invalid(str(exc), code="invalid_fixtures") from None
        view = script.fixtures_view()
        return _json(
            200,
            {
                "mode": mode,
                "loaded": {"rules": len(fixtures.rules), "scenarios": len(fixtures.scenarios)},
                "total": {"rules": len(view["rules"]), "scenarios": len(view["scenarios"])},
            },
        )

    async def clear_fixtures(self, request: HttpRequest) -> Response:
        """Remove every rule, scenario and session."""
        await (await self._fixtures(request))[0].clear()
        return _json(200, {"cleared": True})

    async def list_sessions(self, request: HttpRequest) -> Response:
        """Every scenario session: its scenario, next step, and what each step received."""
        return _json(200, {"sessions": (await self._fixtures(request))[1].sessions_view()})

    async def clear_sessions(self, request: HttpRequest) -> Response:
        """End every session (scenarios start again from their first step); a scope's when one is named."""
        return _json(200, {"cleared": (await self._fixtures(request))[1].clear_sessions()})

    async def get_session(self, request: HttpRequest) -> Response:
        """One session by id: the named scope's (``?scope=`` or the test id header), else a global one."""
        view = (await self._fixtures(request))[1].session_view(request.path_params["session"])
        if view is None:
            raise _no_session(request.path_params["session"])
        return _json(200, view)

    async def drop_session(self, request: HttpRequest) -> Response:
        """End one session, in the named scope when there is one."""
        if not (await self._fixtures(request))[1].drop_session(request.path_params["session"]):
            raise _no_session(request.path_params["session"])
        return _json(200, {"cleared": 1})


def _no_session(session_id: str) -> SimulatorError:
    return SimulatorError(ErrorKind.NOT_FOUND, f"No session {session_id!r}.", code="session_not_found")
