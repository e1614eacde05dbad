"""``/admin/adapters`` (the adapters' health and shared infra) and ``/admin/profiles`` (each profile's origin)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson

from llm_simulator.core.http import JSON_CONTENT_TYPE, HttpRequest, JsonResponse, Response, Route

if TYPE_CHECKING:
    from llm_simulator.adapters.registry import AdapterRegistry


def _json(payload: object) -> JsonResponse:
    return JsonResponse(200, orjson.dumps(payload), [JSON_CONTENT_TYPE, (b"cache-control", b"no-store")])


class AdapterRoutes:
    """The adapters' admin routes, built from the registry alone."""

    def __init__(self, registry: AdapterRegistry) -> None:
        self._registry = registry

    def routes(self) -> list[Route]:
        """``GET /admin/adapters``, ``POST /admin/adapters/refresh``, ``GET /admin/profiles``."""
        return [
            Route("GET", "/admin/adapters", self.adapters, "admin"),
            Route("POST", "/admin/adapters/refresh", self.refresh, "admin"),
            Route("GET", "/admin/profiles", self.profiles, "admin"),
        ]

    async def adapters(self, request: HttpRequest) -> Response:
        """Every adapter (enabled or not), its upstreams' health, and the shared cache, retries and breakers."""
        return _json(self._registry.snapshot())

    async def refresh(self, request: HttpRequest) -> Response:
        """Load every enabled adapter's upstreams now, bypassing the cache; answers with the new state.

        A failing upstream is reported in the state, never as an error: older data keeps serving.
        """
        await self._registry.refresh(force=True)
        return _json(self._registry.snapshot())

    async def profiles(self, request: HttpRequest) -> Response:
        """Every latency profile served: built-in, config, or adapter (with its URL or file and fetch time)."""
        return _json({"profiles": self._registry.profiles()})
