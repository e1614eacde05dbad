"""The infra package's public API is curated: ``__all__`` is pinned, and every name resolves."""

from __future__ import annotations

import llm_simulator.infra as infra

EXPECTED = {
    # clock and seeded randomness
    "Clock",
    "FakeClock",
    "SystemClock",
    "derive_random",
    "derive_seed",
    # cache
    "Cache",
    "CacheStats",
    # retry
    "STRATEGIES",
    "Backoff",
    "RetryBudget",
    "RetryPolicy",
    "Retrying",
    "aretry",
    "constant",
    "decorrelated_jitter",
    "exponential",
    "exponential_jitter",
    "linear",
    "retry",
    "retry_after_from_headers",
    "retry_after_hint",
    "retrying",
    # circuit breaker
    "BreakerRegistry",
    "BreakerSettings",
    "BreakerState",
    "CircuitBreaker",
    "CircuitOpenError",
    "Outcome",
    # context
    "CacheConfig",
    "InfraConfig",
    "InfraContext",
    "RetryConfig",
}


def test_all_is_pinned() -> None:
    assert set(infra.__all__) == EXPECTED
    assert len(infra.__all__) == len(EXPECTED)  # no duplicates


def test_every_public_name_resolves_and_is_documented() -> None:
    for name in infra.__all__:
        obj = getattr(infra, name)
        if name != "STRATEGIES":
            assert getattr(obj, "__doc__", None), name


def test_public_classes_live_in_the_infra_package() -> None:
    for name in infra.__all__:
        module = getattr(getattr(infra, name), "__module__", "llm_simulator.infra")
        assert module.startswith("llm_simulator.infra"), (name, module)
