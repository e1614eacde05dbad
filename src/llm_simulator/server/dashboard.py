"""``/dashboard``: a live page of the simulator's statistics, with chaos controls.

The page, its script and its stylesheet are fixed files shipped in ``server/static`` and
read once at start-up; they carry no data, so they are served without a key (endpoint
``dashboard``). Everything the page shows comes from the admin API (``/admin/stats``,
``/admin/chaos``) and from ``/dashboard/data`` (TTFT and ITL histograms, the preset
names, a chaos summary, the load-aware engines' replicas), which is an admin endpoint with
the admin API's protection.

The pages get their own Content-Security-Policy: scripts, styles and fetches from this
origin only (no inline code, no CDN), and no framing.
"""

from __future__ import annotations

from importlib import resources
from typing import TYPE_CHECKING, Any

import orjson

from llm_simulator.config.chaos import PRESET_NAMES
from llm_simulator.core.http import JSON_CONTENT_TYPE, Headers, HttpRequest, JsonResponse, Response, Route
from llm_simulator.engine.chaos.presets import DEFAULT_MIX
from llm_simulator.security.gate import ADMIN_ENDPOINT, DASHBOARD_ENDPOINT
from llm_simulator.server.engine_routes import engine_rows
from llm_simulator.telemetry.histogram import ITL_EDGES, TTFT_EDGES, Histogram

if TYPE_CHECKING:
    from llm_simulator.engine.simulator import Simulator
    from llm_simulator.telemetry.hub import Telemetry

# What the dashboard's own files may load: only from this origin, the favicon as a data: URL.
DASHBOARD_CSP = (
    b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    b"connect-src 'self'; frame-ancestors 'none'"
)
# Path served → (file in server/static, content type).
_FILES = {
    "/dashboard": ("dashboard.html", b"text/html; charset=utf-8"),
    "/dashboard/charts.js": ("dashboard-charts.js", b"text/javascript; charset=utf-8"),
    "/dashboard/app.js": ("dashboard.js", b"text/javascript; charset=utf-8"),
    "/dashboard/app.css": ("dashboard.css", b"text/css; charset=utf-8"),
}


def _load(name: str) -> bytes:
    """One file of ``llm_simulator/server/static`` (works from a wheel as from a checkout)."""
    return resources.files("llm_simulator.server").joinpath("static", name).read_bytes()


def _edges_ms(edges: tuple[float, ...]) -> list[float]:
    return [round(edge * 1000, 4) for edge in edges]


class DashboardRoutes:
    """``GET /dashboard``, its script and stylesheet, and ``GET /dashboard/data``."""

    def __init__(self, sim: Simulator, telemetry: Telemetry) -> None:
        self._sim = sim
        self._telemetry = telemetry
        # Read once: the files are small and never change while the server runs.
        self._files: dict[str, tuple[bytes, bytes]] = {
            path: (_load(name), content_type) for path, (name, content_type) in _FILES.items()
        }

    def routes(self) -> list[Route]:
        """The static routes (anonymous) and the data route (admin)."""
        static = [Route("GET", path, self.static, DASHBOARD_ENDPOINT) for path in self._files]
        return [*static, Route("GET", "/dashboard/data", self.data, ADMIN_ENDPOINT)]

    async def static(self, request: HttpRequest) -> Response:
        """The page, its script or its stylesheet, with the dashboard's CSP."""
        body, content_type = self._files[request.path]
        headers: Headers = [
            (b"content-type", content_type),
            (b"content-security-policy", DASHBOARD_CSP),
            # Revalidate on every load, so an upgraded simulator never serves an old script.
            (b"cache-control", b"no-cache"),
        ]
        return JsonResponse(200, body, headers)

    async def data(self, request: HttpRequest) -> Response:
        """TTFT and ITL bucket counts per model, the chaos presets, a chaos summary and the engines.

        Each histogram is ``{"edges_ms": [...], "series": [{"provider", "model", "counts"}]}``;
        ``counts`` has one more entry than ``edges_ms``: the last bucket is everything above
        the last edge. Counts are since the last stats reset, summed over every worker.
        ``engines`` holds ``/admin/engine``'s rows (one per replica; this worker's, empty
        until an engine has served a request).
        """
        models = self._telemetry.merged_stats().models
        ttft: list[dict[str, Any]] = []
        itl: list[dict[str, Any]] = []
        for (provider, model), totals in sorted(models.items()):
            ttft.append(_series(provider, model, totals.ttft))
            itl.append(_series(provider, model, totals.itl))
        chaos = self._sim.chaos
        effective = chaos.effective_rules
        payload = {
            "presets": list(PRESET_NAMES),
            "chaos": {
                "enabled": chaos.enabled,
                "preset": chaos.preset,
                "rules": len(chaos.rules),
                "probability_in_force": chaos.factor,
                "scenarios": len(chaos.scenarios.specs),
                # Identity, as the controller checks it: chaos on with nothing configured.
                "default_mix": len(effective) == 1 and effective[0] is DEFAULT_MIX,
            },
            "ttft": {"edges_ms": _edges_ms(TTFT_EDGES), "series": ttft},
            "itl": {"edges_ms": _edges_ms(ITL_EDGES), "series": itl},
            "engines": engine_rows(self._sim),
        }
        return JsonResponse(200, orjson.dumps(payload), [JSON_CONTENT_TYPE, (b"cache-control", b"no-store")])


def _series(provider: str, model: str, buckets: Histogram) -> dict[str, Any]:
    return {"provider": provider, "model": model, "counts": list(buckets.counts)}
