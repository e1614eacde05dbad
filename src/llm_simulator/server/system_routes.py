"""Provider-independent routes: health, readiness, version and admin statistics."""

from __future__ import annotations

import platform
from typing import TYPE_CHECKING

import orjson

from llm_simulator._version import __version__
from llm_simulator.providers.base import (
    JSON_CONTENT_TYPE,
    HttpRequest,
    JsonResponse,
    Response,
    Route,
)

if TYPE_CHECKING:
    from llm_simulator.server.app import SimulatorApp


def _json(status: int, payload: object) -> JsonResponse:
    return JsonResponse(status, orjson.dumps(payload), [JSON_CONTENT_TYPE, (b"cache-control", b"no-store")])


class SystemRoutes:
    """``/health``, ``/ready``, ``/version``, ``/admin/stats``."""

    def __init__(self, app: SimulatorApp) -> None:
        self._app = app

    def routes(self) -> list[Route]:
        """The system routes."""
        return [
            Route("GET", "/health", self.health, "health"),
            Route("GET", "/ready", self.ready, "ready"),
            Route("GET", "/version", self.version, "version"),
            Route("GET", "/admin/stats", self.stats, "admin"),
            Route("POST", "/admin/stats/reset", self.reset_stats, "admin"),
            Route("POST", "/admin/drain", self.drain, "admin"),
        ]

    async def health(self, request: HttpRequest) -> Response:
        """Liveness: the process answers."""
        return _json(200, {"status": "ok"})

    async def ready(self, request: HttpRequest) -> Response:
        """Readiness: false (503) while draining."""
        if self._app.draining:
            return _json(503, {"ready": False, "reason": "draining"})
        return _json(200, {"ready": True})

    async def drain(self, request: HttpRequest) -> Response:
        """Mark the instance not ready (for a pre-stop hook); serving continues."""
        self._app.draining = True
        return _json(200, {"draining": True})

    async def version(self, request: HttpRequest) -> Response:
        """Simulator, Python and server versions."""
        return _json(
            200,
            {
                "name": "llm-simulator",
                "version": __version__,
                "python": platform.python_version(),
                "server": self._app.config.server.implementation,
            },
        )

    async def stats(self, request: HttpRequest) -> Response:
        """Counters, durations and the simulator's own emit-time error."""
        snapshot = self._app.stats.snapshot()
        snapshot["scheduler_pending"] = len(self._app.sim.scheduler)
        return _json(200, snapshot)

    async def reset_stats(self, request: HttpRequest) -> Response:
        """Reset every statistic."""
        self._app.stats.reset()
        return _json(200, {"reset": True})
