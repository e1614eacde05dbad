"""Retrying failed calls: backoff strategies, server retry hints, a shared retry budget.

``retry(fn, policy)`` calls ``fn`` until it returns, retrying an ``Exception`` up to
``policy.max_retries`` times; ``aretry`` does the same for coroutines and ``@retrying(policy)``
wraps sync or async functions. Between attempts it waits the strategy's backoff, or the
server's hint when that is longer (see ``RetryPolicy``).

When it gives up (retries exhausted, ``retry_if`` said no, the budget ran dry) the **last
exception is re-raised unchanged**, with its original traceback: callers keep catching the
exception types they already know. How many attempts were made is attached as a PEP 678
note (``exc.__notes__``), which tracebacks print.

Sleeping and randomness are injected (``sleep=``, ``rng=``), so tests run on a fake clock
and a seeded ``random.Random`` reproduces the exact delays.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import math
import random
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Literal, ParamSpec, Protocol, TypeVar, overload

from llm_simulator.infra.clock import Clock, SystemClock

T = TypeVar("T")
P = ParamSpec("P")

StrategyName = Literal["constant", "linear", "exponential", "exponential_jitter", "decorrelated_jitter"]

OnRetry = Callable[[int, float, Exception], object]
"""``on_retry(attempt, delay_s, exc)``: called before sleeping ahead of retry number ``attempt`` (1-based)."""


class Backoff(Protocol):
    """A backoff strategy: the delay before retry number ``attempt`` (1-based).

    ``previous_s`` is the delay this strategy returned for the previous retry (0.0 before
    the first). Must be pure apart from drawing from ``rng``.
    """

    def __call__(
        self, attempt: int, previous_s: float, rng: random.Random, *, base_s: float, max_s: float, jitter: float
    ) -> float:
        """The delay in seconds, already capped at ``max_s``."""
        ...


# -- strategies --------------------------------------------------------------------------


def constant(
    attempt: int, previous_s: float, rng: random.Random, *, base_s: float, max_s: float, jitter: float = 0.0
) -> float:
    """Constant backoff: delay = min(max, base)."""
    return min(max_s, base_s)


def linear(
    attempt: int, previous_s: float, rng: random.Random, *, base_s: float, max_s: float, jitter: float = 0.0
) -> float:
    """Linear backoff: delay = min(max, base · n) for retry n."""
    return min(max_s, base_s * attempt)


def _doubling(attempt: int, base_s: float) -> float:
    """The doubling term base · 2^(n−1), saturating to inf instead of raising OverflowError for huge n."""
    # 2.0 ** 1024 raises OverflowError (a float product overflowing just gives inf).
    if attempt > 1024:
        return math.inf if base_s > 0 else 0.0
    return base_s * 2.0 ** (attempt - 1)


def exponential(
    attempt: int, previous_s: float, rng: random.Random, *, base_s: float, max_s: float, jitter: float = 0.0
) -> float:
    """Exponential backoff: delay = min(max, base · 2^(n−1)) for retry n."""
    return min(max_s, _doubling(attempt, base_s))


def exponential_jitter(
    attempt: int, previous_s: float, rng: random.Random, *, base_s: float, max_s: float, jitter: float = 0.2
) -> float:
    """Exponential backoff with ±jitter: delay = min(max, d · (1 + jitter · u)).

    d = min(max, base · 2^(n−1)) and u is uniform in [−1, 1]. Capping d first keeps the
    spread at the cap (delays there fall in [max · (1 − jitter), max]), so clients that
    have all reached the cap still do not retry in lockstep.
    """
    d = min(max_s, _doubling(attempt, base_s))
    return min(max_s, d * (1.0 + jitter * rng.uniform(-1.0, 1.0)))


def decorrelated_jitter(
    attempt: int, previous_s: float, rng: random.Random, *, base_s: float, max_s: float, jitter: float = 0.0
) -> float:
    """Decorrelated jitter: delay = min(max, uniform(base, 3 · previous)), previous = base at first.

    Each delay is drawn from the previous one, so concurrent clients drift apart instead of
    sharing one schedule; ``jitter`` is not used.
    """
    previous = previous_s if previous_s > 0 else base_s
    return min(max_s, rng.uniform(base_s, max(base_s, 3.0 * previous)))


STRATEGIES: Mapping[str, Backoff] = {
    "constant": constant,
    "linear": linear,
    "exponential": exponential,
    "exponential_jitter": exponential_jitter,
    "decorrelated_jitter": decorrelated_jitter,
}
"""The named strategies, by ``RetryPolicy.strategy`` name."""


# -- server hints ------------------------------------------------------------------------


def _seconds(value: object) -> float | None:
    """A finite, non-negative number of seconds, or None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    seconds = float(value)
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def retry_after_from_headers(headers: Mapping[str, str], *, clock: Clock | None = None) -> float | None:
    """The server's retry hint in seconds from response headers, or None.

    ``retry-after-ms`` (milliseconds, sent by OpenAI) wins over ``retry-after``, which is
    either seconds or an HTTP date (then: date − now, at least 0; ``clock.wall()`` is now).
    Header names are matched case-insensitively; unparseable or negative values are ignored.
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    ms = lowered.get("retry-after-ms")
    if ms is not None:
        try:
            seconds = _seconds(float(ms) / 1000.0)
        except ValueError:
            seconds = None
        if seconds is not None:
            return seconds
    raw = lowered.get("retry-after")
    if raw is None:
        return None
    try:
        return _seconds(float(raw))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; a zone-less one is taken as UTC
        return None
    now = (clock if clock is not None else SystemClock()).wall()
    return max(0.0, when.timestamp() - now)


def retry_after_hint(exc: BaseException) -> float | None:
    """The retry hint an exception carries, in seconds, or None.

    Looked up in order: a numeric ``exc.retry_after_s`` (this package's ``CircuitOpenError``,
    the simulator's own errors), then ``exc.headers`` or ``exc.response.headers`` (httpx and
    the official SDKs' status errors) through ``retry_after_from_headers``.
    """
    seconds = _seconds(getattr(exc, "retry_after_s", None))
    if seconds is not None:
        return seconds
    headers = getattr(exc, "headers", None)
    if headers is None:
        headers = getattr(getattr(exc, "response", None), "headers", None)
    if isinstance(headers, Mapping):
        return retry_after_from_headers(headers)
    return None


# -- budget ------------------------------------------------------------------------------


class RetryBudget:
    """A token bucket of retries shared by every call that uses it, against retry storms.

    Holds up to ``max_retries_per_minute`` tokens and refills at max/60 per second; each retry
    takes one, and when none is left calls give up instead of retrying. Share one budget
    between all callers of an upstream: when it is down, the whole process then adds at most
    that many retries a minute on top of first attempts, instead of multiplying its load by
    ``1 + max_retries``. Thread-safe.
    """

    def __init__(self, max_retries_per_minute: float = 100.0, *, clock: Clock | None = None) -> None:
        if not max_retries_per_minute > 0:
            raise ValueError(f"max_retries_per_minute must be > 0, got {max_retries_per_minute!r}")
        self._capacity = float(max_retries_per_minute)
        self._rate = self._capacity / 60.0
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._tokens = self._capacity
        self._updated = self._clock.now()
        self._lock = threading.Lock()

    @property
    def max_retries_per_minute(self) -> float:
        """The bucket's capacity and per-minute refill."""
        return self._capacity

    def _refill(self) -> None:
        """Refill lazily: tokens = min(capacity, tokens + Δt · capacity / 60)."""
        now = self._clock.now()
        elapsed = now - self._updated
        if elapsed > 0:
            self._tokens = min(self._capacity, self._tokens + elapsed * self._rate)
            self._updated = now

    def try_acquire(self) -> bool:
        """Take one retry token; False (taking nothing) when less than one is left."""
        with self._lock:
            self._refill()
            if self._tokens < 1.0:
                return False
            self._tokens -= 1.0
            return True

    @property
    def remaining(self) -> float:
        """The tokens left now (fractional while refilling)."""
        with self._lock:
            self._refill()
            return self._tokens

    def reset(self) -> None:
        """Fill the bucket again."""
        with self._lock:
            self._tokens = self._capacity
            self._updated = self._clock.now()


# -- policy ------------------------------------------------------------------------------


def retry_any(exc: Exception) -> bool:
    """The default ``retry_if``: every ``Exception`` is worth retrying."""
    return True


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How to retry: how often, how long to wait, what to retry.

    ``strategy`` is a name from ``STRATEGIES`` or any ``Backoff`` callable. ``retry_if(exc)``
    decides whether an exception is retried at all (``BaseException``s such as cancellation
    never are). ``budget`` (off by default) is a shared ``RetryBudget``.

    Server hints: when the exception carries a retry hint (``retry_after_hint``) the wait is
    max(backoff, min(hint, ``max_hint_s``)). A hint is honoured *beyond* ``max_delay_s``
    because retrying before the server said it will accept us is a near-certain wasted
    attempt (and a 429 with ``retry-after: 20`` is common while ``max_delay_s`` is 10), but
    only up to ``max_hint_s`` so that a misbehaving server cannot park a caller for an hour.
    With ``hint_replaces_backoff`` the wait is min(hint, ``max_hint_s``) even when that is
    shorter than the backoff: for a receiver that says when it is ready (a webhook answering
    ``Retry-After: 0`` after a restart) rather than a shared API that others also hammer.
    """

    max_retries: int = 3
    base_delay_s: float = 0.1
    max_delay_s: float = 10.0
    strategy: StrategyName | Backoff = "exponential_jitter"
    jitter: float = 0.2
    retry_if: Callable[[Exception], bool] = retry_any
    max_hint_s: float = 60.0
    budget: RetryBudget | None = None
    hint_replaces_backoff: bool = False

    def __post_init__(self) -> None:
        """Check the values, naming the offending field."""
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {self.max_retries!r}")
        if not self.base_delay_s >= 0:
            raise ValueError(f"base_delay_s must be >= 0, got {self.base_delay_s!r}")
        if not self.max_delay_s >= self.base_delay_s:
            raise ValueError(f"max_delay_s must be >= base_delay_s, got {self.max_delay_s!r}")
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError(f"jitter must be within [0, 1], got {self.jitter!r}")
        if not self.max_hint_s >= 0:
            raise ValueError(f"max_hint_s must be >= 0, got {self.max_hint_s!r}")
        if isinstance(self.strategy, str) and self.strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {sorted(STRATEGIES)}, got {self.strategy!r}")

    def backoff(self, attempt: int, previous_s: float, rng: random.Random) -> float:
        """The strategy's delay before retry ``attempt`` (1-based), capped at ``max_delay_s``."""
        strategy = STRATEGIES[self.strategy] if isinstance(self.strategy, str) else self.strategy
        delay = strategy(attempt, previous_s, rng, base_s=self.base_delay_s, max_s=self.max_delay_s, jitter=self.jitter)
        return min(self.max_delay_s, max(0.0, delay))

    def delays(self, rng: random.Random) -> list[float]:
        """The backoff before each of the ``max_retries`` retries, ignoring hints and budget."""
        out: list[float] = []
        previous = 0.0
        for attempt in range(1, self.max_retries + 1):
            previous = self.backoff(attempt, previous, rng)
            out.append(previous)
        return out

    def wait_s(self, backoff_s: float, exc: BaseException) -> float:
        """The wait before the next attempt: max(backoff, min(hint, max_hint_s)), or the capped hint alone."""
        hint = retry_after_hint(exc)
        if hint is None:
            return backoff_s
        if self.hint_replaces_backoff:
            return min(hint, self.max_hint_s)
        return max(backoff_s, min(hint, self.max_hint_s))


class _Attempts:
    """The bookkeeping of one ``retry``/``aretry`` call."""

    __slots__ = ("attempt", "on_retry", "policy", "previous", "rng")

    def __init__(self, policy: RetryPolicy, rng: random.Random | None, on_retry: OnRetry | None) -> None:
        self.policy = policy
        self.rng = rng
        self.on_retry = on_retry
        self.attempt = 0  # retries made so far
        self.previous = 0.0  # the strategy's last backoff (not the hint-stretched wait)

    def next_wait(self, exc: Exception) -> float | None:
        """The wait before retrying after ``exc``, or None to give up (a note says why)."""
        policy = self.policy
        calls = self.attempt + 1
        if not policy.retry_if(exc):
            if self.attempt:
                exc.add_note(f"retry: not retryable (retry_if); {calls} attempts made")
            return None
        if self.attempt >= policy.max_retries:
            exc.add_note(f"retry: gave up after {calls} attempts ({policy.max_retries} retries)")
            return None
        if policy.budget is not None and not policy.budget.try_acquire():
            exc.add_note(f"retry: retry budget exhausted; {calls} attempts made")
            return None
        self.attempt += 1
        if self.rng is None:
            # Seeded from the OS once per retried call, only when a retry actually happens.
            self.rng = random.Random()
        # The next strategy step starts from the backoff, not the hint-stretched wait, so a
        # long retry-after does not inflate every later delay.
        self.previous = policy.backoff(self.attempt, self.previous, self.rng)
        wait = policy.wait_s(self.previous, exc)
        if self.on_retry is not None:
            self.on_retry(self.attempt, wait, exc)
        return wait


def retry(
    fn: Callable[[], T],
    policy: RetryPolicy | None = None,
    *,
    sleep: Callable[[float], object] = time.sleep,
    rng: random.Random | None = None,
    on_retry: OnRetry | None = None,
) -> T:
    """Call ``fn()`` until it returns, retrying per ``policy`` (default ``RetryPolicy()``).

    Re-raises the last exception when giving up (see the module docstring).
    """
    attempts = _Attempts(policy if policy is not None else RetryPolicy(), rng, on_retry)
    while True:
        try:
            return fn()
        except Exception as exc:
            wait = attempts.next_wait(exc)
            if wait is None:
                raise
        sleep(wait)


async def aretry(
    fn: Callable[[], Awaitable[T]],
    policy: RetryPolicy | None = None,
    *,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    rng: random.Random | None = None,
    on_retry: OnRetry | None = None,
) -> T:
    """Await ``fn()`` until it returns, retrying per ``policy`` (default ``RetryPolicy()``).

    ``fn`` is called anew for each attempt (a coroutine can be awaited only once).
    Re-raises the last exception when giving up; cancellation is never retried.
    """
    attempts = _Attempts(policy if policy is not None else RetryPolicy(), rng, on_retry)
    while True:
        try:
            return await fn()
        except Exception as exc:
            wait = attempts.next_wait(exc)
            if wait is None:
                raise
        await sleep(wait)


class Retrying:
    """A decorator retrying the functions it wraps per one policy; see ``retrying``."""

    def __init__(
        self,
        policy: RetryPolicy | None = None,
        *,
        sleep: Callable[[float], object] = time.sleep,
        asleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        rng: random.Random | None = None,
        on_retry: OnRetry | None = None,
    ) -> None:
        self.policy = policy if policy is not None else RetryPolicy()
        self._sleep = sleep
        self._asleep = asleep
        self._rng = rng
        self._on_retry = on_retry

    @overload
    def __call__(self, fn: Callable[P, Coroutine[Any, Any, T]]) -> Callable[P, Coroutine[Any, Any, T]]: ...

    @overload
    def __call__(self, fn: Callable[P, T]) -> Callable[P, T]: ...

    def __call__(self, fn: Callable[P, Any]) -> Callable[P, Any]:
        """Wrap ``fn``: a coroutine function gets ``aretry``, anything else ``retry``."""
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
                return await aretry(
                    lambda: fn(*args, **kwargs),
                    self.policy,
                    sleep=self._asleep,
                    rng=self._rng,
                    on_retry=self._on_retry,
                )

            return async_wrapper

        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
            return retry(
                lambda: fn(*args, **kwargs), self.policy, sleep=self._sleep, rng=self._rng, on_retry=self._on_retry
            )

        return wrapper


def retrying(
    policy: RetryPolicy | None = None,
    *,
    sleep: Callable[[float], object] = time.sleep,
    asleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    rng: random.Random | None = None,
    on_retry: OnRetry | None = None,
) -> Retrying:
    """A decorator: ``@retrying(policy)`` on a sync or an async function retries its calls.

    ``sleep`` is used for sync functions, ``asleep`` for coroutine functions.
    """
    return Retrying(policy, sleep=sleep, asleep=asleep, rng=rng, on_retry=on_retry)
