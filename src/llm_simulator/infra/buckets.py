"""Token buckets behind a small async interface, so a shared (Redis) store can replace memory.

A bucket holds up to ``capacity`` units and refills continuously at ``refill_per_s``. A
request names every bucket it draws from (requests per minute, tokens per minute, ...) and
takes from all of them or from none: ``take`` is atomic over its demands. The in-memory
store never awaits inside an operation, so on one event loop concurrent requests are
serialised exactly (N concurrent requests against L units admit exactly L); a shared store
must give the same guarantee (the Redis one, ``infra/state/redis_store.py``, runs ``take``
as one Lua script).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Protocol

# Buckets kept in memory; the least recently used are forgotten beyond it (a forgotten
# bucket comes back full, which errs on the side of admitting).
MAX_BUCKETS = 100_000


@dataclass(frozen=True, slots=True)
class Demand:
    """Draw ``amount`` from bucket ``bucket`` (created full with this shape on first use)."""

    bucket: str
    capacity: float
    refill_per_s: float
    amount: float


@dataclass(frozen=True, slots=True)
class Level:
    """A bucket after an operation: what is left, and seconds until it is full again."""

    bucket: str
    remaining: float
    full_in_s: float


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why ``take`` admitted nothing: demand ``index`` could not be met.

    ``retry_after_s`` is when that bucket will hold the amount (``inf`` if it never can,
    because the amount exceeds its capacity).
    """

    index: int
    remaining: float
    retry_after_s: float


class BucketStore(Protocol):
    """Where bucket levels live (this process's memory, or a store shared by replicas)."""

    async def take(self, demands: Sequence[Demand], now: float) -> tuple[list[Level], Refusal | None]:
        """Take every demand, or none; the levels after the operation either way."""
        ...

    async def adjust(self, demand: Demand, now: float) -> None:
        """Add ``-demand.amount`` to a bucket without checks (a refund, or a late charge into debt)."""
        ...

    async def count(self) -> int:
        """How many buckets are tracked."""
        ...

    async def clear(self) -> None:
        """Forget every bucket (all start full again)."""
        ...


class MemoryBucketStore:
    """Buckets in this process's memory, refilled lazily when touched."""

    def __init__(self, max_buckets: int = MAX_BUCKETS) -> None:
        # bucket → [level, time of last update]
        self._buckets: OrderedDict[str, list[float]] = OrderedDict()
        self._max = max_buckets

    def _level(self, demand: Demand, now: float) -> list[float]:
        """The bucket's state refilled up to ``now``: level = min(capacity, level + Δt × rate)."""
        state = self._buckets.get(demand.bucket)
        if state is None:
            state = [demand.capacity, now]
            self._buckets[demand.bucket] = state
            if len(self._buckets) > self._max:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(demand.bucket)
            # Never move a bucket's clock back (a late adjustment carries an older ``now``):
            # that would credit the same refill twice.
            elapsed = now - state[1]
            if elapsed > 0:
                state[0] = min(demand.capacity, state[0] + elapsed * demand.refill_per_s)
                state[1] = now
        return state

    @staticmethod
    def _full_in(level: float, demand: Demand) -> float:
        """Seconds until the bucket is full: (capacity − level) / rate."""
        if level >= demand.capacity:
            return 0.0
        return (demand.capacity - level) / demand.refill_per_s

    async def take(self, demands: Sequence[Demand], now: float) -> tuple[list[Level], Refusal | None]:
        """Take every demand, or none (no await inside: atomic on the event loop)."""
        return self.take_now(demands, now)

    def take_now(self, demands: Sequence[Demand], now: float) -> tuple[list[Level], Refusal | None]:
        """``take`` for a synchronous caller (this store never waits): every demand, or none."""
        states = [self._level(d, now) for d in demands]
        refusal: Refusal | None = None
        for index, (demand, state) in enumerate(zip(demands, states, strict=True)):
            if state[0] < demand.amount:
                # Time until the level reaches the amount: (amount − level) / rate; never,
                # when the amount exceeds what the bucket can hold.
                never = demand.amount > demand.capacity
                wait = math.inf if never else (demand.amount - state[0]) / demand.refill_per_s
                refusal = Refusal(index, max(0.0, state[0]), wait)
                break
        if refusal is None:
            for demand, state in zip(demands, states, strict=True):
                state[0] -= demand.amount
        levels = [
            Level(d.bucket, state[0], self._full_in(state[0], d)) for d, state in zip(demands, states, strict=True)
        ]
        return levels, refusal

    async def adjust(self, demand: Demand, now: float) -> None:
        """Subtract ``demand.amount`` (negative: a refund), capped at capacity; debt is allowed."""
        state = self._level(demand, now)
        state[0] = min(demand.capacity, state[0] - demand.amount)

    async def count(self) -> int:
        """How many buckets are tracked."""
        return len(self._buckets)

    def retain(self, names: Collection[str]) -> None:
        """Forget every bucket not named in ``names`` (their owners are gone)."""
        for name in [n for n in self._buckets if n not in names]:
            del self._buckets[name]

    async def clear(self) -> None:
        """Forget every bucket."""
        self._buckets.clear()
