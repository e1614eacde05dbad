"""Forwarding: one pooled HTTP client to the upstreams, responses relayed as they arrive.

A JSON (or any non-stream) answer is read whole and passed back with its status, body and
headers untouched (an upstream 429 keeps its ``retry-after`` and rate-limit headers). An
event stream is relayed chunk by chunk, each chunk sent the moment it arrives: nothing is
buffered. An upstream that cannot be reached becomes the provider's own 502 (a timeout its
504), raised as a ``SimulatorError`` for the owning provider to render.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from llm_simulator.config.proxy import ProxyConfig
from llm_simulator.core.errors import ErrorKind, SimulatorError
from llm_simulator.core.faults import Admission
from llm_simulator.core.http import HttpRequest, JsonResponse, Response
from llm_simulator.engine.simulator import Simulator
from llm_simulator.proxy.cassette import Take
from llm_simulator.proxy.faults import relayed_stream
from llm_simulator.proxy.pacing import slowed, stretched, wait_until
from llm_simulator.proxy.wire import downstream_headers, query_pairs, upstream_headers, upstream_query

if TYPE_CHECKING:
    # Imported when proxy mode opens its pools: a server that never forwards skips its ~0.1 s import.
    import httpx


def is_stream(response: httpx.Response, request: HttpRequest) -> bool:
    """Whether to relay the upstream's answer chunk by chunk (an SSE stream, or Gemini's streamed array)."""
    if response.status_code != 200:
        return False
    kind = response.headers.get("content-type", "")
    return kind.startswith("text/event-stream") or request.path.endswith(":streamGenerateContent")


# The pool is split in shards, each its own client, taken in turn. httpcore scans every
# connection of a pool (and polls each idle one's socket) whenever a request starts or ends,
# so one pool of 100 costs O(connections) per request: measured, a third of the proxy's CPU
# with 64 concurrent streams. Shards of at most 8 connections keep each scan short.
_SHARD_CONNECTIONS = 8


class Forwarder:
    """Sends requests upstream over keep-alive pools (shards of one pool) with bounded timeouts."""

    def __init__(self, config: ProxyConfig, sim: Simulator) -> None:
        self._config = config
        self._sim = sim
        self._clients: list[httpx.AsyncClient] = []
        self._turn = 0

    def client(self) -> httpx.AsyncClient:
        """The next shard's pooled client; the shards are made on first use (inside the worker's event loop)."""
        clients = self._clients
        if not clients:
            import httpx

            config = self._config
            shards = -(-config.max_connections // _SHARD_CONNECTIONS)
            size = -(-config.max_connections // shards)
            timeout = httpx.Timeout(config.read_timeout_s, connect=config.connect_timeout_s)
            limits = httpx.Limits(max_connections=size, max_keepalive_connections=size)
            clients.extend(
                httpx.AsyncClient(timeout=timeout, limits=limits, follow_redirects=False, trust_env=False)
                for _ in range(shards)
            )
        self._turn = (self._turn + 1) % len(clients)
        return clients[self._turn]

    async def aclose(self) -> None:
        """Close the pools (at the worker's shutdown)."""
        clients, self._clients = self._clients, []
        for client in clients:
            await client.aclose()

    async def forward(
        self,
        request: HttpRequest,
        provider: str,
        base: str,
        take: Take | None,
        admission: Admission | None = None,
        started: float | None = None,
    ) -> Response:
        """Send ``request`` to ``base`` and answer with what comes back (``take`` records it).

        What admission left for the answer acts on it: its stream fault strikes on a relayed
        stream (``proxy/faults.py``) and its ``latency_scale`` stretches the answer's time
        since ``started`` (the request's arrival; ``proxy/pacing.py``). The recording keeps
        what the upstream sent, when it sent it.
        """
        import httpx  # loaded by ``client()`` already: a dictionary lookup

        sim = self._sim
        started = sim.clock.now() if started is None else started
        scale = admission.latency_scale if admission is not None else 1.0
        fault = admission.fault if admission is not None else None
        key = self._config.api_keys.get(provider)  # type: ignore[call-overload]
        secret = key.get_secret_value() if key is not None else None
        client = self.client()
        outgoing = client.build_request(
            request.method,
            base + request.path,
            params=urlencode(upstream_query(query_pairs(request), secret)),
            headers=upstream_headers(request.headers, provider, secret),
            content=request.body,
        )
        try:
            response = await client.send(outgoing, stream=True)
        except httpx.TimeoutException as exc:
            raise SimulatorError(
                ErrorKind.TIMEOUT,
                f"The upstream {base} did not answer in time ({type(exc).__name__}).",
                code="upstream_timeout",
            ) from None
        except httpx.HTTPError as exc:
            raise SimulatorError(
                ErrorKind.BAD_GATEWAY,
                f"The upstream {base} cannot be reached: {exc or type(exc).__name__}.",
                code="upstream_unreachable",
            ) from None
        stream = is_stream(response, request)
        headers = downstream_headers(response.headers.raw, stream=stream)
        if take is not None:
            take.response(response.status_code, headers)
        if stream:
            frames = _relay(response, take)
            if scale > 1.0:
                frames = slowed(frames, scale, sim, started)
            return relayed_stream(frames, headers, provider, fault, sim)
        try:
            body = await response.aread()
        except httpx.HTTPError as exc:
            raise SimulatorError(
                ErrorKind.BAD_GATEWAY,
                f"The upstream {base} broke off its answer: {exc or type(exc).__name__}.",
                code="upstream_broken",
            ) from None
        finally:
            await response.aclose()
        if take is not None:
            take.body(body)
        if scale > 1.0:
            await wait_until(sim, stretched(started, sim.clock.now(), scale))
        return JsonResponse(response.status_code, body, headers)


async def _relay(response: httpx.Response, take: Take | None) -> AsyncIterator[bytes]:
    """The upstream's stream, chunk by chunk as the socket delivers it (noted by ``take``)."""
    try:
        async for chunk in response.aiter_raw():
            if take is not None:
                take.chunk(chunk)
            yield chunk
    finally:
        await response.aclose()
        if take is not None:
            take.close()
