"""One upstream of an adapter (a URL or a file), reached through ``InfraContext``, with its health.

``Upstream.get(parse)`` returns the parsed value from the shared TTL cache, or loads it: each
attempt fetches the bytes and parses them through the upstream's circuit breaker, retried per
the shared policy (with its budget). Bad data (``UpstreamDataError``) opens the breaker like
any failure but is not retried at once: the same bytes would come back. Whatever happens, the
caller keeps serving what it had (last good data, else its built-in default); the upstream
records the outcome so the degradation shows in health, metrics and the log.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from llm_simulator.infra.circuit_breaker import CircuitOpenError
from llm_simulator.infra.context import InfraContext

if TYPE_CHECKING:
    # httpx (with rich, click and pygments) costs ~0.1 s to import: only an adapter with a URL
    # source needs it, so it is imported when one is fetched.
    import httpx

log = logging.getLogger("llm_simulator.adapters")
T = TypeVar("T")

# Larger upstream documents are refused (a profile document is a few kB; a per-request
# measurement export of a long run tens of MB).
MAX_UPSTREAM_BYTES = 64 * 1024 * 1024

Status = Literal["starting", "ok", "degraded"]


class UpstreamError(Exception):
    """The upstream could not be read (transport, HTTP status, file system)."""


class UpstreamDataError(UpstreamError):
    """The upstream answered, but with data that cannot be used (garbage, wrong shape)."""


def never_retry_bad_data(exc: Exception) -> bool:
    """The retry predicate of the adapters' context: bad data comes back the same if retried now."""
    return not isinstance(exc, UpstreamDataError)


@dataclass
class UpstreamCounters:
    """Outcomes of this upstream's loads (for ``/metrics``)."""

    ok: int = 0
    failed: int = 0
    refused: int = 0  # the circuit breaker was open: no call was made


class Upstream:
    """A URL or file an adapter reads, with the outcome of its last load."""

    def __init__(
        self,
        adapter: str,
        location: str,
        *,
        is_url: bool,
        infra: InfraContext,
        timeout_s: float,
        ttl_s: float,
        wall: Callable[[], float],
    ) -> None:
        self.adapter = adapter
        self.location = location
        self.is_url = is_url
        self.breaker_name = f"{adapter}:{location}"
        self._infra = infra
        self._timeout_s = timeout_s
        self._ttl_s = ttl_s
        self._wall = wall
        self._client: httpx.AsyncClient | None = None
        self.status: Status = "starting"
        self.last_success_at: float | None = None
        self.last_attempt_at: float | None = None
        self.last_error: str | None = None
        self.consecutive_failures = 0
        self.counters = UpstreamCounters()

    @property
    def cache_key(self) -> tuple[str, str]:
        """The key of this upstream in the shared cache."""
        return (self.adapter, self.location)

    def bind_client(self, client: httpx.AsyncClient | None) -> None:
        """The HTTP client URL upstreams use (one per adapter, opened in the running loop)."""
        self._client = client

    async def _fetch(self) -> bytes:
        """The raw bytes: one attempt, bounded by the timeout."""
        if not self.is_url:
            path = Path(self.location)
            try:
                data = await asyncio.wait_for(asyncio.to_thread(path.read_bytes), self._timeout_s)
            except OSError as exc:
                raise UpstreamError(f"cannot read {self.location}: {exc.strerror or exc}") from None
            except TimeoutError:
                raise UpstreamError(f"reading {self.location} took over {self._timeout_s:g} s") from None
        else:
            if self._client is None:
                raise UpstreamError("the adapter is not started (no HTTP client)")
            import httpx  # loaded with the client that exists by now

            try:
                response = await self._client.get(self.location, timeout=self._timeout_s)
            except httpx.TimeoutException:
                raise UpstreamError(f"no answer from {self.location} within {self._timeout_s:g} s") from None
            except httpx.HTTPError as exc:
                raise UpstreamError(f"{self.location}: {type(exc).__name__}: {exc}") from None
            if response.status_code >= 400:
                raise UpstreamError(f"{self.location} answered HTTP {response.status_code}")
            data = response.content
        if len(data) > MAX_UPSTREAM_BYTES:
            raise UpstreamDataError(f"{self.location}: {len(data)} bytes is over the {MAX_UPSTREAM_BYTES}-byte limit")
        return data

    async def get(self, parse: Callable[[bytes], T], *, force: bool = False) -> T:
        """The parsed upstream value: cached for the TTL, else fetched and parsed now.

        Raises what the last attempt raised (``UpstreamError``, ``UpstreamDataError``,
        ``CircuitOpenError``) after recording it; the caller decides what to serve instead.
        """
        if force:
            self._infra.cache.delete(self.cache_key)

        async def attempt() -> Any:
            return parse(await self._fetch())

        async def load() -> Any:
            self.last_attempt_at = self._wall()
            return await self._infra.acall(self.breaker_name, attempt)

        try:
            value: T = await self._infra.cache.aget_or_insert(self.cache_key, load, ttl_s=self._ttl_s)
        except CircuitOpenError as exc:
            self.counters.refused += 1
            self._failed(
                f"circuit open: not called (retry in {exc.retry_after_s:.1f} s); last error: {self.last_error}"
            )
            raise
        except Exception as exc:
            self.counters.failed += 1
            self._failed(str(exc) or type(exc).__name__)
            raise
        return value

    def loaded(self) -> None:
        """Record that fresh data from this upstream is now served."""
        self.counters.ok += 1
        self.last_success_at = self._wall()
        if self.status == "degraded":
            log.info("adapter %s: upstream %s is back", self.adapter, self.location)
        self.status = "ok"
        self.consecutive_failures = 0
        self.last_error = None

    def _failed(self, reason: str) -> None:
        self.consecutive_failures += 1
        self.last_error = reason
        if self.status != "degraded":
            log.warning("adapter %s: upstream %s failed, serving older data: %s", self.adapter, self.location, reason)
        self.status = "degraded"

    def health(self) -> dict[str, Any]:
        """JSON-ready: status, timestamps (Unix seconds), the last error and the breaker state."""
        return {
            "location": self.location,
            "status": self.status,
            "last_success_at": self.last_success_at,
            "last_attempt_at": self.last_attempt_at,
            "consecutive_failures": self.consecutive_failures,
            "last_error": self.last_error,
            "breaker": str(self._infra.breaker(self.breaker_name).state),
        }
