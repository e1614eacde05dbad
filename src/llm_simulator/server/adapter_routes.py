"""The adapters' routes: their health, profiles' origins, and the observatory's receiver.

``/admin/adapters`` (the adapters' health and shared infra), ``/admin/profiles`` (each
profile's origin), and the observatory's routes when it is enabled: its OTLP/HTTP receiver
(``POST /v1/traces``, JSON encoding) and ``GET /admin/observatory``.
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING, Any

import orjson

from llm_simulator.adapters.otlp import OtlpError
from llm_simulator.core.http import JSON_CONTENT_TYPE, HttpRequest, JsonResponse, Response, Route

if TYPE_CHECKING:
    from llm_simulator.adapters.lineage.adapter import LineageAdapter
    from llm_simulator.adapters.observatory.adapter import ObservatoryAdapter
    from llm_simulator.adapters.registry import AdapterRegistry
    from llm_simulator.adapters.router.adapter import RouterAdapter

# A gzipped export inflating past this is refused (a bomb would take the worker's memory).
MAX_INFLATED_BYTES = 64 * 1024 * 1024
# google.rpc.Code values of the OTLP/HTTP error body (``Status``).
_INVALID_ARGUMENT = 3


def _json(payload: object, status: int = 200) -> JsonResponse:
    return JsonResponse(status, orjson.dumps(payload), [JSON_CONTENT_TYPE, (b"cache-control", b"no-store")])


def _otlp_error(status: int, message: str) -> JsonResponse:
    """An OTLP/HTTP failure: the status code and a ``google.rpc.Status`` body (JSON encoding)."""
    return _json({"code": _INVALID_ARGUMENT, "message": message}, status)


def _inflate(body: bytes) -> bytes:
    inflater = zlib.decompressobj(wbits=31)
    data = inflater.decompress(body, MAX_INFLATED_BYTES)
    if inflater.unconsumed_tail:
        raise ValueError(f"the gzipped body inflates past {MAX_INFLATED_BYTES} bytes")
    return data


class ObservatoryRoutes:
    """The OTLP/HTTP trace receiver and the observatory's admin view."""

    def __init__(self, observatory: ObservatoryAdapter) -> None:
        self._observatory = observatory

    def routes(self) -> list[Route]:
        """``POST /v1/traces`` (when the receiver is on) and ``GET /admin/observatory``."""
        routes = [Route("GET", "/admin/observatory", self.summary, "admin")]
        if self._observatory.config.receiver:
            routes.append(Route("POST", "/v1/traces", self.traces, "admin"))
        return routes

    async def traces(self, request: HttpRequest) -> Response:
        """Accept an ``ExportTraceServiceRequest`` (OTLP/HTTP, JSON encoding, optionally gzipped).

        Answers 200 with an ``ExportTraceServiceResponse`` (``{}``, or ``partialSuccess`` when
        no span was an LLM call), 415 for protobuf, 400 with a ``Status`` for malformed data.
        """
        content_type = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
        if content_type != "application/json":
            return _otlp_error(
                415,
                f"content-type {content_type!r}: only OTLP/HTTP JSON is accepted "
                "(set OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=http/json)",
            )
        body = request.body
        if request.headers.get("content-encoding", "").lower() == "gzip":
            try:
                body = _inflate(body)
            except (zlib.error, ValueError) as exc:
                return _otlp_error(400, f"content-encoding gzip: {exc}")
        try:
            accepted = self._observatory.ingest(body)
        except OtlpError as exc:
            return _otlp_error(400, str(exc))
        payload: dict[str, Any] = {}
        if accepted == 0:
            payload["partialSuccess"] = {
                "rejectedSpans": "0",
                "errorMessage": "no LLM call spans (gen_ai.*) in the request",
            }
        return _json(payload)

    async def summary(self, request: HttpRequest) -> Response:
        """Per-model summaries of the observed calls, and what was applied (or not, and why)."""
        return _json(self._observatory.snapshot())


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


class RouterRoutes:
    """The router's admin API: its rules and decisions, and the rules set at run time."""

    def __init__(self, router: RouterAdapter) -> None:
        self._router = router

    def routes(self) -> list[Route]:
        """``GET /admin/router``, ``PUT /admin/router/rules``, ``DELETE /admin/router/rules``."""
        return [
            Route("GET", "/admin/router", self.view, "admin"),
            Route("PUT", "/admin/router/rules", self.replace, "admin"),
            Route("DELETE", "/admin/router/rules", self.clear, "admin"),
        ]

    async def view(self, request: HttpRequest) -> Response:
        """Every rule in evaluation order with its origin, and the decisions counted."""
        return _json(self._router.snapshot())

    async def replace(self, request: HttpRequest) -> Response:
        """Replace the admin rules with the body's (``{"rules": [...]}`` or a list); 400 naming a bad field."""
        from llm_simulator.adapters.router.adapter import parse_rules
        from llm_simulator.adapters.upstream import UpstreamDataError

        try:
            rules = parse_rules(orjson.loads(request.body or b"null"), "body")
        except orjson.JSONDecodeError as exc:
            return _json({"error": {"message": f"body: invalid JSON: {exc}", "type": "invalid_request"}}, 400)
        except UpstreamDataError as exc:
            return _json({"error": {"message": str(exc), "type": "invalid_request"}}, 400)
        self._router.set_admin_rules(rules)
        return _json(self._router.snapshot())

    async def clear(self, request: HttpRequest) -> Response:
        """Drop the admin rules (the config's and the sources' stay)."""
        self._router.set_admin_rules(())
        return _json(self._router.snapshot())


class LineageRoutes:
    """``/admin/lineage``: the conversation graph, exported, primed and cleared."""

    _FORMATS = frozenset({"json", "graphml", "dot"})

    def __init__(self, lineage: LineageAdapter) -> None:
        self._lineage = lineage

    def routes(self) -> list[Route]:
        """``GET``, ``POST`` (prime) and ``DELETE /admin/lineage``."""
        return [
            Route("GET", "/admin/lineage", self.view, "admin"),
            Route("POST", "/admin/lineage", self.prime, "admin"),
            Route("DELETE", "/admin/lineage", self.clear, "admin"),
        ]

    async def view(self, request: HttpRequest) -> Response:
        """The graph (``?session=ID`` for one), as ``?format=json`` (default), ``graphml`` or ``dot``."""
        graph = self._lineage.graph
        fmt = request.query.get("format", "json")
        if fmt not in self._FORMATS:
            message = f"format {fmt!r}: use json, graphml or dot"
            return _json({"error": {"message": message, "type": "invalid_request"}}, 400)
        session = request.query.get("session")
        chosen = graph.select(session)
        if session is not None and not chosen:
            return _json({"error": {"message": f"no session {session!r}", "type": "not_found"}}, 404)
        if fmt == "dot":
            return JsonResponse(200, graph.as_dot(chosen).encode(), [(b"content-type", b"text/vnd.graphviz")])
        if fmt == "graphml":
            return JsonResponse(200, graph.as_graphml(chosen).encode(), [(b"content-type", b"application/graphml+xml")])
        return _json(graph.as_json(chosen))

    async def prime(self, request: HttpRequest) -> Response:
        """Add an exported graph as history (``GET /admin/lineage``'s JSON shape); 400 naming the problem."""
        try:
            doc = orjson.loads(request.body or b"null")
            if not isinstance(doc, dict):
                raise ValueError("expected {nodes: [...], edges: [...]}")
            sessions = self._lineage.prime(doc)
        except (orjson.JSONDecodeError, ValueError) as exc:
            return _json({"error": {"message": f"body: {exc}", "type": "invalid_request"}}, 400)
        return _json({"primed_sessions": sessions})

    async def clear(self, request: HttpRequest) -> Response:
        """Forget every session."""
        self._lineage.graph.clear()
        return _json({"sessions": 0})
