"""What every adapter with upstream sources shares: the upstreams, the HTTP client, the reload loop, health.

A subclass names its config type (``SourcedAdapter[LineageAdapterConfig]``: the sources are
its ``sources``, URL or file each), builds its own state in ``setup`` and implements
``refresh``; every subclass is built the same way, ``Adapter(config, sim, infra)``. This base
opens the HTTP client only when a source is a URL, runs ``tick`` every ``period()``
(``refresh_s``, or ``retry_s`` while a source fails) until closed, and reports the sources'
combined status: ``degraded`` when any failed its last load, ``starting`` before every
source has loaded once, ``ok`` otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

from llm_simulator.adapters.upstream import Upstream

if TYPE_CHECKING:
    import httpx

    from llm_simulator.config.sources import UpstreamSource
    from llm_simulator.engine.simulator import Simulator
    from llm_simulator.infra.context import InfraContext

log = logging.getLogger("llm_simulator.adapters")


class PolledConfig(Protocol):
    """The settings the base reads from an adapter's config section."""

    @property
    def refresh_s(self) -> float:
        """How long a load is fresh, and how often sources are reloaded."""
        ...

    @property
    def retry_s(self) -> float:
        """How soon a failing source is tried again."""
        ...

    @property
    def timeout_s(self) -> float:
        """One fetch attempt's limit."""
        ...

    @property
    def sources(self) -> Sequence[UpstreamSource]:
        """The upstreams to load, a URL or a file each."""
        ...


ConfigT = TypeVar("ConfigT", bound=PolledConfig)


class SourcedAdapter(Generic[ConfigT]):
    """Upstreams from configured sources, reloaded on a TTL through the shared infra."""

    name = "adapter"

    def __init__(
        self,
        config: ConfigT,
        sim: Simulator,
        infra: InfraContext,
        *,
        asleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self.config = config
        self._sim = sim
        self._asleep = asleep
        self._upstreams = [
            Upstream(
                self.name,
                source.location,
                is_url=source.url is not None,
                infra=infra,
                timeout_s=config.timeout_s,
                ttl_s=config.refresh_s,
                wall=sim.clock.wall,
            )
            for source in config.sources
        ]
        self._client: httpx.AsyncClient | None = None
        self._task: asyncio.Task[None] | None = None
        self.setup()

    def setup(self) -> None:
        """The subclass's own state, built once ``config`` and the upstreams are in place (none here)."""

    @property
    def upstreams(self) -> list[Upstream]:
        """Every source's upstream."""
        return list(self._upstreams)

    def start(self) -> None:
        """Open the HTTP client (for URL sources) and start the loop (needs a running event loop)."""
        if self._task is not None or not self.needs_loop():
            return
        if any(u.is_url for u in self._upstreams):
            import httpx  # only URL sources need it (~0.1 s to import)

            self._client = httpx.AsyncClient(follow_redirects=True, trust_env=False)
        for upstream in self._upstreams:
            upstream.bind_client(self._client)
        self._task = asyncio.get_running_loop().create_task(self._loop(), name=f"adapter-{self.name}")

    def needs_loop(self) -> bool:
        """Whether there is periodic work (by default: only with sources)."""
        return bool(self._upstreams)

    async def aclose(self) -> None:
        """Stop the loop and close the HTTP client."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    def failing(self) -> bool:
        """Whether any source failed its last load (older data or the defaults serve)."""
        return any(u.status == "degraded" for u in self._upstreams)

    def period(self) -> float:
        """Seconds until the next ``tick``: sooner while a source fails."""
        config = self.config
        return min(config.refresh_s, config.retry_s) if self.failing() else config.refresh_s

    async def tick(self) -> None:
        """One round of the loop (by default: ``refresh``)."""
        await self.refresh()

    async def refresh(self, *, force: bool = False) -> None:
        """Load the sources now (``force``: bypassing the cache)."""
        raise NotImplementedError

    async def _loop(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception:  # a bug here must not end the reloads for good
                log.exception("adapter %s: refresh failed", self.name)
            await self._asleep(self.period())

    def source_status(self) -> str:
        """``degraded``, ``starting`` or ``ok`` over the sources (``ok`` without any)."""
        statuses = {u.status for u in self._upstreams}
        return "degraded" if "degraded" in statuses else ("starting" if "starting" in statuses else "ok")
