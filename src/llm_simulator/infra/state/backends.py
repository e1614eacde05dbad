"""Build a worker's state stores: all in memory, or all in one Redis."""

from __future__ import annotations

from dataclasses import dataclass, field

from llm_simulator.infra.buckets import BucketStore, MemoryBucketStore
from llm_simulator.infra.state import BlobStore, CounterStore, RecordList, SharedDocument, SharedMap, StepStore
from llm_simulator.infra.state.guard import Guard, OnError
from llm_simulator.infra.state.memory import MemoryBlobStore, MemoryDocument, MemoryMap, MemoryStepStore


@dataclass(frozen=True, slots=True)
class StateStores:
    """One store per kind of state; each consumer is handed only its own.

    ``guard`` is the shared backend's health (None in memory); ``shared`` says whether the
    stores reach other processes at all. ``requests`` (the request log) exists only when
    shared: in memory the log is the telemetry's own ring.
    """

    kind: str
    buckets: BucketStore
    chaos: SharedDocument
    stats_reset: SharedDocument
    breakers: SharedMap
    steps: StepStore
    responses: BlobStore
    requests: RecordList | None = None
    guard: Guard | None = None
    # Fixtures loaded or cleared through the admin API (engine/script/shared.py).
    fixtures: SharedDocument = field(default_factory=MemoryDocument)
    # Test scopes' settings (engine/scopes/): one expiring document per scope.
    scopes: BlobStore = field(default_factory=MemoryBlobStore)
    # Test scopes' counters summed over the fleet (None in memory: each process counts its own).
    scope_counters: CounterStore | None = None

    @property
    def shared(self) -> bool:
        """Whether state is shared with other processes."""
        return self.kind != "memory"


def memory_stores() -> StateStores:
    """Everything in this process (the default)."""
    return StateStores(
        "memory",
        MemoryBucketStore(),
        MemoryDocument(),
        MemoryDocument(),
        MemoryMap(),
        MemoryStepStore(),
        MemoryBlobStore(),
    )


class RedisStores:
    """Stores on one Redis; ``aclose`` closes the connection (kept beside, not in, the bundle)."""

    def __init__(self, url: str, *, on_error: OnError, prefix: str, timeout_s: float, retry_after_s: float) -> None:
        from llm_simulator.infra.state.redis_store import (
            RedisBlobStore,
            RedisBucketStore,
            RedisCounters,
            RedisDocument,
            RedisMap,
            RedisRecordList,
            RedisState,
            RedisStepStore,
        )

        self.state = RedisState(url, on_error=on_error, prefix=prefix, timeout_s=timeout_s, retry_after_s=retry_after_s)
        self.buckets = RedisBucketStore(self.state)
        self.stores = StateStores(
            "redis",
            self.buckets,
            RedisDocument(self.state, "chaos"),
            RedisDocument(self.state, "stats-reset"),
            RedisMap(self.state, "breakers"),
            RedisStepStore(self.state),
            RedisBlobStore(self.state, "responses"),
            RedisRecordList(self.state, "requests"),
            self.state.guard,
            fixtures=RedisDocument(self.state, "fixtures"),
            scopes=RedisBlobStore(self.state, "scopes"),
            scope_counters=RedisCounters(self.state, "scope-counters"),
        )

    async def aclose(self) -> None:
        """Send what is queued, then close the connection pool."""
        await self.buckets.settle()
        await self.state.aclose()
