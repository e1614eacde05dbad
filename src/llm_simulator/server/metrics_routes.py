"""``/metrics`` (Prometheus) and ``/admin/stats/export`` (the per-model aggregates as JSON or CSV)."""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING, Any

import orjson

from llm_simulator.core.errors import invalid
from llm_simulator.core.http import JSON_CONTENT_TYPE, HttpRequest, JsonResponse, Response, Route

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from prometheus_client.registry import Collector

    from llm_simulator.config.schema import SimulatorConfig
    from llm_simulator.engine.load.live import LiveEngine
    from llm_simulator.telemetry.hub import Telemetry
    from llm_simulator.telemetry.prometheus import MetricsEndpoint

# Columns of the CSV export, in order (nested latency summaries are flattened: ttft_ms_p50, ...).
_LATENCIES = ("duration_ms", "ttft_ms", "itl_ms")
_SUMMARY = ("count", "mean", "p50", "p90", "p99", "max")
MODEL_COLUMNS = (
    "provider",
    "model",
    "requests",
    "errors",
    "input_tokens",
    "output_tokens",
    "stream_chunks",
    "cost_dollars",
    *(f"{name}_{part}" for name in _LATENCIES for part in _SUMMARY),
)
KEY_COLUMNS = ("provider", "model", "api_key", "requests", "errors", "input_tokens", "output_tokens", "cost")


class MetricsRoutes:
    """The Prometheus scrape endpoint and the stats export.

    The scrape endpoint's registry, and ``prometheus_client`` with it (≈ 35 modules, ≈ 10 ms
    of every worker's start), are built on the first ``GET /metrics``: a simulator nobody
    scrapes never loads them. ``collectors`` builds the extra families then.
    """

    def __init__(
        self,
        config: SimulatorConfig,
        telemetry: Telemetry,
        engines: Mapping[str, LiveEngine] | None,
        collectors: Callable[[], Sequence[Collector]] = tuple,
    ) -> None:
        self._config = config
        self._telemetry = telemetry
        self._engines = engines
        self._collectors = collectors
        self._endpoint: MetricsEndpoint | None = None

    def endpoint(self) -> MetricsEndpoint:
        """The registry every scrape renders, with the extra collectors (built on the first call)."""
        if self._endpoint is None:
            from llm_simulator.telemetry.prometheus import MetricsEndpoint

            config, engines = self._config, self._engines
            endpoint = MetricsEndpoint(
                self._telemetry,
                lambda: config.security.max_concurrent_requests or 0,
                (lambda: engines) if engines is not None else None,
            )
            # More families read at scrape time (the adapters' and their infra's).
            for collector in self._collectors():
                endpoint.registry.register(collector)
            self._endpoint = endpoint
        return self._endpoint

    def routes(self) -> list[Route]:
        """``GET /metrics`` (when enabled) and ``GET /admin/stats/export``."""
        routes = [Route("GET", "/admin/stats/export", self.export, "admin")]
        if self._config.telemetry.metrics.enabled:
            routes.append(Route("GET", "/metrics", self.metrics, "metrics"))
        return routes

    async def metrics(self, request: HttpRequest) -> Response:
        """The Prometheus text exposition of every worker's aggregates."""
        from llm_simulator.telemetry.prometheus import CONTENT_TYPE

        body = self.endpoint().render()
        return JsonResponse(200, body, [(b"content-type", CONTENT_TYPE.encode()), (b"cache-control", b"no-store")])

    async def export(self, request: HttpRequest) -> Response:
        """Aggregates per provider/model and per provider/model/key: ``?format=json`` (default) or ``csv``.

        ``?by=model`` (default) or ``?by=key`` picks the rows of a CSV export.
        """
        fmt = request.query.get("format", "json")
        by = request.query.get("by", "model")
        if fmt not in ("json", "csv"):
            raise invalid(f"format must be json or csv, got {fmt!r}", param="format")
        if by not in ("model", "key"):
            raise invalid(f"by must be model or key, got {by!r}", param="by")
        stats = self._telemetry.merged_stats()
        if fmt == "json":
            payload = {"since": stats.since, "models": stats.model_rows(), "keys": stats.key_rows()}
            return JsonResponse(200, orjson.dumps(payload), [JSON_CONTENT_TYPE, (b"cache-control", b"no-store")])
        if by == "model":
            body = _csv(MODEL_COLUMNS, [_flatten(row) for row in stats.model_rows()])
        else:
            body = _csv(KEY_COLUMNS, stats.key_rows())
        headers = [
            (b"content-type", b"text/csv; charset=utf-8"),
            (b"content-disposition", f'attachment; filename="llm-simulator-stats-{by}.csv"'.encode()),
            (b"cache-control", b"no-store"),
        ]
        return JsonResponse(200, body, headers)


def _flatten(row: dict[str, Any]) -> dict[str, Any]:
    """A model row with its latency summaries spread into ``<name>_<part>`` columns."""
    flat = {k: v for k, v in row.items() if k not in _LATENCIES}
    for name in _LATENCIES:
        for part in _SUMMARY:
            flat[f"{name}_{part}"] = row[name][part]
    return flat


def _csv(columns: tuple[str, ...], rows: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()
