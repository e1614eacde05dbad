"""Rate limiting: tier matching, costs per budget, 429 details, settlement of the output estimate."""

from __future__ import annotations

import asyncio

import pytest

from llm_simulator.config.ratelimits import RateLimitsConfig, RateLimitTier
from llm_simulator.engine.limits import DEFAULT_TIERS, RateLimited, RateLimiter
from llm_simulator.infra.clock import FakeClock


def limiter(*tiers: RateLimitTier, clock: FakeClock | None = None) -> RateLimiter:
    return RateLimiter(RateLimitsConfig(enabled=True, tiers=tiers), clock or FakeClock())


async def test_first_matching_tier_applies_and_unmatched_requests_are_unlimited() -> None:
    rl = limiter(
        RateLimitTier(models=("gpt-4*",), api_keys=("k1",), requests_per_minute=1),
        RateLimitTier(models=("claude*",), requests_per_minute=5),
    )
    assert rl.tier_index("k1", "gpt-4.1") == 0
    assert rl.tier_index("k2", "gpt-4.1") is None
    assert rl.tier_index("k2", "claude-sonnet-4-6") == 1
    grant = await rl.acquire("k2", "gpt-4.1", 10, 10)
    assert grant.states == [] and grant.settle is None


async def test_empty_tiers_mean_the_builtin_defaults() -> None:
    rl = RateLimiter(RateLimitsConfig(enabled=True), FakeClock())
    assert rl.tiers == DEFAULT_TIERS
    assert rl.tiers[rl.tier_index("anyone", "claude-opus-4-8") or 0].name == "claude"


async def test_each_budget_is_charged_its_own_cost() -> None:
    rl = limiter(
        RateLimitTier(
            requests_per_minute=10,
            tokens_per_minute=1000,
            input_tokens_per_minute=500,
            output_tokens_per_minute=400,
            requests_per_day=100,
            tokens_per_day=10_000,
        )
    )
    grant = await rl.acquire("k", "m", 120, 80)
    remaining = {(s.resource, s.window): s.remaining for s in grant.states}
    assert remaining == {
        ("requests", "minute"): 9,
        ("tokens", "minute"): 800,
        ("input_tokens", "minute"): 380,
        ("output_tokens", "minute"): 320,
        ("requests", "day"): 99,
        ("tokens", "day"): 9800,
    }


async def test_refusal_carries_the_hit_the_retry_hint_and_every_state() -> None:
    clock = FakeClock()
    rl = limiter(RateLimitTier(requests_per_minute=2, tokens_per_minute=1000), clock=clock)
    await rl.acquire("k", "m", 1, 1)
    await rl.acquire("k", "m", 1, 1)
    with pytest.raises(RateLimited) as caught:
        await rl.acquire("k", "m", 7, 3)
    error = caught.value
    assert error.status == 429 and error.code == "rate_limit_exceeded"
    assert error.limit is not None
    assert (error.limit.resource, error.limit.window, error.limit.limit) == ("requests", "minute", 2)
    assert (error.limit.used, error.limit.requested, error.limit.model, error.limit.key) == (2, 1, "m", "k")
    assert error.retry_after_s == pytest.approx(30.0)  # one request refills in 60 s / 2
    assert {s.resource for s in error.states} == {"requests", "tokens"}
    # Nothing was charged by the refused request.
    assert next(s for s in error.states if s.resource == "tokens").remaining == 1000 - 4
    assert rl.refused == 1
    clock.advance_to(clock.now() + 30.0)
    await rl.acquire("k", "m", 1, 1)


async def test_a_request_larger_than_the_bucket_is_refused_without_retry() -> None:
    rl = limiter(RateLimitTier(tokens_per_minute=100))
    with pytest.raises(RateLimited) as caught:
        await rl.acquire("k", "m", 90, 20)
    assert caught.value.retry_after_s is None
    assert caught.value.should_retry is False


async def test_keys_and_models_have_separate_buckets() -> None:
    rl = limiter(RateLimitTier(requests_per_minute=1))
    await rl.acquire("a", "m1", 0, 0)
    await rl.acquire("b", "m1", 0, 0)
    await rl.acquire("a", "m2", 0, 0)
    with pytest.raises(RateLimited):
        await rl.acquire("a", "m1", 0, 0)


async def test_settlement_refunds_unused_output_and_charges_overruns_once() -> None:
    rl = limiter(RateLimitTier(tokens_per_minute=1000, output_tokens_per_minute=500))
    grant = await rl.acquire("k", "m", 100, 300)  # tokens 600 left, output 200 left
    assert grant.settle is not None
    grant.settle(50)  # 250 estimated tokens unused
    grant.settle(0)  # once only
    await asyncio.sleep(0)
    after = await rl.acquire("k", "m", 0, 0)
    remaining = {s.resource: s.remaining for s in after.states}
    assert remaining == {"tokens": 850, "output_tokens": 450}
    over = await rl.acquire("k", "m", 0, 100)
    assert over.settle is not None
    over.settle(400)  # 300 more than estimated: charged late
    await asyncio.sleep(0)
    remaining = {s.resource: s.remaining for s in (await rl.acquire("k", "m", 0, 0)).states}
    assert remaining == {"tokens": 450, "output_tokens": 50}


async def test_concurrent_requests_admit_exactly_the_limit() -> None:
    rl = limiter(RateLimitTier(requests_per_minute=20))
    results = await asyncio.gather(*(rl.acquire("k", "m", 5, 5) for _ in range(100)), return_exceptions=True)
    admitted = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, RateLimited)]
    assert len(admitted) == 20 and len(refused) == 80


async def test_status_and_reset() -> None:
    rl = limiter(RateLimitTier(name="t", requests_per_minute=1))
    await rl.acquire("k", "m", 0, 0)
    status = await rl.status()
    assert status["buckets"] == 1 and status["enabled"] is True
    await rl.reset()
    await rl.acquire("k", "m", 0, 0)
