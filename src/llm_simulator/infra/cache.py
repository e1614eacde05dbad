"""A generic in-memory cache: per-entry TTL, LRU eviction, background expiry, single-flight loads.

An entry stored at time ``t`` with a TTL of ``T`` seconds lives during ``[t, t + T)``: at
``t + T`` exactly it is expired and never returned, whether or not the periodic cleanup has
removed it yet. At capacity, storing a new key evicts the least recently used entry (reads
and writes both count as use; ``in`` does not).

Thread- and task-safe: every operation holds a ``threading.Lock`` for a few dictionary
operations and never runs user code (loaders) under it. ``aget_or_insert`` runs its loader
once however many tasks ask for the same missing key at the same time; ``get_or_insert``
(sync) may run a loader more than once when threads race, like ``functools.lru_cache``,
but every racer gets the same value back (the first one stored).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from types import TracebackType
from typing import Generic, TypeVar, cast, overload

from llm_simulator.infra.clock import Clock, SystemClock

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
D = TypeVar("D")

DEFAULT_TTL_S = 300.0
DEFAULT_MAX_ENTRIES = 10_000
DEFAULT_CLEANUP_INTERVAL_S = 60.0


class _Missing:
    """The "no entry" marker, distinct from a cached ``None``."""


_MISSING = _Missing()


@dataclass(frozen=True, slots=True)
class CacheStats:
    """A snapshot of a cache's counters.

    ``hit_rate`` = hits / (hits + misses), 0.0 before any lookup. ``evictions`` counts entries
    dropped to make room (LRU); ``expirations`` counts expired entries removed, on access or
    by a cleanup. All counters stay 0 when the cache was built with ``stats_enabled=False``.
    """

    hits: int
    misses: int
    evictions: int
    expirations: int
    size: int
    capacity: int
    hit_rate: float


@dataclass(slots=True)
class _Entry(Generic[V]):
    value: V
    expires_at: float  # monotonic seconds; math.inf for an entry that never expires
    weight: float = 0.0  # what the entry counts against max_weight (0 without a weight bound)


@dataclass(slots=True)
class _Flight(Generic[V]):
    """A load in progress for one key, awaited by every caller that asked for it meanwhile."""

    task: asyncio.Task[V]
    loop: asyncio.AbstractEventLoop


class Cache(Generic[K, V]):
    """A TTL + LRU cache with hit/miss statistics and an optional background cleanup task.

    ``ttl_s`` is the default lifetime of an entry (``math.inf``: until evicted); ``set`` and
    the ``get_or_insert`` methods take a per-call ``ttl_s`` override. ``max_entries`` bounds
    the size; ``max_weight`` (default: none) bounds the sum of the weights given to ``set``
    (say, bytes), evicting least recently used entries the same way, and an entry heavier
    than the whole bound is not stored. ``start()`` (inside a running event loop) launches a task that removes expired
    entries every ``cleanup_interval_s`` seconds, so memory is returned even for keys that
    are never read again; ``aclose()`` stops it. ``sleep`` is what that task waits with
    (inject a fake one to drive it from a fake clock; it must really suspend until the fake
    time has come, since a sleep returning at once would make the loop spin).
    """

    def __init__(
        self,
        *,
        ttl_s: float = DEFAULT_TTL_S,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        cleanup_interval_s: float | None = DEFAULT_CLEANUP_INTERVAL_S,
        stats_enabled: bool = True,
        max_weight: float = math.inf,
        clock: Clock | None = None,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        if not ttl_s > 0:
            raise ValueError(f"ttl_s must be > 0, got {ttl_s!r}")
        if max_entries < 1:
            raise ValueError(f"max_entries must be >= 1, got {max_entries!r}")
        if not max_weight > 0:
            raise ValueError(f"max_weight must be > 0, got {max_weight!r}")
        if cleanup_interval_s is not None and not cleanup_interval_s > 0:
            raise ValueError(f"cleanup_interval_s must be > 0 or None, got {cleanup_interval_s!r}")
        self._ttl_s = ttl_s
        self._max = max_entries
        self._max_weight = max_weight
        self._weight = 0.0
        self._cleanup_interval_s = cleanup_interval_s
        self._stats_enabled = stats_enabled
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._sleep = sleep
        # Least recently used first: the front is what goes at capacity.
        self._entries: OrderedDict[K, _Entry[V]] = OrderedDict()
        self._flights: dict[K, _Flight[V]] = {}
        self._lock = threading.Lock()
        self._cleanup_task: asyncio.Task[None] | None = None
        self._hits = 0
        self._misses = 0
        self._evictions = 0
        self._expirations = 0

    # -- configuration -----------------------------------------------------------------

    @property
    def ttl_s(self) -> float:
        """The default time to live of an entry, in seconds."""
        return self._ttl_s

    @property
    def max_entries(self) -> int:
        """The capacity: storing beyond it evicts the least recently used entry."""
        return self._max

    @property
    def stats_enabled(self) -> bool:
        """Whether hits, misses, evictions and expirations are counted."""
        return self._stats_enabled

    # -- reading and writing -----------------------------------------------------------

    @overload
    def get(self, key: K) -> V | None: ...

    @overload
    def get(self, key: K, default: D) -> V | D: ...

    def get(self, key: K, default: object = None) -> object:
        """The live value stored under ``key`` (now most recently used), else ``default``."""
        with self._lock:
            found = self._lookup(key, self._clock.now())
        return default if isinstance(found, _Missing) else found

    def set(self, key: K, value: V, *, ttl_s: float | None = None, weight: float = 0.0) -> None:
        """Store ``value`` under ``key`` for ``ttl_s`` seconds (default: the cache's TTL).

        ``weight`` counts against ``max_weight``; an entry heavier than all of it is not
        stored (it would evict everything else), and any entry already under ``key`` stays.
        """
        expires_at = self._expiry(self._ttl(ttl_s))
        if weight > self._max_weight:
            return
        with self._lock:
            self._store(key, value, expires_at, weight)

    def delete(self, key: K) -> bool:
        """Remove ``key``; whether a live entry was there.

        A load in progress for ``key`` is forgotten too: its result is handed to the callers
        already waiting for it but not stored.
        """
        with self._lock:
            self._flights.pop(key, None)
            entry = self._entries.pop(key, None)
            if entry is not None:
                self._weight -= entry.weight
            return entry is not None and entry.expires_at > self._clock.now()

    def clear(self) -> None:
        """Remove every entry (counters are kept; loads in progress are not stored)."""
        with self._lock:
            self._entries.clear()
            self._flights.clear()
            self._weight = 0.0

    def reset_stats(self) -> None:
        """Set hits, misses, evictions and expirations back to 0."""
        with self._lock:
            self._hits = self._misses = self._evictions = self._expirations = 0

    def __len__(self) -> int:
        """How many entries are stored, counting expired ones not yet cleaned up."""
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        """Whether a live entry exists for ``key``; neither counted nor a use for LRU."""
        with self._lock:
            # ``in`` takes any object (Container protocol); a dict lookup with a foreign key is
            # harmless, so the cast only widens what mypy sees.
            entry = self._entries.get(cast("K", key))
            return entry is not None and entry.expires_at > self._clock.now()

    def get_or_insert(self, key: K, loader: Callable[[], V], *, ttl_s: float | None = None) -> V:
        """The live value under ``key``; on a miss, ``loader()``'s result, stored and returned.

        The loader runs outside the lock; an exception from it propagates and stores
        nothing. If another thread stored a value meanwhile, that value wins and is returned.
        """
        ttl = self._ttl(ttl_s)  # checked before the loader runs, not after
        with self._lock:
            found = self._lookup(key, self._clock.now())
        if not isinstance(found, _Missing):
            return found
        value = loader()
        expires_at = self._expiry(ttl)
        with self._lock:
            raced = self._peek(key, self._clock.now())
            if not isinstance(raced, _Missing):
                return raced
            self._store(key, value, expires_at)
        return value

    async def aget_or_insert(self, key: K, loader: Callable[[], Awaitable[V]], *, ttl_s: float | None = None) -> V:
        """The live value under ``key``; on a miss, the awaited ``loader()``, stored and returned.

        Single flight: tasks that miss the same key while a load is running await that load
        instead of starting their own, so the loader runs once. The load runs in its own task,
        so cancelling one waiter (even the first) does not cancel it for the others. If it
        raises, every waiter gets the exception and nothing is cached; the next call loads
        again. Every caller that found no entry counts as a miss. (A caller on another event
        loop than the running load's loads on its own.)
        """
        ttl = self._ttl(ttl_s)  # checked before the loader runs, not after
        loop = asyncio.get_running_loop()
        with self._lock:
            found = self._lookup(key, self._clock.now())
            if not isinstance(found, _Missing):
                return found
            flight = self._flights.get(key)
            if flight is None or flight.loop is not loop:
                # The task cannot start before this method yields, so it always finds its
                # flight registered (it stores its value only while it is still registered).
                task = loop.create_task(self._load(key, loader, ttl), name="cache-load")
                task.add_done_callback(_retrieve)
                flight = _Flight(task, loop)
                self._flights[key] = flight
        # shield: a waiter's cancellation must not cancel the load shared with the others.
        return await asyncio.shield(flight.task)

    async def _load(self, key: K, loader: Callable[[], Awaitable[V]], ttl: float) -> V:
        """Run one load; store its value unless the key was deleted or cleared meanwhile."""
        me = asyncio.current_task()
        try:
            value = await loader()
        except BaseException:
            with self._lock:
                flight = self._flights.get(key)
                if flight is not None and flight.task is me:
                    del self._flights[key]
            raise
        expires_at = self._expiry(ttl)  # the TTL runs from when the value arrived
        with self._lock:
            flight = self._flights.get(key)
            if flight is not None and flight.task is me:
                del self._flights[key]
                self._store(key, value, expires_at)
        return value

    # -- expiry --------------------------------------------------------------------------

    def cleanup(self) -> int:
        """Remove every expired entry now; how many were removed.

        A full scan (O(size)): at the default 10,000 entries once a minute that is far cheaper
        than keeping a second, expiry-ordered index up to date on every write.
        """
        now = self._clock.now()
        with self._lock:
            expired = [key for key, entry in self._entries.items() if entry.expires_at <= now]
            for key in expired:
                self._weight -= self._entries.pop(key).weight
            if self._stats_enabled:
                self._expirations += len(expired)
        return len(expired)

    def start(self) -> None:
        """Start the background cleanup task (idempotent; needs a running event loop).

        Does nothing when the cache was built with ``cleanup_interval_s=None``.
        """
        if self._cleanup_interval_s is None:
            return
        if self._cleanup_task is not None and not self._cleanup_task.done():
            return
        self._cleanup_task = asyncio.get_running_loop().create_task(
            self._cleanup_loop(self._cleanup_interval_s), name="cache-cleanup"
        )

    @property
    def running(self) -> bool:
        """Whether the background cleanup task is running."""
        return self._cleanup_task is not None and not self._cleanup_task.done()

    async def aclose(self) -> None:
        """Stop the background cleanup task and wait for it to end (idempotent)."""
        task, self._cleanup_task = self._cleanup_task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def __aenter__(self) -> Cache[K, V]:
        """Start the background cleanup; ``async with Cache() as cache: ...``."""
        self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Stop the background cleanup."""
        await self.aclose()

    async def _cleanup_loop(self, interval_s: float) -> None:
        while True:
            await self._sleep(interval_s)
            self.cleanup()

    # -- statistics ----------------------------------------------------------------------

    def stats(self) -> CacheStats:
        """The counters now, with the current size and the hit rate."""
        with self._lock:
            lookups = self._hits + self._misses
            return CacheStats(
                hits=self._hits,
                misses=self._misses,
                evictions=self._evictions,
                expirations=self._expirations,
                size=len(self._entries),
                capacity=self._max,
                hit_rate=self._hits / lookups if lookups else 0.0,
            )

    # -- internals (call with the lock held) ---------------------------------------------

    def _ttl(self, ttl_s: float | None) -> float:
        """The TTL to use: the per-call one if given (checked), else the cache's."""
        if ttl_s is None:
            return self._ttl_s
        if not ttl_s > 0:
            raise ValueError(f"ttl_s must be > 0, got {ttl_s!r}")
        return ttl_s

    def _expiry(self, ttl: float) -> float:
        """The monotonic time at which an entry written now expires: now + TTL."""
        return math.inf if math.isinf(ttl) else self._clock.now() + ttl

    def _peek(self, key: K, now: float) -> V | _Missing:
        """The live value under ``key``, without counting or touching the LRU order."""
        entry = self._entries.get(key)
        if entry is None or entry.expires_at <= now:
            return _MISSING
        return entry.value

    def _lookup(self, key: K, now: float) -> V | _Missing:
        """A counted read: a hit moves the entry to the most recently used end."""
        entry = self._entries.get(key)
        if entry is not None and entry.expires_at <= now:
            # Expired: remove it now rather than wait for the cleanup, and count a miss.
            del self._entries[key]
            self._weight -= entry.weight
            entry = None
            if self._stats_enabled:
                self._expirations += 1
        if entry is None:
            if self._stats_enabled:
                self._misses += 1
            return _MISSING
        self._entries.move_to_end(key)
        if self._stats_enabled:
            self._hits += 1
        return entry.value

    def _store(self, key: K, value: V, expires_at: float, weight: float = 0.0) -> None:
        entries = self._entries
        old = entries.get(key)
        entries[key] = _Entry(value, expires_at, weight)
        self._weight += weight
        if old is not None:
            self._weight -= old.weight
            entries.move_to_end(key)
            if self._weight <= self._max_weight:
                return
        while len(entries) > self._max or self._weight > self._max_weight:
            # The least recently used entry goes; if it had already expired, that is an
            # expiration, not an eviction of something still useful.
            _, victim = entries.popitem(last=False)
            self._weight -= victim.weight
            if self._stats_enabled:
                if victim.expires_at <= self._clock.now():
                    self._expirations += 1
                else:
                    self._evictions += 1


def _retrieve(task: asyncio.Task[object]) -> None:
    """Mark a load's exception as retrieved: the waiters got it (or there were none left)."""
    if not task.cancelled():
        task.exception()
