"""``/admin/requests`` and ``/admin/journal``: the requests received and what the simulator answered.

One implementation under two paths: ``/admin/requests`` (the request log's name) and
``/admin/journal`` (the same entries, read as a test's journal). This worker's entries, or
with a shared state backend the whole fleet's. Filters (``telemetry/journal.py``): test id,
provider, model, path, endpoint, status (``404`` or ``4xx``), sequence numbers (``since``,
``until``), epoch-second times (``since_ts``, ``until_ts``) and ``limit``; a bad value is a 400
naming the parameter. ``DELETE`` forgets everything, or one test scope's entries
(``?test_id=``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson

from llm_simulator.core.errors import invalid
from llm_simulator.core.http import JSON_CONTENT_TYPE, HttpRequest, JsonResponse, Response, Route
from llm_simulator.telemetry.journal import JournalQuery

if TYPE_CHECKING:
    from llm_simulator.telemetry.hub import Telemetry

# The paths the same handlers serve.
PATHS = ("/admin/requests", "/admin/journal")


class RequestRoutes:
    """List and clear the request log and test scopes' journals."""

    def __init__(self, telemetry: Telemetry) -> None:
        self._telemetry = telemetry

    def routes(self) -> list[Route]:
        """``GET`` and ``DELETE`` on ``/admin/requests`` and ``/admin/journal``."""
        out = []
        for path in PATHS:
            out.append(Route("GET", path, self.list_requests, "admin"))
            out.append(Route("DELETE", path, self.clear_requests, "admin"))
        return out

    async def list_requests(self, request: HttpRequest) -> Response:
        """Entries oldest first, narrowed by the query's filters (see the module doc)."""
        log = self._telemetry.request_log
        query = JournalQuery.parse(request.query)
        entries, last_seq = await log.fleet_entries(query)
        payload = {"enabled": log.enabled, "scoped": log.scoped, "last_seq": last_seq, "requests": entries}
        return JsonResponse(200, orjson.dumps(payload), [JSON_CONTENT_TYPE, (b"cache-control", b"no-store")])

    async def clear_requests(self, request: HttpRequest) -> Response:
        """Forget every entry, or with ``?test_id=`` one test scope's."""
        extra = sorted(set(request.query) - {"test_id"})
        if extra:
            raise invalid(f"DELETE takes only the test_id filter, got {extra[0]!r}", param=extra[0])
        test_id = JournalQuery.parse(request.query).test_id
        cleared = await self._telemetry.request_log.fleet_clear(test_id)
        return JsonResponse(200, orjson.dumps({"cleared": cleared}), [JSON_CONTENT_TYPE])
