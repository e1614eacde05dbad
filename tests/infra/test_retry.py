"""Retry: exact strategy delays, caps, hints, the budget, sync/async/decorator forms, give-up notes."""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import ClassVar

import pytest

from llm_simulator.infra.clock import FakeClock
from llm_simulator.infra.retry import (
    STRATEGIES,
    RetryBudget,
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


class FixedRandom(random.Random):
    """A ``Random`` whose ``uniform`` draws a fixed fraction of the way from ``a`` to ``b``."""

    def __init__(self, fraction: float) -> None:
        super().__init__(0)
        self.fraction = fraction

    def uniform(self, a: float, b: float) -> float:
        return a + (b - a) * self.fraction


class Flaky(Exception):
    """A transient failure, optionally carrying a retry hint."""

    def __init__(self, retry_after_s: float | None = None) -> None:
        super().__init__("flaky")
        self.retry_after_s = retry_after_s


class Fatal(Exception):
    """A failure not worth retrying."""


class Recorder:
    """A sync and async ``sleep`` that records the waits and advances a fake clock."""

    def __init__(self, clock: FakeClock | None = None) -> None:
        self.clock = clock or FakeClock(start=0.0)
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.clock.advance_to(self.clock.now() + seconds)

    async def asleep(self, seconds: float) -> None:
        self(seconds)


def failing(times: int, exc: Exception | None = None, result: str = "ok") -> tuple[list[int], Callable[[], str]]:
    calls: list[int] = []

    def fn() -> str:
        calls.append(1)
        if len(calls) <= times:
            raise exc if exc is not None else Flaky()
        return result

    return calls, fn


BASE = {"base_s": 0.1, "max_s": 10.0}


# -- strategies --------------------------------------------------------------------------


def test_defaults_are_the_reference_values() -> None:
    policy = RetryPolicy()
    assert policy.max_retries == 3
    assert policy.base_delay_s == 0.1
    assert policy.max_delay_s == 10.0
    assert policy.strategy == "exponential_jitter"
    assert policy.jitter == 0.2
    assert policy.budget is None
    assert policy.max_hint_s == 60.0
    assert RetryBudget().max_retries_per_minute == 100


def test_constant_linear_and_exponential_delays() -> None:
    rng = random.Random(1)
    assert [constant(n, 0.0, rng, **BASE) for n in (1, 2, 5)] == [0.1, 0.1, 0.1]
    assert [linear(n, 0.0, rng, **BASE) for n in (1, 2, 3)] == pytest.approx([0.1, 0.2, 0.3])
    assert [exponential(n, 0.0, rng, **BASE) for n in (1, 2, 3, 4)] == pytest.approx([0.1, 0.2, 0.4, 0.8])


def test_every_strategy_is_capped_at_max() -> None:
    rng = random.Random(1)
    assert constant(1, 0.0, rng, base_s=5.0, max_s=2.0) == 2.0
    assert linear(200, 0.0, rng, **BASE) == 10.0
    assert exponential(8, 0.0, rng, **BASE) == 10.0  # 0.1 · 2^7 = 12.8
    assert exponential(5000, 0.0, rng, **BASE) == 10.0  # no OverflowError for absurd attempts
    assert exponential_jitter(5000, 0.0, rng, jitter=0.2, **BASE) <= 10.0
    assert decorrelated_jitter(9, 9.0, FixedRandom(1.0), **BASE) == 10.0


def test_exponential_jitter_spans_plus_minus_the_fraction() -> None:
    # d = 0.1 · 2^2 = 0.4; u = −1 → 0.4 · 0.8, u = +1 → 0.4 · 1.2, u = 0 → 0.4.
    assert exponential_jitter(3, 0.0, FixedRandom(0.0), jitter=0.2, **BASE) == pytest.approx(0.32)
    assert exponential_jitter(3, 0.0, FixedRandom(1.0), jitter=0.2, **BASE) == pytest.approx(0.48)
    assert exponential_jitter(3, 0.0, FixedRandom(0.5), jitter=0.2, **BASE) == pytest.approx(0.4)


def test_exponential_jitter_keeps_its_spread_at_the_cap() -> None:
    assert exponential_jitter(20, 0.0, FixedRandom(0.0), jitter=0.2, **BASE) == pytest.approx(8.0)
    assert exponential_jitter(20, 0.0, FixedRandom(1.0), jitter=0.2, **BASE) == 10.0


def test_exponential_jitter_with_a_seeded_rng_is_exact_and_reproducible() -> None:
    expected_u = random.Random(42).uniform(-1.0, 1.0)
    value = exponential_jitter(2, 0.0, random.Random(42), jitter=0.2, **BASE)
    assert value == pytest.approx(0.2 * (1 + 0.2 * expected_u))
    policy = RetryPolicy()
    assert policy.delays(random.Random(7)) == policy.delays(random.Random(7))
    assert policy.delays(random.Random(7)) != policy.delays(random.Random(8))
    draws = [exponential_jitter(1, 0.0, random.Random(s), jitter=0.2, **BASE) for s in range(500)]
    assert min(draws) >= 0.08 and max(draws) <= 0.12
    assert max(draws) - min(draws) > 0.03  # actually jittered


def test_decorrelated_jitter_draws_between_base_and_three_times_the_previous() -> None:
    top = FixedRandom(1.0)
    # First retry: previous = base → up to 0.3; then 0.9, 2.7, 8.1, capped at 10.
    previous = 0.0
    seen = []
    for attempt in range(1, 6):
        previous = decorrelated_jitter(attempt, previous, top, **BASE)
        seen.append(previous)
    assert seen == pytest.approx([0.3, 0.9, 2.7, 8.1, 10.0])
    assert decorrelated_jitter(4, 5.0, FixedRandom(0.0), **BASE) == pytest.approx(0.1)
    rng = random.Random(3)
    previous = 0.0
    for attempt in range(1, 50):
        delay = decorrelated_jitter(attempt, previous, rng, **BASE)
        assert 0.1 <= delay <= min(10.0, 3 * max(previous, 0.1))
        previous = delay


def test_policy_delays_follow_the_named_strategy() -> None:
    policy = RetryPolicy(strategy="exponential", max_retries=5, max_delay_s=1.0)
    assert policy.delays(random.Random()) == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0])
    assert RetryPolicy(strategy="linear").delays(random.Random()) == pytest.approx([0.1, 0.2, 0.3])
    assert set(STRATEGIES) == {"constant", "linear", "exponential", "exponential_jitter", "decorrelated_jitter"}


def test_a_custom_backoff_callable_is_capped_too() -> None:
    def fibonacci_ish(
        attempt: int, previous_s: float, rng: random.Random, *, base_s: float, max_s: float, jitter: float
    ) -> float:
        return base_s * attempt * attempt

    policy = RetryPolicy(strategy=fibonacci_ish, max_retries=4, base_delay_s=1.0, max_delay_s=10.0)
    assert policy.delays(random.Random()) == [1.0, 4.0, 9.0, 10.0]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"max_retries": -1}, "max_retries"),
        ({"base_delay_s": -0.1}, "base_delay_s"),
        ({"base_delay_s": 5.0, "max_delay_s": 1.0}, "max_delay_s"),
        ({"jitter": 1.5}, "jitter"),
        ({"max_hint_s": -1.0}, "max_hint_s"),
        ({"strategy": "fibonacci"}, "strategy"),
    ],
)
def test_invalid_policies_name_the_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


# -- the sync loop -----------------------------------------------------------------------


def test_retry_until_success_with_exact_waits_and_on_retry() -> None:
    calls, fn = failing(2)
    sleep = Recorder()
    seen: list[tuple[int, float, str]] = []
    result = retry(
        fn,
        RetryPolicy(strategy="exponential"),
        sleep=sleep,
        on_retry=lambda n, d, e: seen.append((n, d, type(e).__name__)),
    )
    assert result == "ok"
    assert len(calls) == 3
    assert sleep.waits == pytest.approx([0.1, 0.2])
    assert [(n, round(d, 9), name) for n, d, name in seen] == [(1, 0.1, "Flaky"), (2, 0.2, "Flaky")]


def test_exhaustion_reraises_the_last_exception_with_a_note() -> None:
    last = Flaky()
    errors = [Flaky(), Flaky(), Flaky(), last]

    def fn() -> str:
        raise errors.pop(0)

    sleep = Recorder()
    with pytest.raises(Flaky) as info:
        retry(fn, RetryPolicy(strategy="constant"), sleep=sleep)
    assert info.value is last
    assert info.value.__notes__ == ["retry: gave up after 4 attempts (3 retries)"]
    assert sleep.waits == pytest.approx([0.1, 0.1, 0.1])


def test_retry_if_false_raises_at_once_without_a_note() -> None:
    calls, fn = failing(5, Fatal())
    sleep = Recorder()
    policy = RetryPolicy(retry_if=lambda e: not isinstance(e, Fatal))
    with pytest.raises(Fatal) as info:
        retry(fn, policy, sleep=sleep)
    assert len(calls) == 1
    assert sleep.waits == []
    assert not getattr(info.value, "__notes__", [])


def test_retry_if_false_after_retries_notes_the_attempts() -> None:
    errors: list[Exception] = [Flaky(), Fatal()]

    def fn() -> str:
        raise errors.pop(0)

    with pytest.raises(Fatal) as info:
        retry(fn, RetryPolicy(retry_if=lambda e: isinstance(e, Flaky)), sleep=Recorder())
    assert info.value.__notes__ == ["retry: not retryable (retry_if); 2 attempts made"]


def test_base_exceptions_are_never_retried() -> None:
    class Stop(BaseException):
        pass

    calls: list[int] = []

    def fn() -> str:
        calls.append(1)
        raise Stop

    with pytest.raises(Stop):
        retry(fn, sleep=Recorder())
    assert calls == [1]


def test_zero_retries_means_one_attempt() -> None:
    calls, fn = failing(1)
    with pytest.raises(Flaky):
        retry(fn, RetryPolicy(max_retries=0), sleep=Recorder())
    assert len(calls) == 1


def test_the_default_rng_jitters_within_bounds() -> None:
    _, fn = failing(3)
    sleep = Recorder()
    retry(fn, RetryPolicy(), sleep=sleep)
    for wait, nominal in zip(sleep.waits, [0.1, 0.2, 0.4], strict=True):
        assert nominal * 0.8 <= wait <= nominal * 1.2


def test_a_seeded_rng_reproduces_the_waits() -> None:
    waits = []
    for _ in range(2):
        _, fn = failing(3)
        sleep = Recorder()
        retry(fn, RetryPolicy(strategy="decorrelated_jitter"), sleep=sleep, rng=random.Random(99))
        waits.append(sleep.waits)
    assert waits[0] == waits[1]
    assert waits[0] == RetryPolicy(strategy="decorrelated_jitter").delays(random.Random(99))


# -- server hints ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hint", "expected"),
    [
        (2.5, 2.5),  # longer than the 0.1 s backoff: wait the hint
        (0.01, 0.1),  # shorter: the backoff stands
        (0.0, 0.1),
        (30.0, 30.0),  # above max_delay_s (10) but within max_hint_s (60): honoured
        (600.0, 60.0),  # capped at max_hint_s
    ],
)
def test_a_retry_after_hint_is_honoured(hint: float, expected: float) -> None:
    _, fn = failing(1, Flaky(retry_after_s=hint))
    sleep = Recorder()
    retry(fn, RetryPolicy(strategy="constant"), sleep=sleep)
    assert sleep.waits == pytest.approx([expected])


def test_a_hint_does_not_inflate_later_decorrelated_delays() -> None:
    errors = [Flaky(retry_after_s=30.0), Flaky()]

    def fn() -> str:
        if errors:
            raise errors.pop(0)
        return "ok"

    sleep = Recorder()
    retry(fn, RetryPolicy(strategy="decorrelated_jitter"), sleep=sleep, rng=FixedRandom(1.0))
    assert sleep.waits == pytest.approx([30.0, 0.9])  # 0.9 = 3 × 0.3, not 3 × 30 capped


def test_retry_after_from_headers() -> None:
    clock = FakeClock(start=0.0, wall_start=1_700_000_000.0)
    assert retry_after_from_headers({"retry-after-ms": "1500"}) == 1.5
    assert retry_after_from_headers({"Retry-After": "7"}) == 7.0
    assert retry_after_from_headers({"retry-after": "2.5"}) == 2.5
    # retry-after-ms wins; a broken one falls back to retry-after.
    assert retry_after_from_headers({"retry-after-ms": "200", "retry-after": "9"}) == 0.2
    assert retry_after_from_headers({"retry-after-ms": "soon", "retry-after": "9"}) == 9.0
    future = format_datetime(datetime.fromtimestamp(1_700_000_012, UTC), usegmt=True)
    assert retry_after_from_headers({"retry-after": future}, clock=clock) == pytest.approx(12.0)
    past = format_datetime(datetime.fromtimestamp(1_600_000_000, UTC), usegmt=True)
    assert retry_after_from_headers({"retry-after": past}, clock=clock) == 0.0
    for junk in ("", "soon", "-3", "nan", "inf", "Mon, 99 Foo 2024 99:99:99"):
        assert retry_after_from_headers({"retry-after": junk}, clock=clock) is None, junk
    assert retry_after_from_headers({}) is None


def test_retry_after_hint_reads_attributes_and_headers() -> None:
    class WithHeaders(Exception):
        headers: ClassVar = {"retry-after": "3"}

    class Response:
        headers: ClassVar = {"retry-after-ms": "250"}

    class WithResponse(Exception):
        response = Response()

    class BoolHint(Exception):
        retry_after_s = True

    assert retry_after_hint(Flaky(retry_after_s=4.0)) == 4.0
    assert retry_after_hint(Flaky(retry_after_s=math.inf)) is None
    assert retry_after_hint(WithHeaders()) == 3.0
    assert retry_after_hint(WithResponse()) == 0.25
    assert retry_after_hint(BoolHint()) is None
    assert retry_after_hint(ValueError()) is None


# -- the budget --------------------------------------------------------------------------


def test_an_exhausted_budget_stops_retries_across_calls() -> None:
    clock = FakeClock(start=0.0)
    budget = RetryBudget(2, clock=clock)
    policy = RetryPolicy(strategy="constant", budget=budget)
    sleep = Recorder(clock)
    calls, fn = failing(10)
    with pytest.raises(Flaky) as info:
        retry(fn, policy, sleep=sleep)
    # Two retries allowed by the budget (0.2 s of refill in between adds < 1 token).
    assert len(calls) == 3
    assert info.value.__notes__ == ["retry: retry budget exhausted; 3 attempts made"]
    # Another call sharing the budget: no retry at all.
    calls2, fn2 = failing(10)
    with pytest.raises(Flaky):
        retry(fn2, policy, sleep=sleep)
    assert len(calls2) == 1
    # Refill: 2 per minute → one token after 30 s.
    clock.advance_to(clock.now() + 30.0)
    calls3, fn3 = failing(1)
    assert retry(fn3, policy, sleep=sleep) == "ok"
    assert len(calls3) == 2


def test_budget_refills_continuously_up_to_its_capacity() -> None:
    clock = FakeClock(start=0.0)
    budget = RetryBudget(60, clock=clock)  # one token a second
    assert all(budget.try_acquire() for _ in range(60))
    assert not budget.try_acquire()
    clock.advance_to(2.5)
    assert budget.remaining == pytest.approx(2.5)
    clock.advance_to(10_000.0)
    assert budget.remaining == 60.0
    for _ in range(10):
        budget.try_acquire()
    budget.reset()
    assert budget.remaining == 60.0
    with pytest.raises(ValueError, match="max_retries_per_minute"):
        RetryBudget(0)


# -- async and decorator forms -----------------------------------------------------------


async def test_aretry_retries_a_coroutine_function() -> None:
    calls: list[int] = []

    async def fn() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise Flaky()
        return "ok"

    sleep = Recorder()
    seen: list[int] = []
    result = await aretry(
        fn, RetryPolicy(strategy="exponential"), sleep=sleep.asleep, on_retry=lambda n, d, e: seen.append(n)
    )
    assert result == "ok"
    assert sleep.waits == pytest.approx([0.1, 0.2])
    assert seen == [1, 2]


async def test_aretry_exhaustion_and_hint() -> None:
    async def fn() -> str:
        raise Flaky(retry_after_s=1.5)

    sleep = Recorder()
    with pytest.raises(Flaky) as info:
        await aretry(fn, RetryPolicy(max_retries=2), sleep=sleep.asleep)
    assert sleep.waits == pytest.approx([1.5, 1.5])
    assert info.value.__notes__ == ["retry: gave up after 3 attempts (2 retries)"]


async def test_aretry_never_retries_cancellation() -> None:
    calls: list[int] = []

    async def fn() -> str:
        calls.append(1)
        raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        await aretry(fn, sleep=Recorder().asleep)
    assert calls == [1]


def test_the_decorator_wraps_sync_functions() -> None:
    sleep = Recorder()
    calls: list[tuple[int, str]] = []

    @retrying(RetryPolicy(strategy="linear"), sleep=sleep)
    def fetch(n: int, *, tag: str) -> str:
        """Fetch something."""
        calls.append((n, tag))
        if len(calls) < 3:
            raise Flaky()
        return f"{tag}{n}"

    assert fetch(5, tag="x") == "x5"
    assert calls == [(5, "x")] * 3
    assert sleep.waits == pytest.approx([0.1, 0.2])
    assert fetch.__name__ == "fetch"
    assert fetch.__doc__ == "Fetch something."


async def test_the_decorator_wraps_async_functions() -> None:
    sleep = Recorder()
    calls: list[int] = []

    @retrying(RetryPolicy(strategy="constant", max_retries=1), asleep=sleep.asleep, sleep=lambda s: None)
    async def fetch(n: int) -> int:
        calls.append(n)
        raise Flaky()

    with pytest.raises(Flaky):
        await fetch(3)
    assert calls == [3, 3]
    assert sleep.waits == pytest.approx([0.1])
    assert asyncio.iscoroutinefunction(fetch)


def test_a_hint_may_replace_the_backoff() -> None:
    # The webhook sink's rule: a receiver's Retry-After says when it is ready, even sooner.
    class Hinted(Exception):
        retry_after_s = 0.0

    replacing = RetryPolicy(base_delay_s=5.0, max_delay_s=30.0, max_hint_s=30.0, hint_replaces_backoff=True)
    assert replacing.wait_s(5.0, Hinted()) == 0.0
    assert RetryPolicy(base_delay_s=5.0, max_delay_s=30.0).wait_s(5.0, Hinted()) == 5.0
