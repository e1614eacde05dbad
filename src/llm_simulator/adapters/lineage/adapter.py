"""The lineage adapter: records every simulated conversation as a graph (``graph.py``).

``wrap`` turns an inference route into one that reads the request (``extract.from_request``),
lets the route answer, then reads the answer — a JSON body at once, a stream's frames as they
pass (up to ``max_stream_bytes``, recorded when the stream ends however it ends) — and adds
the turn to its session. The session is the ``x-session-id`` header's, else the session of the
response a ``previous_response_id`` names, else the one whose conversation opens the same way,
else a new one. Recording never changes or delays an answer: a failure here is logged and
the exchange goes on.

Exported graphs (``sources``: files or URLs, through the shared ``InfraContext``) prime
sessions' history: their turns and tool calls are in the graph before any request, and a new
turn of such a session (by header, or by a ``previous_response_id`` of theirs) continues them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import orjson

from llm_simulator.adapters.lineage.extract import Exchange, add_response, from_request, stream_documents
from llm_simulator.adapters.lineage.graph import LineageGraph
from llm_simulator.adapters.sourced import SourcedAdapter
from llm_simulator.adapters.upstream import UpstreamDataError
from llm_simulator.config.adapters import LineageAdapterConfig  # runtime: the base class is subscripted with it
from llm_simulator.core.http import Handler, HttpRequest, JsonResponse, Response, Route, StreamResponse

log = logging.getLogger("llm_simulator.adapters")

NAME = "lineage"
RECORDED_ENDPOINTS = frozenset({"chat", "completion", "responses", "messages", "generate"})


def _parse_graph(location: str) -> Callable[[bytes], dict[str, Any]]:
    def parse(data: bytes) -> dict[str, Any]:
        try:
            doc = json.loads(data.decode("utf-8-sig"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise UpstreamDataError(f"{location}: not a JSON lineage graph: {exc}") from None
        if (
            not isinstance(doc, dict)
            or not isinstance(doc.get("nodes"), list)
            or not isinstance(doc.get("edges"), list)
        ):
            raise UpstreamDataError(f"{location}: expected {{nodes: [...], edges: [...]}} (GET /admin/lineage's shape)")
        try:
            LineageGraph(1_000_000, 1_000_000).prime(doc)  # validate before it touches the live graph
        except ValueError as exc:
            raise UpstreamDataError(f"{location}: {exc}") from None
        return doc

    return parse


class LineageAdapter(SourcedAdapter[LineageAdapterConfig]):
    """The conversation graph of one worker, and the route wrapper that feeds it."""

    name = NAME

    def setup(self) -> None:
        """The adapter's own state (``SourcedAdapter.__init__`` calls it)."""
        config = self.config
        self.graph = LineageGraph(config.max_sessions, config.max_turns)
        self._primed: dict[str, dict[str, Any]] = {}
        self.recorded = 0
        self.failures = 0

    # -- recording ------------------------------------------------------------------------------------

    def wrap(self, route: Route, provider: str) -> Route:
        """``route`` with its exchanges recorded (inference endpoints only; others unchanged)."""
        if route.endpoint not in RECORDED_ENDPOINTS and route.endpoint_of is None:
            return route
        return dataclasses.replace(route, handler=self._recording(route.handler))

    def _recording(self, handler: Handler) -> Handler:
        async def handle(request: HttpRequest) -> Response:
            if request.endpoint not in RECORDED_ENDPOINTS:
                return await handler(request)
            found = self._read_request(request)
            response = await handler(request)
            if found is None:
                return response
            if isinstance(response, StreamResponse):
                return dataclasses.replace(response, frames=self._tee(response.frames, request, found))
            if isinstance(response, JsonResponse):
                with contextlib.suppress(orjson.JSONDecodeError):
                    add_response(found, orjson.loads(response.body))
                self._record(request, found, response.status)
            return response

        return handle

    def _read_request(self, request: HttpRequest) -> Exchange | None:
        try:
            body = orjson.loads(request.body) if request.body else None
        except orjson.JSONDecodeError:
            return None
        return from_request(body) if isinstance(body, Mapping) else None

    async def _tee(self, frames: AsyncIterator[bytes], request: HttpRequest, found: Exchange) -> AsyncIterator[bytes]:
        kept: list[bytes] = []
        size = 0
        try:
            async for frame in frames:
                if size < self.config.max_stream_bytes:
                    kept.append(frame)
                    size += len(frame)
                yield frame
        finally:
            for doc in stream_documents(b"".join(kept)):
                add_response(found, doc)
            self._record(request, found, 200)

    def _record(self, request: HttpRequest, found: Exchange, status: int) -> None:
        try:
            sid, how = self.graph.session_for(request.headers.get(self.config.session_header), found)
            if not sid:
                sid = f"s-{request.request_id}"
            record = request.exchange.record
            if record is not None:
                found.step = record.scenario_step
            model = found_model(request)
            attrs = {"endpoint": request.endpoint, "model": model, "status": status, "at": self._sim.clock.wall()}
            self.graph.record(sid, how, request.request_id, found, attrs)
            self.recorded += 1
        except Exception:  # recording must never disturb an answer
            self.failures += 1
            log.exception("adapter %s: could not record %s", NAME, request.request_id)

    # -- priming from sources ----------------------------------------------------------------------------

    def prime(self, doc: Mapping[str, Any]) -> int:
        """Add an exported graph as sessions' history (replacing sessions of the same ids); raises ``ValueError``."""
        LineageGraph(1_000_000, 1_000_000).prime(doc)  # all or nothing: check before changing the live graph
        for node in doc.get("nodes", []):
            old = self.graph.sessions.pop(str(node.get("session")), None)
            if old is not None:
                self.graph.forget(old)
        return self.graph.prime(doc)

    async def refresh(self, *, force: bool = False) -> None:
        """Load every source; a new document primes its sessions again (the last good one stays on failure)."""
        for upstream in self._upstreams:
            try:
                doc = await upstream.get(_parse_graph(upstream.location), force=force)
            except Exception:  # recorded by the upstream
                continue
            if doc is not self._primed.get(upstream.location):
                self._primed[upstream.location] = doc
                sessions = self.prime(doc)
                upstream.loaded()
                log.info("adapter %s: %d sessions primed from %s", NAME, sessions, upstream.location)

    # -- views -------------------------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """Status, sources, and the graph's size."""
        return {
            "status": self.source_status(),
            "sources": [u.health() for u in self._upstreams],
            "sessions": len(self.graph.sessions),
            "turns_recorded": self.recorded,
            "sessions_dropped": self.graph.dropped_sessions,
            "record_failures": self.failures,
        }


def found_model(request: HttpRequest) -> str:
    """The model the request names (its body's ``model``, or Gemini's path)."""
    target = request.path_params.get("target", "")
    if target:
        return target.rpartition(":")[0] or target
    try:
        body = orjson.loads(request.body)
    except orjson.JSONDecodeError:
        return ""
    model = body.get("model") if isinstance(body, dict) else None
    return model if isinstance(model, str) else ""
