"""InfraContext: reference defaults, shared parts, guarded calls, lifecycle."""

from __future__ import annotations

import asyncio
import json
import random

import pytest

from llm_simulator.infra.cache import CacheStats
from llm_simulator.infra.circuit_breaker import BreakerSettings, BreakerState, CircuitOpenError
from llm_simulator.infra.clock import FakeClock
from llm_simulator.infra.context import CacheConfig, InfraConfig, InfraContext, RetryConfig
from llm_simulator.infra.retry import RetryBudget


class Waits:
    """Sync and async sleeps that record the waits and move a fake clock."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.waits: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.clock.advance_to(self.clock.now() + seconds)

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)
        await asyncio.sleep(0)


def make(config: InfraConfig | None = None) -> tuple[InfraContext, FakeClock, Waits]:
    clock = FakeClock(start=0.0)
    waits = Waits(clock)
    ctx = InfraContext(config, clock=clock, sleep=waits.sleep, asleep=waits.asleep, rng=random.Random(1))
    return ctx, clock, waits


def test_config_defaults_are_the_reference_values() -> None:
    config = InfraConfig()
    assert config.cache == CacheConfig(ttl_s=300.0, max_entries=10_000, cleanup_interval_s=60.0, stats_enabled=True)
    assert config.retry == RetryConfig(
        max_retries=3,
        base_delay_s=0.1,
        max_delay_s=10.0,
        strategy="exponential_jitter",
        jitter=0.2,
        max_hint_s=60.0,
        budget_enabled=False,
        budget_per_minute=100.0,
    )
    assert config.breaker == BreakerSettings()


def test_the_context_builds_its_parts_from_the_config() -> None:
    ctx, clock, _ = make()
    assert ctx.cache.ttl_s == 300.0
    assert ctx.cache.max_entries == 10_000
    assert ctx.cache.stats_enabled
    policy = ctx.retry_policy
    assert (policy.max_retries, policy.base_delay_s, policy.max_delay_s) == (3, 0.1, 10.0)
    assert (policy.strategy, policy.jitter, policy.budget) == ("exponential_jitter", 0.2, None)
    assert ctx.breakers.settings == BreakerSettings()
    assert ctx.clock is clock
    assert ctx.config == InfraConfig()


def test_the_budget_when_enabled() -> None:
    ctx, _, _ = make(InfraConfig(retry=RetryConfig(budget_enabled=True)))
    assert isinstance(ctx.retry_policy.budget, RetryBudget)
    assert ctx.retry_policy.budget.max_retries_per_minute == 100
    assert ctx.snapshot()["retry_budget_remaining"] == 100.0
    with pytest.raises(ValueError, match="budget_per_minute"):
        RetryConfig(budget_per_minute=0)


def test_cache_stats_and_clear_cache() -> None:
    ctx, _, _ = make(InfraConfig(cache=CacheConfig(max_entries=5)))
    ctx.cache.set(("profiles", "a"), {"p50": 1})
    ctx.cache.get(("profiles", "a"))
    ctx.cache.get(("profiles", "b"))
    assert ctx.cache_stats() == CacheStats(
        hits=1, misses=1, evictions=0, expirations=0, size=1, capacity=5, hit_rate=0.5
    )
    ctx.clear_cache()
    assert ctx.cache_stats().size == 0
    assert ctx.cache_stats().hits == 1  # statistics are kept


def test_one_breaker_per_name_with_the_shared_settings() -> None:
    ctx, _, _ = make(InfraConfig(breaker=BreakerSettings(failure_threshold=2)))
    assert ctx.breaker("spans") is ctx.breaker("spans")
    assert ctx.breaker("spans") is not ctx.breaker("profiles")
    assert ctx.breaker("spans").settings.failure_threshold == 2


def test_call_retries_through_the_breaker() -> None:
    ctx, _, waits = make(InfraConfig(retry=RetryConfig(strategy="exponential")))
    attempts: list[int] = []

    def fetch() -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise ConnectionError
        return "data"

    assert ctx.call("upstream", fetch) == "data"
    assert waits.waits == pytest.approx([0.1, 0.2])
    assert ctx.breaker("upstream").snapshot()["failures_in_window"] == 2


def test_a_refusal_by_the_breaker_is_not_retried() -> None:
    config = InfraConfig(breaker=BreakerSettings(failure_threshold=2), retry=RetryConfig(max_retries=5))
    ctx, _, waits = make(config)
    attempts: list[int] = []

    def down() -> str:
        attempts.append(1)
        raise ConnectionError

    with pytest.raises(CircuitOpenError):
        ctx.call("upstream", down)
    # Two failures opened the breaker; the third attempt was refused and not retried.
    assert len(attempts) == 2
    assert len(waits.waits) == 2
    assert ctx.breakers.state("upstream") is BreakerState.OPEN


async def test_acall_retries_through_the_breaker() -> None:
    ctx, _, waits = make(InfraConfig(retry=RetryConfig(strategy="constant")))
    attempts: list[int] = []

    async def fetch() -> str:
        attempts.append(1)
        if len(attempts) < 2:
            raise ConnectionError
        return "data"

    assert await ctx.acall("upstream", fetch) == "data"
    assert waits.waits == pytest.approx([0.1])


async def test_async_with_runs_the_cache_cleanup() -> None:
    ctx, _, _ = make()
    async with ctx as infra:
        started = infra.cache.running
    assert started
    assert not ctx.cache.running


def test_snapshot_is_json_serialisable() -> None:
    ctx, _, _ = make()
    ctx.breaker("a")
    snapshot = ctx.snapshot()
    assert set(snapshot) == {"cache", "breakers", "retry_budget_remaining"}
    json.dumps(snapshot)


async def test_the_cache_cleanup_runs_on_its_own_sleep() -> None:
    clock = FakeClock(start=0.0)
    wake = asyncio.Event()
    slept: list[float] = []

    async def cleanup_sleep(seconds: float) -> None:
        slept.append(seconds)
        await wake.wait()
        wake.clear()
        clock.advance_to(clock.now() + seconds)

    config = InfraConfig(cache=CacheConfig(ttl_s=30.0, cleanup_interval_s=60.0))
    async with InfraContext(config, clock=clock, cleanup_sleep=cleanup_sleep) as ctx:
        ctx.cache.set("k", 1)
        await asyncio.sleep(0)
        wake.set()
        for _ in range(5):
            await asyncio.sleep(0)
        assert len(ctx.cache) == 0
        assert ctx.cache_stats().expirations == 1
    assert slept[0] == 60.0
