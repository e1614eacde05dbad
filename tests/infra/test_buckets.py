"""The in-memory token buckets: refill arithmetic, all-or-nothing takes, refusals, debt, eviction."""

from __future__ import annotations

import math

import pytest

from llm_simulator.infra.buckets import Demand, MemoryBucketStore


def per_minute(bucket: str, limit: float, amount: float, burst: float = 1.0) -> Demand:
    return Demand(bucket, limit * burst, limit / 60.0, amount)


async def test_a_new_bucket_starts_full_and_takes() -> None:
    store = MemoryBucketStore()
    levels, refusal = await store.take([per_minute("a", 10, 3)], now=0.0)
    assert refusal is None
    assert levels[0].remaining == 7
    # 3 units at 10/min refill in 18 s.
    assert levels[0].full_in_s == pytest.approx(18.0)


async def test_refill_is_continuous_and_capped_at_capacity() -> None:
    store = MemoryBucketStore()
    await store.take([per_minute("a", 60, 60)], now=0.0)  # empty, 1 unit/s
    levels, refusal = await store.take([per_minute("a", 60, 1)], now=2.5)
    assert refusal is None and levels[0].remaining == pytest.approx(1.5)
    levels, _ = await store.take([per_minute("a", 60, 0)], now=1000.0)
    assert levels[0].remaining == 60


async def test_refusal_names_the_demand_and_when_it_can_succeed() -> None:
    store = MemoryBucketStore()
    await store.take([per_minute("r", 6, 6)], now=0.0)  # empty; refills 0.1/s
    levels, refusal = await store.take([per_minute("t", 100, 5), per_minute("r", 6, 1)], now=5.0)
    assert refusal is not None and refusal.index == 1
    assert refusal.remaining == pytest.approx(0.5)
    assert refusal.retry_after_s == pytest.approx(5.0)
    # All or nothing: the first bucket was not charged.
    assert levels[0].remaining == 100


async def test_an_amount_above_capacity_is_refused_for_ever() -> None:
    store = MemoryBucketStore()
    _, refusal = await store.take([per_minute("t", 100, 101)], now=0.0)
    assert refusal is not None and math.isinf(refusal.retry_after_s)


async def test_burst_multiplier_raises_capacity_not_rate() -> None:
    store = MemoryBucketStore()
    levels, refusal = await store.take([per_minute("b", 10, 15, burst=1.5)], now=0.0)
    assert refusal is None and levels[0].remaining == 0
    _, refusal = await store.take([per_minute("b", 10, 1, burst=1.5)], now=0.0)
    assert refusal is not None and refusal.retry_after_s == pytest.approx(6.0)


async def test_adjust_refunds_up_to_capacity_and_charges_into_debt() -> None:
    store = MemoryBucketStore()
    await store.take([per_minute("t", 100, 80)], now=0.0)
    await store.adjust(per_minute("t", 100, -500), now=0.0)  # refund, capped
    levels, _ = await store.take([per_minute("t", 100, 0)], now=0.0)
    assert levels[0].remaining == 100
    await store.adjust(per_minute("t", 100, 150), now=0.0)  # late charge: debt
    levels, refusal = await store.take([per_minute("t", 100, 1)], now=0.0)
    assert refusal is not None and refusal.remaining == 0 and levels[0].remaining == -50


async def test_least_recently_used_buckets_are_forgotten_beyond_the_bound() -> None:
    store = MemoryBucketStore(max_buckets=2)
    for name in ("a", "b", "c"):
        await store.take([per_minute(name, 10, 10)], now=0.0)
    assert await store.count() == 2
    levels, _ = await store.take([per_minute("a", 10, 0)], now=0.0)
    assert levels[0].remaining == 10  # forgotten, so back full
    await store.clear()
    assert await store.count() == 0


async def test_a_late_adjustment_never_moves_the_clock_back() -> None:
    store = MemoryBucketStore()
    await store.take([per_minute("t", 60, 60)], now=0.0)  # empty; refills 1/s
    await store.take([per_minute("t", 60, 0)], now=20.0)  # 20 refilled
    await store.adjust(per_minute("t", 60, -1), now=10.0)  # a refund computed at t=10
    levels, _ = await store.take([per_minute("t", 60, 0)], now=20.0)
    assert levels[0].remaining == 21  # not 31: the 10..20 refill is not credited twice
