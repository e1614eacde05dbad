"""The worker's state backend, chosen by ``state`` in the config (docs/scaling.md).

``FleetState`` builds the stores (memory, or Redis through ``infra/state``) and, when they
are shared, follows the fleet's documents: the chaos configuration with its scenario clock
(a change through any replica's admin API reaches the others within ``sync_interval_s``,
0.25 s by default), the fixtures loaded or cleared through the admin API, circuit-breaker
openings and resets, and the stats reset. The server
runs it as a background service.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import orjson

from llm_simulator.config.state import StateConfig
from llm_simulator.engine.chaos.breaker_sync import BreakerSync
from llm_simulator.engine.chaos.controller import ChaosController
from llm_simulator.engine.script.shared import SharedFixtures
from llm_simulator.infra.state.backends import RedisStores, StateStores, memory_stores
from llm_simulator.infra.state.follow import Follower

log = logging.getLogger("llm_simulator.state")


def build_stores(config: StateConfig) -> tuple[StateStores, RedisStores | None]:
    """The stores the config selects, and the Redis connection behind them (None in memory)."""
    if config.backend == "memory" or config.url is None:
        return memory_stores(), None
    redis = RedisStores(
        config.url,
        on_error=config.on_error,
        prefix=config.key_prefix,
        timeout_s=config.timeout_s,
        retry_after_s=config.retry_after_s,
    )
    return redis.stores, redis


class FleetState:
    """The stores, the connection and the document followers of one worker."""

    def __init__(self, config: StateConfig, stores: StateStores, redis: RedisStores | None) -> None:
        self.config = config
        self.stores = stores
        self._redis = redis
        self._followers: list[Follower | BreakerSync] = []
        self._resets: Follower | None = None
        self._task: asyncio.Task[None] | None = None

    def follow_chaos(self, chaos: ChaosController) -> None:
        """Share ``chaos`` with the fleet (nothing to do in memory)."""
        if not self.stores.shared:
            return

        def apply(raw: bytes) -> None:
            chaos.restore(orjson.loads(raw))

        follower = Follower("chaos state", self.stores.chaos, lambda: orjson.dumps(chaos.snapshot()), apply, seed=True)
        chaos.on_change = follower.publish
        self._followers.append(follower)
        if chaos.breakers is not None:
            self._followers.append(BreakerSync(chaos.breakers, self.stores.breakers))

    def follow_fixtures(self, fixtures: SharedFixtures) -> None:
        """Share the fixtures loaded or cleared through the admin API (nothing to do in memory)."""
        if not self.stores.shared:
            return

        def apply(raw: bytes) -> None:
            fixtures.restore(orjson.loads(raw))

        # Not seeded: the configured files are every replica's own; only admin changes travel.
        follower = Follower(
            "fixtures", self.stores.fixtures, lambda: orjson.dumps(fixtures.snapshot()), apply, seed=False
        )
        fixtures.on_change = follower.publish
        self._followers.append(follower)

    def follow_resets(self, reset: Callable[[], None]) -> None:
        """Run ``reset`` (this worker's statistics) whenever another replica resets its own."""
        if self.stores.shared:
            self._resets = Follower(
                "stats reset", self.stores.stats_reset, lambda: b"{}", lambda _: reset(), seed=False
            )
            self._followers.append(self._resets)

    async def reset_fleet(self) -> None:
        """Tell the other replicas that statistics were reset here."""
        if self._resets is not None:
            await self._resets.publish()

    async def _follow(self) -> None:
        for follower in self._followers:
            await follower.seed()
        while True:
            for follower in self._followers:
                try:
                    await follower.poll()
                except Exception:  # one bad document must not stop the fleet's others
                    log.exception("following the fleet's %s failed", follower.name)
            await asyncio.sleep(self.config.sync_interval_s)

    def start(self) -> None:
        """Start following the fleet (inside the worker's event loop)."""
        if self._followers and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._follow())

    async def aclose(self) -> None:
        """Stop following and close the connection."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._redis is not None:
            await self._redis.aclose()
