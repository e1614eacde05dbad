"""A scope's counters summed over the fleet (``CounterStore``): found from any replica, each count added once.

A dict stands in for Redis (``FleetCounters``), shared by two replicas' registries; the
same on a real Redis with two server processes is ``tests/state/test_scopes_fleet.py``.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections import Counter
from collections.abc import Mapping, Sequence

import orjson

from llm_simulator.config import load_config
from llm_simulator.engine.scopes import ScopeRegistry
from llm_simulator.engine.simulator import Simulator
from llm_simulator.infra.clock import FakeClock
from llm_simulator.infra.state.memory import MemoryBlobStore


class FleetCounters:
    """A ``CounterStore`` in a dict: ``down`` fails every call as the guard does; ``gate`` holds the adds.

    With a ``clock`` a hash expires as Redis' would (``ttl_s`` after the last add, or the
    last read that extends it); ``trips`` counts the calls, each one Redis round trip.
    """

    def __init__(self, clock: FakeClock | None = None) -> None:
        self.hashes: dict[str, Counter[str]] = {}
        self.expires: dict[str, float] = {}
        self.clock = clock
        self.trips: Counter[str] = Counter()
        self.down = False
        self.gate: asyncio.Event | None = None
        self.held = asyncio.Event()  # set once an add waits on the gate

    def _expire(self) -> None:
        if self.clock is not None:
            now = self.clock.now()
            for key in [k for k, at in self.expires.items() if at <= now]:
                self.hashes.pop(key, None)
                del self.expires[key]

    def _keep(self, key: str, ttl_s: float) -> None:
        if self.clock is not None:
            self.expires[key] = self.clock.now() + ttl_s

    async def add(self, key: str, deltas: Mapping[str, int], ttl_s: float) -> bool:
        if self.gate is not None:
            self.held.set()
            await self.gate.wait()
        self.trips["add"] += 1
        if self.down:
            return False
        self._expire()
        self.hashes.setdefault(key, Counter()).update(deltas)
        self._keep(key, ttl_s)
        return True

    async def read(self, key: str, ttl_s: float | None = None) -> dict[str, int] | None:
        self.trips["read"] += 1
        if self.down:
            return None
        self._expire()
        if ttl_s is not None and key in self.hashes:
            self._keep(key, ttl_s)
        return dict(self.hashes.get(key, {}))

    async def read_many(self, keys: Sequence[str]) -> list[dict[str, int]] | None:
        self.trips["read_many"] += 1
        if self.down:
            return None
        self._expire()
        return [dict(self.hashes.get(key, {})) for key in keys]

    async def delete(self, key: str) -> bool:
        self.trips["delete"] += 1
        return False if self.down else self.hashes.pop(key, None) is not None

    async def keys(self) -> list[str]:
        self.trips["keys"] += 1
        if self.down:
            return []
        self._expire()
        return list(self.hashes)


class FleetBlobs(MemoryBlobStore):
    """The fleet's scope documents in memory, counting its round trips."""

    def __init__(self) -> None:
        super().__init__()
        self.trips: Counter[str] = Counter()

    async def get(self, key: str) -> bytes | None:
        self.trips["get"] += 1
        return await super().get(key)

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        self.trips["get_many"] += 1
        return [await MemoryBlobStore.get(self, key) for key in keys]  # not counted as gets


def replica(store: FleetCounters, clock: FakeClock | None = None, documents: FleetBlobs | None = None) -> ScopeRegistry:
    """One replica's scope registry adding to ``store`` (its other state in memory, or ``documents``)."""
    sim = Simulator(load_config(flags={"latency.enabled": False}), clock=clock or FakeClock())
    stores = dataclasses.replace(sim.state.stores, scope_counters=store)
    if documents is not None:
        stores = dataclasses.replace(stores, scopes=documents)
    return ScopeRegistry(sim.config, sim.chaos, sim.clock, stores, lambda provider, model: model)


async def settle() -> None:
    """Let the background adds run (the fake store answers without waiting)."""
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_scope_only_another_replica_served_is_found_with_the_fleets_counts() -> None:
    store = FleetCounters()
    here, there = replica(store), replica(store)
    there.finished("served-there", 200)
    await settle()
    # GET /admin/scopes lists it here (here: false); GET /admin/scopes/{id} must find it too.
    assert [s["id"] for s in (await here.list_view())["scopes"]] == ["served-there"]
    assert await here.exists("served-there")
    assert (await here.counters(await here.open("served-there"))).requests == 1
    assert not await here.exists("served-nowhere")


async def test_counts_made_while_the_backend_is_unreachable_are_added_once_it_returns() -> None:
    store = FleetCounters()
    registry = replica(store)
    store.down = True
    registry.finished("t", 200)
    registry.finished("t", 500)
    await settle()
    scope = await registry.open("t")
    assert (await registry.counters(scope)).requests == 2  # this worker's own while unreachable
    store.down = False
    counted = await registry.counters(scope)
    assert (counted.requests, dict(counted.by_status)) == (2, {"200": 1, "500": 1})
    assert (await registry.counters(scope)).requests == 2  # added once, not again
    assert store.hashes["t"]["requests"] == 2


async def test_a_drop_waits_for_its_scopes_add_in_flight() -> None:
    store = FleetCounters()
    registry = replica(store)
    store.gate = asyncio.Event()
    registry.finished("t", 200)
    await store.held.wait()  # the background add of t's count is in flight
    dropping = asyncio.ensure_future(registry.drop("t"))
    await settle()
    store.gate.set()
    assert await dropping is True
    await settle()
    assert "t" not in store.hashes  # the add landed before the drop, not after it


async def test_a_dropped_scopes_counts_waiting_in_the_background_add_are_not_added() -> None:
    store = FleetCounters()
    registry = replica(store)
    store.gate = asyncio.Event()
    registry.finished("first", 200)
    registry.finished("second", 200)
    await store.held.wait()  # "first" in flight, "second" next in the same background add
    dropping = asyncio.ensure_future(registry.drop("second"))
    await settle()
    store.gate.set()
    assert await dropping is True
    await settle()
    assert "second" not in store.hashes and store.hashes["first"]["requests"] == 1
    registry.finished("second", 200)  # a request after the drop counts afresh
    await settle()
    assert store.hashes["second"]["requests"] == 1


async def test_counts_still_pending_at_shutdown_are_added_by_the_last_add() -> None:
    store = FleetCounters()
    registry = replica(store)
    store.down = True
    registry.finished("t", 200)
    await settle()  # the background add failed: the count is pending
    store.down = False
    await registry.aclose()  # the worker's shutdown
    assert store.hashes["t"]["requests"] == 1


class FailingFor(FleetCounters):
    """A store whose add raises (as Redis' READONLY or OOM errors do) for the keys in ``failing``."""

    def __init__(self, *failing: str) -> None:
        super().__init__()
        self.failing = set(failing)

    async def add(self, key: str, deltas: Mapping[str, int], ttl_s: float) -> bool:
        if key in self.failing:
            raise RuntimeError("READONLY You can't write against a read only replica.")
        return await super().add(key, deltas, ttl_s)


async def test_an_add_that_raises_keeps_its_counts_and_the_pass_goes_on() -> None:
    store = FailingFor("bad")
    registry = replica(store)
    registry.finished("bad", 200)
    registry.finished("good", 200)
    await settle()
    assert store.hashes["good"]["requests"] == 1  # added in the same pass, after the failure
    assert "bad" not in store.hashes
    store.failing.clear()
    await registry.aclose()
    assert store.hashes["bad"]["requests"] == 1  # kept pending, added once the store recovered


async def test_admin_reads_that_keep_a_scope_alive_keep_its_fleet_counters_alive() -> None:
    clock = FakeClock()
    store = FleetCounters(clock)
    registry = replica(store, clock)
    ttl = registry.config.idle_ttl_s
    registry.finished("t", 200)
    await settle()
    for _ in range(3):  # GET /admin/scopes/{id} (the SDK's scope_counters) every 0.6 TTL, no request
        clock.advance_to(clock.now() + ttl * 0.6)
        assert await registry.exists("t")
        view = await registry.view(await registry.open("t"))
        assert view["counters"]["requests"] == 1
    clock.advance_to(clock.now() + ttl * 1.01)  # then idle past the time to live: gone with the scope
    assert "t" not in (await store.keys())


async def test_the_scope_list_reads_every_counter_and_document_in_one_round_trip_each() -> None:
    store, documents = FleetCounters(), FleetBlobs()
    here, there = replica(store, documents=documents), replica(store, documents=documents)
    for n in range(20):
        here.finished(f"here-{n:02}", 200)
    for only in ("only-there", "also-there"):
        there.finished(only, 200)
    there.finished("only-there", 404)
    await settle()
    elsewhere = await there.open("only-there")
    elsewhere.strict = True  # its settings document, as a write through that replica publishes it
    await documents.put("only-there", orjson.dumps(elsewhere.snapshot()), 60.0)
    here.finished("here-00", 500)  # pending here: added before the read
    await settle()
    await here.open("quiet")  # kept here, never counted anywhere
    store.trips.clear()
    documents.trips.clear()
    listed = await here.list_view()
    assert store.trips == {"keys": 1, "read_many": 1}
    assert documents.trips == {"get_many": 1}
    shown = {s["id"]: s for s in listed["scopes"]}
    assert (shown["only-there"]["strict"], shown["also-there"]["strict"]) == (True, None)
    assert shown["only-there"]["age_s"] is None and shown["quiet"]["age_s"] == 0.0
    requests = {s["id"]: (s["requests"], s["here"]) for s in listed["scopes"]}
    assert requests == {
        **{f"here-{n:02}": (2 if n == 0 else 1, True) for n in range(20)},
        "quiet": (0, True),
        "also-there": (1, False),
        "only-there": (2, False),
    }
    assert [s["id"] for s in listed["scopes"]][-3:] == [
        "quiet",
        "also-there",
        "only-there",
    ]  # LRU order, then the others


async def test_the_scope_list_shows_this_workers_counts_while_the_backend_is_unreachable() -> None:
    store = FleetCounters()
    here, there = replica(store), replica(store)
    there.finished("only-there", 200)
    here.finished("t", 200)
    await settle()
    store.down = True
    here.finished("t", 500)
    await settle()
    listed = (await here.list_view())["scopes"]
    assert [(s["id"], s["requests"], s["here"]) for s in listed] == [("t", 2, True)]
