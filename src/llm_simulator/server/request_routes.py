"""``/admin/requests``: the requests received (when ``telemetry.request_log`` is on).

This worker's, or with a shared state backend the whole fleet's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson

from llm_simulator.core.errors import invalid
from llm_simulator.core.http import JSON_CONTENT_TYPE, HttpRequest, JsonResponse, Response, Route

if TYPE_CHECKING:
    from llm_simulator.telemetry.hub import Telemetry


def _int_param(request: HttpRequest, name: str, default: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    if not raw.isdigit():
        raise invalid(f"{name} must be a non-negative integer, got {raw!r}", param=name)
    return int(raw)


class RequestRoutes:
    """List and clear the request log."""

    def __init__(self, telemetry: Telemetry) -> None:
        self._telemetry = telemetry

    def routes(self) -> list[Route]:
        """``GET`` and ``DELETE /admin/requests``."""
        return [
            Route("GET", "/admin/requests", self.list_requests, "admin"),
            Route("DELETE", "/admin/requests", self.clear_requests, "admin"),
        ]

    async def list_requests(self, request: HttpRequest) -> Response:
        """Entries oldest first; ``?since=SEQ``, ``?path=``, ``?model=``, ``?limit=N`` narrow them."""
        log = self._telemetry.request_log
        since = _int_param(request, "since", 0)
        limit = _int_param(request, "limit", 0)
        entries, last_seq = await log.fleet_entries(
            since=since, path=request.query.get("path"), model=request.query.get("model"), limit=limit or None
        )
        payload = {"enabled": log.enabled, "last_seq": last_seq, "requests": entries}
        return JsonResponse(200, orjson.dumps(payload), [JSON_CONTENT_TYPE, (b"cache-control", b"no-store")])

    async def clear_requests(self, request: HttpRequest) -> Response:
        """Forget every entry."""
        cleared = await self._telemetry.request_log.fleet_clear()
        return JsonResponse(200, orjson.dumps({"cleared": cleared}), [JSON_CONTENT_TYPE])
