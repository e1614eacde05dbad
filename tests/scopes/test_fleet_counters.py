"""A scope's counters summed over the fleet (``CounterStore``): found from any replica, each count added once.

A dict stands in for Redis (``FleetCounters``), shared by two replicas' registries; the
same on a real Redis with two server processes is ``tests/state/test_scopes_fleet.py``.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections import Counter
from collections.abc import Mapping

from llm_simulator.config import load_config
from llm_simulator.engine.scopes import ScopeRegistry
from llm_simulator.engine.simulator import Simulator
from llm_simulator.infra.clock import FakeClock


class FleetCounters:
    """A ``CounterStore`` in a dict: ``down`` fails every call as the guard does; ``gate`` holds the adds."""

    def __init__(self) -> None:
        self.hashes: dict[str, Counter[str]] = {}
        self.down = False
        self.gate: asyncio.Event | None = None
        self.held = asyncio.Event()  # set once an add waits on the gate

    async def add(self, key: str, deltas: Mapping[str, int], ttl_s: float) -> bool:
        if self.gate is not None:
            self.held.set()
            await self.gate.wait()
        if self.down:
            return False
        self.hashes.setdefault(key, Counter()).update(deltas)
        return True

    async def read(self, key: str) -> dict[str, int] | None:
        return None if self.down else dict(self.hashes.get(key, {}))

    async def delete(self, key: str) -> bool:
        return False if self.down else self.hashes.pop(key, None) is not None

    async def keys(self) -> list[str]:
        return [] if self.down else list(self.hashes)


def replica(store: FleetCounters) -> ScopeRegistry:
    """One replica's scope registry adding to ``store`` (its other state in memory)."""
    sim = Simulator(load_config(flags={"latency.enabled": False}), clock=FakeClock())
    stores = dataclasses.replace(sim.state.stores, scope_counters=store)
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
