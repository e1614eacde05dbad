"""``InfraContext``: one cache, one retry policy (with its budget) and a breaker per upstream.

Components that talk to upstream systems (the adapter registry and its consumers) share one
context, so they share the cache's memory bound and statistics, one retry budget (a storm
against one upstream is capped process-wide) and one breaker per upstream name.

Configuration is plain frozen data with the reference defaults (``InfraConfig``); the
context builds the live objects from it. The config package cannot import this layer (they
are independent siblings), so whoever loads settings maps them onto these dataclasses.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import asdict, dataclass, field, replace
from types import TracebackType
from typing import Any, TypeVar

from llm_simulator.infra.cache import (
    DEFAULT_CLEANUP_INTERVAL_S,
    DEFAULT_MAX_ENTRIES,
    DEFAULT_TTL_S,
    Cache,
    CacheStats,
)
from llm_simulator.infra.circuit_breaker import (
    BreakerRegistry,
    BreakerSettings,
    CircuitBreaker,
    CircuitOpenError,
    StateListener,
)
from llm_simulator.infra.clock import Clock, SystemClock
from llm_simulator.infra.retry import OnRetry, RetryBudget, RetryPolicy, StrategyName, aretry, retry, retry_any

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class CacheConfig:
    """The shared cache: TTL 300 s, 10,000 entries, expiry cleanup every 60 s, stats on.

    ``cleanup_interval_s=None`` turns the background cleanup off (expired entries are still
    never returned, and are dropped when touched or evicted).
    """

    ttl_s: float = DEFAULT_TTL_S
    max_entries: int = DEFAULT_MAX_ENTRIES
    cleanup_interval_s: float | None = DEFAULT_CLEANUP_INTERVAL_S
    stats_enabled: bool = True


@dataclass(frozen=True, slots=True)
class RetryConfig:
    """The retry policy: 3 retries, 100 ms base, 10 s cap, exponential with 0.2 jitter.

    Server hints are honoured up to ``max_hint_s`` (60 s; see ``RetryPolicy``). The budget
    is off by default; when on, the whole context may make ``budget_per_minute`` retries a
    minute (100 by default).
    """

    max_retries: int = 3
    base_delay_s: float = 0.1
    max_delay_s: float = 10.0
    strategy: StrategyName = "exponential_jitter"
    jitter: float = 0.2
    max_hint_s: float = 60.0
    budget_enabled: bool = False
    budget_per_minute: float = 100.0

    def __post_init__(self) -> None:
        """Check the budget (the policy's own fields are checked by ``RetryPolicy``)."""
        if not self.budget_per_minute > 0:
            raise ValueError(f"budget_per_minute must be > 0, got {self.budget_per_minute!r}")

    def policy(self, *, clock: Clock | None = None, retry_if: Callable[[Exception], bool] = retry_any) -> RetryPolicy:
        """A ``RetryPolicy`` with these values and, if enabled, a new budget on ``clock``."""
        budget = RetryBudget(self.budget_per_minute, clock=clock) if self.budget_enabled else None
        return RetryPolicy(
            max_retries=self.max_retries,
            base_delay_s=self.base_delay_s,
            max_delay_s=self.max_delay_s,
            strategy=self.strategy,
            jitter=self.jitter,
            retry_if=retry_if,
            max_hint_s=self.max_hint_s,
            budget=budget,
        )


@dataclass(frozen=True, slots=True)
class InfraConfig:
    """Everything an ``InfraContext`` is built from; every part defaults to the reference values."""

    cache: CacheConfig = field(default_factory=CacheConfig)
    retry: RetryConfig = field(default_factory=RetryConfig)
    breaker: BreakerSettings = field(default_factory=BreakerSettings)


class InfraContext:
    """A cache, a retry policy with its budget, and a registry of circuit breakers, shared.

    ``cache`` holds values of any type under any hashable key; namespace keys by component
    (``("profiles", url)``) since every user shares it. ``call``/``acall`` run a call to
    the upstream ``name`` through its breaker, retried per the policy.

    ``clock``, ``sleep`` / ``asleep`` (waits between retries), ``rng`` (retry jitter) and
    ``cleanup_sleep`` (the cache's cleanup task) are injectable for tests. The cleanup has its
    own sleep because a fake retry sleep that returns at once would make that endless loop
    spin.
    """

    def __init__(
        self,
        config: InfraConfig | None = None,
        *,
        clock: Clock | None = None,
        sleep: Callable[[float], object] = time.sleep,
        asleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        rng: random.Random | None = None,
        retry_if: Callable[[Exception], bool] = retry_any,
        on_retry: OnRetry | None = None,
        on_state_change: StateListener | None = None,
        cleanup_sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self._config = config if config is not None else InfraConfig()
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._sleep = sleep
        self._asleep = asleep
        self._rng = rng
        self._on_retry = on_retry
        cache_config = self._config.cache
        self._cache: Cache[Hashable, Any] = Cache(
            ttl_s=cache_config.ttl_s,
            max_entries=cache_config.max_entries,
            cleanup_interval_s=cache_config.cleanup_interval_s,
            stats_enabled=cache_config.stats_enabled,
            clock=self._clock,
            sleep=cleanup_sleep,
        )
        self._policy = self._config.retry.policy(clock=self._clock, retry_if=retry_if)
        self._call_policy = self._policy_for_calls()
        self._breakers = BreakerRegistry(self._config.breaker, clock=self._clock, on_state_change=on_state_change)

    @property
    def config(self) -> InfraConfig:
        """The configuration the context was built from."""
        return self._config

    @property
    def clock(self) -> Clock:
        """The clock shared by the cache, the budget and the breakers."""
        return self._clock

    @property
    def cache(self) -> Cache[Hashable, Any]:
        """The shared cache."""
        return self._cache

    @property
    def retry_policy(self) -> RetryPolicy:
        """The shared retry policy (its ``budget``, when on, is shared too)."""
        return self._policy

    @property
    def breakers(self) -> BreakerRegistry:
        """The circuit breakers, by upstream name."""
        return self._breakers

    def breaker(self, name: str) -> CircuitBreaker:
        """The breaker guarding upstream ``name`` (created on first use)."""
        return self._breakers.get(name)

    def cache_stats(self) -> CacheStats:
        """The shared cache's statistics."""
        return self._cache.stats()

    def clear_cache(self) -> None:
        """Empty the shared cache (statistics are kept)."""
        self._cache.clear()

    def snapshot(self) -> dict[str, object]:
        """Cache statistics, breaker states and the retry budget left; JSON-serialisable."""
        budget = self._policy.budget
        return {
            "cache": asdict(self._cache.stats()),
            "breakers": self._breakers.snapshot(),
            "retry_budget_remaining": None if budget is None else budget.remaining,
        }

    # -- guarded calls -------------------------------------------------------------------

    def _policy_for_calls(self) -> RetryPolicy:
        """The policy, except that a refusal by the breaker is never retried.

        Waiting out an open breaker inside the call would defeat its purpose (failing fast)
        and spend the retry budget; the caller gets ``CircuitOpenError`` at once.
        """
        retry_if = self._policy.retry_if

        def retry_unless_open(exc: Exception) -> bool:
            return not isinstance(exc, CircuitOpenError) and retry_if(exc)

        return replace(self._policy, retry_if=retry_unless_open)

    def call(self, name: str, fn: Callable[[], T]) -> T:
        """``fn()`` against upstream ``name``: each attempt through its breaker, retried per the policy."""
        breaker = self._breakers.get(name)
        return retry(
            lambda: breaker.call(fn),
            self._call_policy,
            sleep=self._sleep,
            rng=self._rng,
            on_retry=self._on_retry,
        )

    async def acall(self, name: str, fn: Callable[[], Awaitable[T]]) -> T:
        """``await fn()`` against upstream ``name``: each attempt through its breaker, retried."""
        breaker = self._breakers.get(name)
        return await aretry(
            lambda: breaker.acall(fn),
            self._call_policy,
            sleep=self._asleep,
            rng=self._rng,
            on_retry=self._on_retry,
        )

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        """Start the cache's background cleanup (needs a running event loop)."""
        self._cache.start()

    async def aclose(self) -> None:
        """Stop the cache's background cleanup."""
        await self._cache.aclose()

    async def __aenter__(self) -> InfraContext:
        """Start; ``async with InfraContext() as infra: ...``."""
        self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Stop."""
        await self.aclose()
