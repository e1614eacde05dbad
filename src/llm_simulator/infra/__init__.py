"""Foundations shared by every layer: clocks, seeded randomness, cache, retry, circuit breaker.

Domain-free: nothing here knows what the simulator simulates. The names below are the public
API (pinned by ``tests/infra/test_public_api.py``); the modules themselves hold more
building blocks (``infra.buckets`` for rate limiting, ``infra.rng`` for ids) used inside
the simulator.
"""

from llm_simulator.infra.cache import Cache, CacheStats
from llm_simulator.infra.circuit_breaker import (
    BreakerRegistry,
    BreakerSettings,
    BreakerState,
    CircuitBreaker,
    CircuitOpenError,
    Outcome,
)
from llm_simulator.infra.clock import Clock, FakeClock, SystemClock
from llm_simulator.infra.context import CacheConfig, InfraConfig, InfraContext, RetryConfig
from llm_simulator.infra.retry import (
    STRATEGIES,
    Backoff,
    RetryBudget,
    Retrying,
    RetryPolicy,
    aretry,
    constant,
    decorrelated_jitter,
    exponential,
    exponential_jitter,
    linear,
    retry,
    retry_after_from_headers,
    retry_after_hint,
    retrying,
)
from llm_simulator.infra.rng import derive_random, derive_seed

__all__ = [
    "STRATEGIES",
    "Backoff",
    "BreakerRegistry",
    "BreakerSettings",
    "BreakerState",
    "Cache",
    "CacheConfig",
    "CacheStats",
    "CircuitBreaker",
    "CircuitOpenError",
    "Clock",
    "FakeClock",
    "InfraConfig",
    "InfraContext",
    "Outcome",
    "RetryBudget",
    "RetryConfig",
    "RetryPolicy",
    "Retrying",
    "SystemClock",
    "aretry",
    "constant",
    "decorrelated_jitter",
    "derive_random",
    "derive_seed",
    "exponential",
    "exponential_jitter",
    "linear",
    "retry",
    "retry_after_from_headers",
    "retry_after_hint",
    "retrying",
]
