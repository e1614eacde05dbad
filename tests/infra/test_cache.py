"""The cache: TTL boundaries, LRU order, statistics, single-flight loads, background cleanup."""

from __future__ import annotations

import asyncio
import functools
import math
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from llm_simulator.infra.cache import Cache, CacheStats
from llm_simulator.infra.clock import FakeClock


class ManualSleep:
    """An async ``sleep`` that returns only when the test moves the fake clock past its deadline."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.pending: list[tuple[float, asyncio.Future[None]]] = []

    async def __call__(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.pending.append((self.clock.now() + seconds, future))
        await future

    def advance(self, seconds: float) -> None:
        self.clock.advance_to(self.clock.now() + seconds)
        due = [f for t, f in self.pending if t <= self.clock.now()]
        self.pending = [(t, f) for t, f in self.pending if t > self.clock.now()]
        for future in due:
            if not future.done():
                future.set_result(None)


async def settle() -> None:
    """Let every ready task run until it blocks again."""
    for _ in range(5):
        await asyncio.sleep(0)


def make(clock: FakeClock | None = None, **kwargs: object) -> Cache[str, object]:
    return Cache(clock=clock or FakeClock(), **kwargs)  # type: ignore[arg-type]


# -- basics ------------------------------------------------------------------------------


def test_defaults_are_the_reference_values() -> None:
    cache: Cache[str, int] = Cache()
    assert cache.ttl_s == 300
    assert cache.max_entries == 10_000
    assert cache.stats_enabled
    assert cache.stats().capacity == 10_000


def test_set_get_delete_clear_len_contains() -> None:
    cache = make()
    cache.set("a", 1)
    cache.set("b", 2)
    assert cache.get("a") == 1
    assert "a" in cache
    assert "zzz" not in cache
    assert len(cache) == 2
    assert cache.delete("a") is True
    assert cache.delete("a") is False
    assert cache.get("a") is None
    assert cache.get("a", "fallback") == "fallback"
    cache.clear()
    assert len(cache) == 0
    assert "b" not in cache


def test_a_cached_none_is_a_hit_not_a_miss() -> None:
    cache = make()
    cache.set("k", None)
    assert cache.get("k", "fallback") is None
    assert "k" in cache
    assert cache.stats().hits == 1


def test_overwriting_replaces_the_value_and_restarts_the_ttl() -> None:
    clock = FakeClock(start=0.0)
    cache = make(clock, ttl_s=10.0)
    cache.set("k", 1)
    clock.advance_to(8.0)
    cache.set("k", 2)
    clock.advance_to(15.0)
    assert cache.get("k") == 2
    assert len(cache) == 1


@pytest.mark.parametrize("bad", [0.0, -1.0, math.nan])
def test_invalid_ttls_are_refused(bad: float) -> None:
    with pytest.raises(ValueError, match="ttl_s"):
        make(ttl_s=bad)
    with pytest.raises(ValueError, match="ttl_s"):
        make().set("k", 1, ttl_s=bad)


def test_invalid_sizes_and_intervals_are_refused() -> None:
    with pytest.raises(ValueError, match="max_entries"):
        make(max_entries=0)
    with pytest.raises(ValueError, match="cleanup_interval_s"):
        make(cleanup_interval_s=0.0)


# -- TTL ---------------------------------------------------------------------------------


def test_an_entry_lives_until_exactly_its_ttl() -> None:
    clock = FakeClock(start=1000.0)
    cache = make(clock, ttl_s=10.0)
    cache.set("k", "v")
    clock.advance_to(1009.999)
    assert cache.get("k") == "v"
    assert "k" in cache
    clock.advance_to(1010.0)  # [t, t + ttl): the boundary itself is expired
    assert "k" not in cache
    assert cache.get("k") is None
    stats = cache.stats()
    assert (stats.hits, stats.misses, stats.expirations) == (1, 1, 1)
    assert len(cache) == 0  # the expired entry was dropped when touched


def test_per_call_ttl_overrides_the_default() -> None:
    clock = FakeClock(start=0.0)
    cache = make(clock, ttl_s=300.0)
    cache.set("short", 1, ttl_s=5.0)
    cache.set("long", 2)
    clock.advance_to(5.0)
    assert cache.get("short") is None
    assert cache.get("long") == 2


def test_an_infinite_ttl_never_expires() -> None:
    clock = FakeClock(start=0.0)
    cache = make(clock, ttl_s=math.inf)
    cache.set("k", 1)
    clock.advance_to(1e12)
    assert cache.get("k") == 1
    assert cache.cleanup() == 0


def test_expired_entries_are_never_returned_before_cleanup() -> None:
    clock = FakeClock(start=0.0)
    cache = make(clock, ttl_s=1.0, cleanup_interval_s=None)
    for i in range(10):
        cache.set(str(i), i)
    clock.advance_to(2.0)
    assert len(cache) == 10  # still stored...
    assert all(str(i) not in cache for i in range(10))  # ...but dead
    assert cache.cleanup() == 10
    assert len(cache) == 0
    assert cache.stats().expirations == 10


def test_delete_of_an_expired_entry_reports_false() -> None:
    clock = FakeClock(start=0.0)
    cache = make(clock, ttl_s=1.0)
    cache.set("k", 1)
    clock.advance_to(1.0)
    assert cache.delete("k") is False


# -- LRU ---------------------------------------------------------------------------------


def test_lru_eviction_respects_reads() -> None:
    cache = make(max_entries=3)
    for key in "abc":
        cache.set(key, key)
    assert cache.get("a") == "a"  # a is now the most recently used; b is the oldest
    cache.set("d", "d")
    assert "b" not in cache
    assert all(k in cache for k in "acd")
    assert cache.stats().evictions == 1


def test_writes_count_as_use_and_contains_does_not() -> None:
    cache = make(max_entries=3)
    for key in "abc":
        cache.set(key, key)
    cache.set("a", "A")  # a refreshed by a write
    assert "b" in cache  # a peek: b stays the oldest
    cache.set("d", "d")
    assert "b" not in cache
    assert cache.get("a") == "A"


def test_evicting_an_already_expired_entry_counts_as_expiration() -> None:
    clock = FakeClock(start=0.0)
    cache = make(clock, max_entries=2, cleanup_interval_s=None)
    cache.set("old", 1, ttl_s=1.0)
    cache.set("b", 2)
    clock.advance_to(5.0)
    cache.set("c", 3)
    stats = cache.stats()
    assert (stats.evictions, stats.expirations, stats.size) == (0, 1, 2)


# -- statistics --------------------------------------------------------------------------


def test_stats_count_hits_misses_and_the_hit_rate() -> None:
    cache = make(max_entries=5)
    assert cache.stats().hit_rate == 0.0
    cache.set("a", 1)
    cache.get("a")
    cache.get("a")
    cache.get("a")
    cache.get("nope")
    assert cache.stats() == CacheStats(hits=3, misses=1, evictions=0, expirations=0, size=1, capacity=5, hit_rate=0.75)
    cache.reset_stats()
    assert cache.stats().hits == 0
    assert cache.stats().size == 1


def test_stats_can_be_turned_off() -> None:
    cache = make(stats_enabled=False, max_entries=1)
    cache.set("a", 1)
    cache.set("b", 2)
    cache.get("b")
    cache.get("a")
    stats = cache.stats()
    assert not cache.stats_enabled
    assert (stats.hits, stats.misses, stats.evictions, stats.hit_rate) == (0, 0, 0, 0.0)
    assert stats.size == 1


def test_cache_stats_are_frozen() -> None:
    stats = make().stats()
    with pytest.raises(AttributeError):
        stats.hits = 5  # type: ignore[misc]


# -- get_or_insert (sync) ----------------------------------------------------------------


def test_get_or_insert_loads_once_then_hits() -> None:
    cache = make()
    calls: list[str] = []

    def load() -> object:
        calls.append("x")
        return 42

    assert cache.get_or_insert("k", load) == 42
    assert cache.get_or_insert("k", load) == 42
    assert calls == ["x"]
    stats = cache.stats()
    assert (stats.hits, stats.misses) == (1, 1)


def test_get_or_insert_with_its_own_ttl() -> None:
    clock = FakeClock(start=0.0)
    cache = make(clock)
    cache.get_or_insert("k", lambda: 1, ttl_s=2.0)
    clock.advance_to(2.0)
    assert "k" not in cache


def test_get_or_insert_propagates_a_loader_error_and_caches_nothing() -> None:
    cache = make()

    def fail() -> object:
        raise RuntimeError("upstream down")

    with pytest.raises(RuntimeError, match="upstream down"):
        cache.get_or_insert("k", fail)
    assert "k" not in cache
    assert cache.get_or_insert("k", lambda: "ok") == "ok"


def test_get_or_insert_returns_a_value_stored_by_a_racer() -> None:
    cache = make()

    def load_while_another_thread_stores() -> object:
        cache.set("k", "first")  # what a racing thread would have done meanwhile
        return "second"

    assert cache.get_or_insert("k", load_while_another_thread_stores) == "first"
    assert cache.get("k") == "first"


def test_concurrent_threads_keep_the_cache_consistent() -> None:
    cache: Cache[int, int] = Cache(max_entries=50, clock=FakeClock())
    barrier = threading.Barrier(8)

    def work(seed: int) -> None:
        barrier.wait()
        for i in range(2000):
            key = (seed * 7 + i) % 120
            cache.set(key, key)
            value = cache.get(key)
            assert value is None or value == key
            # Every thread loads the same value for a key, so whoever wins the race, it is this.
            assert cache.get_or_insert(key + 1000, functools.partial(int, key)) == key

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(work, range(8)))
    assert len(cache) <= 50
    stats = cache.stats()
    assert stats.size == len(cache)
    assert stats.hits + stats.misses == 8 * 2000 * 2


# -- aget_or_insert (async, single flight) -----------------------------------------------


async def test_fifty_concurrent_callers_run_the_loader_once() -> None:
    cache = make()
    calls = 0
    gate = asyncio.Event()

    async def load() -> object:
        nonlocal calls
        calls += 1
        await gate.wait()  # keep the load in flight until every caller has asked
        return {"profile": 1}

    tasks = [asyncio.create_task(cache.aget_or_insert("k", load)) for _ in range(50)]
    await settle()
    gate.set()
    results = await asyncio.gather(*tasks)
    assert calls == 1
    assert all(r is results[0] for r in results)
    assert cache.get("k") is results[0]
    assert await cache.aget_or_insert("k", load) is results[0]
    assert calls == 1


async def test_a_loader_error_reaches_every_waiter_and_caches_nothing() -> None:
    cache = make()
    calls = 0
    gate = asyncio.Event()

    async def fail() -> object:
        nonlocal calls
        calls += 1
        await gate.wait()
        raise ConnectionError("upstream down")

    tasks = [asyncio.create_task(cache.aget_or_insert("k", fail)) for _ in range(50)]
    await settle()
    gate.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert calls == 1
    assert all(isinstance(r, ConnectionError) for r in results)
    assert "k" not in cache

    async def ok() -> object:
        return "recovered"

    assert await cache.aget_or_insert("k", ok) == "recovered"


async def test_cancelling_the_first_waiter_does_not_cancel_the_shared_load() -> None:
    cache = make()
    gate = asyncio.Event()

    async def load() -> object:
        await gate.wait()
        return "v"

    first = asyncio.create_task(cache.aget_or_insert("k", load))
    await settle()
    second = asyncio.create_task(cache.aget_or_insert("k", load))
    await settle()
    first.cancel()
    await settle()
    gate.set()
    assert await second == "v"
    assert first.cancelled()
    assert cache.get("k") == "v"


async def test_a_load_in_flight_during_delete_is_returned_but_not_stored() -> None:
    cache = make()
    gate = asyncio.Event()

    async def load() -> object:
        await gate.wait()
        return "stale"

    task = asyncio.create_task(cache.aget_or_insert("k", load))
    await settle()
    cache.delete("k")
    gate.set()
    assert await task == "stale"
    assert "k" not in cache


async def test_a_load_in_flight_during_clear_is_not_stored() -> None:
    cache = make()
    gate = asyncio.Event()

    async def load() -> object:
        await gate.wait()
        return "stale"

    task = asyncio.create_task(cache.aget_or_insert("k", load))
    await settle()
    cache.clear()
    gate.set()
    assert await task == "stale"
    assert len(cache) == 0


async def test_aget_or_insert_hits_without_calling_the_loader() -> None:
    cache = make()
    cache.set("k", "cached")

    async def load() -> object:
        raise AssertionError("not called")

    assert await cache.aget_or_insert("k", load) == "cached"


async def test_aget_or_insert_with_its_own_ttl() -> None:
    clock = FakeClock(start=0.0)
    cache = make(clock)

    async def load() -> object:
        return 1

    await cache.aget_or_insert("k", load, ttl_s=3.0)
    clock.advance_to(2.999)
    assert "k" in cache
    clock.advance_to(3.0)
    assert "k" not in cache


# -- background cleanup ------------------------------------------------------------------


async def test_the_background_task_removes_expired_entries_every_interval() -> None:
    clock = FakeClock(start=0.0)
    sleep = ManualSleep(clock)
    cache: Cache[str, int] = Cache(ttl_s=300.0, cleanup_interval_s=60.0, clock=clock, sleep=sleep)
    cache.set("short", 1, ttl_s=30.0)
    cache.set("medium", 2, ttl_s=90.0)
    cache.set("long", 3)
    cache.start()
    cache.start()  # idempotent: still one task
    started = cache.running  # (a local: mypy would keep ``cache.running`` narrowed to True)
    assert started
    await settle()
    assert len(sleep.pending) == 1
    sleep.advance(60.0)
    await settle()
    assert len(cache) == 2  # short removed, without anyone reading it
    sleep.advance(60.0)
    await settle()
    assert len(cache) == 1
    assert cache.stats().expirations == 2
    await cache.aclose()
    assert not cache.running
    sleep.advance(1000.0)
    await settle()
    assert len(cache) == 1  # stopped: the long entry (expired by now) is no longer swept
    await cache.aclose()  # idempotent


async def test_async_with_starts_and_stops_the_cleanup() -> None:
    clock = FakeClock(start=0.0)
    sleep = ManualSleep(clock)
    async with Cache[str, int](clock=clock, sleep=sleep) as cache:
        started = cache.running
    assert started
    assert not cache.running


async def test_no_cleanup_task_when_the_interval_is_none() -> None:
    cache = make(cleanup_interval_s=None)
    cache.start()
    assert not cache.running
    await cache.aclose()


def test_start_needs_a_running_loop() -> None:
    with pytest.raises(RuntimeError):
        make().start()


async def test_a_bad_per_call_ttl_is_refused_before_the_loader_runs() -> None:
    cache = make()
    called: list[int] = []

    def load() -> object:
        called.append(1)
        return 1

    async def aload() -> object:
        called.append(2)
        return 2

    with pytest.raises(ValueError, match="ttl_s"):
        cache.get_or_insert("k", load, ttl_s=0.0)
    with pytest.raises(ValueError, match="ttl_s"):
        await cache.aget_or_insert("k", aload, ttl_s=-5.0)
    assert called == []


def test_a_weight_bound_evicts_the_least_recently_used() -> None:
    cache: Cache[str, int] = Cache(max_entries=100, max_weight=10, cleanup_interval_s=None)
    for i in range(4):
        cache.set(f"k{i}", i, weight=3)  # the fourth (12 > 10) evicts k0
    assert "k0" not in cache and len(cache) == 3
    assert cache.get("k1") == 1  # now the most recently used: k2 goes next
    cache.set("k4", 4, weight=4)
    assert "k2" not in cache and "k1" in cache
    cache.set("huge", 0, weight=11)  # heavier than the whole bound: not stored, nothing evicted
    assert "huge" not in cache and len(cache) == 3
    cache.set("k1", 1, weight=1)  # a smaller replacement frees weight
    cache.delete("k3")
    cache.set("k5", 5, weight=5)  # 1 + 4 + 5 = 10: fits
    assert len(cache) == 3
    assert cache.stats().evictions == 2
    with pytest.raises(ValueError, match="max_weight"):
        Cache(max_weight=0)
