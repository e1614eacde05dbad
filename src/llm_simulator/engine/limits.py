"""Provider-faithful rate limits: token buckets per caller and model, charged with real costs.

Each request draws from every budget of the first tier matching its caller and model:
1 request, and its tokens (prompt tokens plus the output it may produce, ``max_tokens``,
as OpenAI and Anthropic estimate at admission). When the response ends, the output part is
reconciled with the tokens actually produced: a refund, or a late charge that can leave the
bucket in debt. Bucket levels live in a ``BucketStore``: this process's memory, or the
fleet's Redis (``state.backend``, docs/scaling.md).
"""

from __future__ import annotations

import asyncio
import fnmatch
import math
from collections.abc import Callable
from dataclasses import dataclass

from llm_simulator.config.ratelimits import RateLimitsConfig, RateLimitTier
from llm_simulator.core.errors import ErrorKind, LimitHit, SimulatorError
from llm_simulator.core.redact import mask
from llm_simulator.infra.buckets import MAX_BUCKETS, BucketStore, Demand, Level, MemoryBucketStore
from llm_simulator.infra.clock import Clock

WINDOW_SECONDS = {"minute": 60.0, "day": 86_400.0}

# Published defaults of the simulated providers (requests / tokens per minute), used when
# rate limits are on and no tier is configured.
DEFAULT_TIERS: tuple[RateLimitTier, ...] = (
    RateLimitTier(
        name="gpt-4", models=("gpt-4*",), requests_per_minute=500, tokens_per_minute=40_000, burst_multiplier=1.5
    ),
    RateLimitTier(
        name="gpt-3.5", models=("gpt-3.5*",), requests_per_minute=3_500, tokens_per_minute=90_000, burst_multiplier=1.5
    ),
    RateLimitTier(
        name="claude", models=("claude*",), requests_per_minute=1_000, tokens_per_minute=100_000, burst_multiplier=1.5
    ),
    RateLimitTier(name="default", requests_per_minute=1_000, tokens_per_minute=100_000, burst_multiplier=1.5),
)


@dataclass(frozen=True, slots=True)
class LimitState:
    """One budget after admission, for the provider's rate-limit headers."""

    resource: str  # requests | tokens | input_tokens | output_tokens
    window: str  # minute | day
    limit: int
    remaining: int
    reset_s: float  # seconds until the bucket is full again


class RateLimited(SimulatorError):
    """A 429 for a spent budget; carries every budget's state for the response headers."""

    def __init__(self, hit: LimitHit, retry_after_s: float | None, states: list[LimitState]) -> None:
        super().__init__(
            ErrorKind.RATE_LIMIT,
            f"Rate limit reached for {hit.model} on {hit.resource} per {hit.window}: limit {hit.limit}.",
            code="rate_limit_exceeded",
            retry_after_s=retry_after_s,
            # A request larger than the bucket can ever hold is refused for good, and a spent
            # daily budget will not come back within any client's retry loop.
            should_retry=False if retry_after_s is None or hit.window == "day" else None,
            limit=hit,
        )
        self.states = states


@dataclass(slots=True)
class Grant:
    """An admitted request's budgets and the settlement of its output estimate."""

    states: list[LimitState]
    settle: Callable[[int], None] | None = None


UNLIMITED = Grant([])


@dataclass(frozen=True, slots=True)
class _Budget:
    resource: str
    window: str
    limit: int
    burst: float

    def demand(self, bucket: str, amount: float) -> Demand:
        """A draw of ``amount``: capacity = limit × burst, refill = limit per window."""
        return Demand(bucket, self.limit * self.burst, self.limit / WINDOW_SECONDS[self.window], amount)


def _budgets(tier: RateLimitTier) -> list[_Budget]:
    pairs = (
        ("requests", "minute", tier.requests_per_minute),
        ("tokens", "minute", tier.tokens_per_minute),
        ("input_tokens", "minute", tier.input_tokens_per_minute),
        ("output_tokens", "minute", tier.output_tokens_per_minute),
        ("requests", "day", tier.requests_per_day),
        ("tokens", "day", tier.tokens_per_day),
    )
    return [_Budget(r, w, limit, tier.burst_multiplier) for r, w, limit in pairs if limit is not None]


def _matches(patterns: tuple[str, ...], value: str) -> bool:
    return not patterns or any(p == value or fnmatch.fnmatchcase(value, p) for p in patterns)


class RateLimiter:
    """Admits or refuses requests against the configured tiers."""

    def __init__(self, config: RateLimitsConfig, clock: Clock, store: BucketStore | None = None) -> None:
        self.config = config
        self.enabled = config.enabled
        self.tiers = config.tiers or DEFAULT_TIERS
        self._clock = clock
        self.store: BucketStore = store or MemoryBucketStore()
        self._budgets = [_budgets(t) for t in self.tiers]
        self._pending: set[asyncio.Task[None]] = set()
        # (key, model) → (tier index, bucket ids): tier matching runs fnmatch, and the ids are
        # the same for every request of a caller; bounded like the buckets themselves.
        self._routes: dict[tuple[str, str], tuple[int, list[str]] | None] = {}
        self.refused = 0

    def tier_index(self, key: str, model: str) -> int | None:
        """The first tier matching ``key`` and ``model``."""
        for index, tier in enumerate(self.tiers):
            if _matches(tier.api_keys, key) and _matches(tier.models, model):
                return index
        return None

    def _route(self, key: str, model: str) -> tuple[int, list[str]] | None:
        """The caller's tier and bucket ids (cached)."""
        route = self._routes.get((key, model), False)
        if route is False:
            index = self.tier_index(key, model)
            route = None
            if index is not None:
                prefix = f"{index}\x1f{key}\x1f{model}\x1f"
                route = (index, [f"{prefix}{b.resource}\x1f{b.window}" for b in self._budgets[index]])
            if len(self._routes) >= MAX_BUCKETS:
                self._routes.clear()
            self._routes[(key, model)] = route
        return route  # type: ignore[return-value]

    async def acquire(self, key: str, model: str, input_tokens: int, output_estimate: int) -> Grant:
        """Draw the request's cost from every budget of its tier, or raise ``RateLimited``."""
        route = self._route(key, model)
        if route is None:
            return UNLIMITED
        index, ids = route
        budgets = self._budgets[index]
        costs = {
            "requests": 1,
            "tokens": input_tokens + output_estimate,
            "input_tokens": input_tokens,
            "output_tokens": output_estimate,
        }
        demands = [b.demand(bucket, costs[b.resource]) for b, bucket in zip(budgets, ids, strict=True)]
        levels, refusal = await self.store.take(demands, self._clock.now())
        states = [_state(b, level) for b, level in zip(budgets, levels, strict=True)]
        if refusal is not None:
            self.refused += 1
            budget = budgets[refusal.index]
            hit = LimitHit(
                resource=budget.resource,
                window=budget.window,
                limit=budget.limit,
                used=max(0, budget.limit - math.floor(refusal.remaining)),
                requested=costs[budget.resource],
                model=model,
                key=key,
                tier=self.tiers[index].name or f"tier{index}",
            )
            wait = None if math.isinf(refusal.retry_after_s) else max(0.001, refusal.retry_after_s)
            raise RateLimited(hit, wait, states)
        return Grant(states, self._settlement(budgets, demands, output_estimate))

    def _settlement(self, budgets: list[_Budget], demands: list[Demand], estimate: int) -> Callable[[int], None] | None:
        """A once-only callback reconciling the output estimate with the tokens produced.

        None when no budget counts output tokens (nothing to reconcile).
        """
        output_demands = [d for b, d in zip(budgets, demands, strict=True) if b.resource in ("tokens", "output_tokens")]
        if not output_demands:
            return None
        done = False

        def settle(produced: int) -> None:
            nonlocal done
            if done or produced == estimate:
                done = True
                return
            done = True
            delta = produced - estimate
            now = self._clock.now()
            for demand in output_demands:
                adjustment = Demand(demand.bucket, demand.capacity, demand.refill_per_s, delta)
                task = asyncio.ensure_future(self.store.adjust(adjustment, now))
                self._pending.add(task)
                task.add_done_callback(self._pending.discard)

        return settle

    async def status(self) -> dict[str, object]:
        """Tiers in force and how many buckets are tracked (for the admin API)."""
        return {
            "enabled": self.enabled,
            "key_by": self.config.key_by,
            "tiers": [{**t.model_dump(mode="json"), "api_keys": [mask(k) for k in t.api_keys]} for t in self.tiers],
            "buckets": await self.store.count(),
            "refused": self.refused,
        }

    async def reset(self) -> None:
        """Refill every bucket."""
        await self.store.clear()


def _state(budget: _Budget, level: Level) -> LimitState:
    """A budget as the provider headers show it: never more than its limit remaining.

    Burst headroom (capacity above the limit) is invisible, as on the real APIs: the reset
    is the time until the limit is available again, (limit − level) / (limit per window).
    """
    remaining = level.remaining
    rate = budget.limit / WINDOW_SECONDS[budget.window]
    reset = 0.0 if remaining >= budget.limit else (budget.limit - remaining) / rate
    return LimitState(
        budget.resource, budget.window, budget.limit, max(0, min(budget.limit, math.floor(remaining))), reset
    )
