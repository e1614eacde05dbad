"""The worker's state backend, chosen by ``state`` in the config (docs/scaling.md).

``FleetState`` builds the stores (memory, or Redis through ``infra/state``) and, when they
are shared, the chaos follower; the server runs it as a background service (started with
the worker, closed at shutdown).
"""

from __future__ import annotations

from llm_simulator.config.state import StateConfig
from llm_simulator.engine.chaos.controller import ChaosController
from llm_simulator.engine.chaos.sync import ChaosSync
from llm_simulator.infra.state.backends import RedisStores, StateStores, memory_stores


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
    """The stores, the connection and the chaos follower of one worker."""

    def __init__(self, config: StateConfig, stores: StateStores, redis: RedisStores | None) -> None:
        self.config = config
        self.stores = stores
        self._redis = redis
        self._sync: ChaosSync | None = None

    def follow(self, chaos: ChaosController) -> None:
        """Share ``chaos`` with the fleet (nothing to do in memory)."""
        if self.stores.shared:
            self._sync = ChaosSync(chaos, self.stores.chaos, self.config.sync_interval_s)

    def start(self) -> None:
        """Start following the fleet (inside the worker's event loop)."""
        if self._sync is not None:
            self._sync.start()

    async def aclose(self) -> None:
        """Stop following and close the connection."""
        if self._sync is not None:
            await self._sync.aclose()
        if self._redis is not None:
            await self._redis.aclose()
