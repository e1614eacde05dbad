"""The scope registry on a fake clock: implicit creation, idle expiry, LRU eviction, bounds, one-shot budgets."""

from __future__ import annotations

import asyncio

import pytest

from llm_simulator.config import load_config
from llm_simulator.config.chaos import ChaosRule
from llm_simulator.core.errors import SimulatorError
from llm_simulator.engine.chaos.controller import RequestFacts
from llm_simulator.engine.scopes.scope import ScopeCounters
from llm_simulator.engine.simulator import Simulator
from llm_simulator.infra.clock import FakeClock


def make(**scopes: object) -> tuple[Simulator, FakeClock]:
    clock = FakeClock()
    config = load_config(flags={"latency.enabled": False, **{f"scopes.{k}": v for k, v in scopes.items()}})
    return Simulator(config, clock=clock), clock


def facts(model: str = "gpt-4o") -> RequestFacts:
    return RequestFacts("openai", "chat", model, "k", {}, model)


async def test_scopes_expire_after_their_idle_time_to_live() -> None:
    sim, clock = make(idle_ttl_s=60)
    scopes = sim.scopes
    first = await scopes.open("t1")
    first.strict = True
    clock.advance_to(clock.now() + 59)
    assert (await scopes.open("t1")) is first  # used again: its idle time starts over
    clock.advance_to(clock.now() + 59.5)
    assert [s["id"] for s in (await scopes.list_view())["scopes"]] == ["t1"]
    clock.advance_to(clock.now() + 1)
    assert (await scopes.list_view())["scopes"] == [] and scopes.expired == 1
    fresh = await scopes.open("t1")
    assert fresh is not first and fresh.strict is None


async def test_the_least_recently_used_scope_is_evicted_past_the_bound() -> None:
    sim, clock = make(max_scopes=3)
    scopes = sim.scopes
    for name in ("a", "b", "c"):
        await scopes.open(name)
        clock.advance_to(clock.now() + 1)
    await scopes.open("a")  # now b is the least recently used
    await scopes.open("d")
    assert [s["id"] for s in (await scopes.list_view())["scopes"]] == ["c", "a", "d"]
    assert scopes.evicted == 1
    scopes.finished("e", 200)  # a finished request creates its scope too
    assert len((await scopes.list_view())["scopes"]) == 3 and scopes.evicted == 2


async def test_invalid_ids_and_the_fault_bound_are_400s() -> None:
    sim, _ = make(max_faults=2)
    with pytest.raises(SimulatorError) as caught:
        await sim.scopes.open("no spaces allowed")
    assert caught.value.param == "x-simulator-test-id"
    scope = await sim.scopes.open("t")
    rule = ChaosRule(error_type="rate_limit")
    sim.scopes.arm(scope, rule, 1)
    sim.scopes.arm(scope, rule, 1)
    with pytest.raises(SimulatorError, match=r"scopes\.max_faults"):
        sim.scopes.arm(scope, rule, 1)


async def test_concurrent_claims_spend_a_one_shot_budget_exactly_once_each() -> None:
    sim, _ = make()
    scope = await sim.scopes.open("t")
    sim.scopes.arm(scope, ChaosRule(error_type="server_error", models=("gpt-4o",)), 5)
    verdicts = await asyncio.gather(*(sim.scopes.decide(scope, facts(), None) for _ in range(20)))
    assert sum(v.error is not None for v in verdicts) == 5
    # Its filter holds: another model never meets it (and nothing is left for anyone).
    assert (await sim.scopes.decide(scope, facts("gpt-4o-mini"), None)).error is None
    assert scope.counters.faults["server_error"] == 5
    assert not scope.chaos.one_shots.armed


async def test_scope_chaos_comes_before_the_global_rules() -> None:
    sim, _ = make()
    sim.chaos.configure(enabled=True, rules=(ChaosRule(error_type="overloaded"),))
    scope = await sim.scopes.open("t")
    # An empty scope adds nothing (no default mix): the global rule decides.
    assert (await sim.scopes.decide(scope, facts(), None)).error_type == "overloaded"
    scope.chaos.configure(rules=(ChaosRule(error_type="rate_limit"),))
    assert (await sim.scopes.decide(scope, facts(), None)).error_type == "rate_limit"
    # Unscoped requests see the global state only.
    assert sim.chaos.decide(facts()).error_type == "overloaded"


def test_counters_travel_as_named_integers_and_each_count_is_added_once() -> None:
    counters = ScopeCounters()
    counters.requests, counters.fixture_hits, counters.strict_misses = 3, 1, 1
    counters.by_status.update({"200": 2, "400": 1})
    counters.faults["rate_limit"] += 1
    first = counters.unflushed()
    assert first == {
        "requests": 3,
        "fixture_hits": 1,
        "strict_misses": 1,
        "status:200": 2,
        "status:400": 1,
        "fault:rate_limit": 1,
    }
    assert ScopeCounters.from_fields(first).view() == counters.view()
    assert counters.unflushed() == {}  # nothing new: nothing to add again
    counters.requests += 1
    counters.by_status["200"] += 1
    assert counters.unflushed() == {"requests": 1, "status:200": 1}
