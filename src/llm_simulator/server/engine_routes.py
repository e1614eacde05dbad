"""``GET /admin/engine``: the load-aware engines' replicas, one JSON row each (this worker's).

The rows are ``engine_snapshot``'s (running and waiting requests, KV-cache usage, prefix-cache
hit rate, preemptions, refusals, step counters), read at request time; the dashboard shows
the same rows from ``/dashboard/data``. Engines are created on a model's first request, so
the list is empty until an engine-served model has been asked something. With several
workers each runs its own engines, and the answer is the engines of the worker reached.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson

from llm_simulator.core.http import JSON_CONTENT_TYPE, HttpRequest, JsonResponse, Response, Route
from llm_simulator.engine.load.live import engine_snapshot
from llm_simulator.engine.load.presets import preset_names
from llm_simulator.security.gate import ADMIN_ENDPOINT

if TYPE_CHECKING:
    from llm_simulator.engine.simulator import Simulator


def engine_rows(sim: Simulator) -> list[dict[str, object]]:
    """One row per replica of every live engine, by engine key then replica index."""
    rows: list[dict[str, object]] = []
    for name, engine in sorted(sim.engines.items()):
        rows.extend(engine_snapshot(name, engine))
    return rows


class EngineRoutes:
    """``GET /admin/engine``."""

    def __init__(self, sim: Simulator) -> None:
        self._sim = sim

    def routes(self) -> list[Route]:
        """The engine status route (admin)."""
        return [Route("GET", "/admin/engine", self.engine, ADMIN_ENDPOINT)]

    async def engine(self, request: HttpRequest) -> Response:
        """``{"deployments": [row per replica], "presets": [built-in deployment names]}``."""
        payload = {"deployments": engine_rows(self._sim), "presets": preset_names()}
        return JsonResponse(200, orjson.dumps(payload), [JSON_CONTENT_TYPE, (b"cache-control", b"no-store")])
