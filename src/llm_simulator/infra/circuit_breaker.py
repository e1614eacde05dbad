"""A circuit breaker for calls to an upstream system, and a registry of breakers by name.

The classic three states:

- CLOSED: calls go through; failures are kept in a sliding window of ``failure_window_s``
  seconds (a failure at ``t`` counts during ``[t, t + window)``), and ``failure_threshold``
  of them open the breaker. Successes do not erase failures; only age does.
- OPEN: every call is refused with ``CircuitOpenError(retry_after_s)`` until
  ``recovery_timeout_s`` has passed since it opened; then it is HALF_OPEN (lazily, on the
  next look: no timer runs).
- HALF_OPEN: up to ``half_open_max_calls`` trial calls may be in flight at once; others are
  refused. ``success_threshold`` successful trials close the breaker; one failed trial
  opens it again (for a fresh recovery timeout).

Use it through ``call``/``acall``, or drive it with the primitives: ``allow()`` or
``check()`` before a call, then exactly one ``record_success``/``record_failure``/
``record_neutral`` after it. ``check()`` returns a *permit*: passing it back to the
``record_*`` method lets the breaker ignore outcomes of calls admitted in an earlier period
(say, a slow call let through while CLOSED that fails after the breaker already reopened
and half-opened). Without a permit an outcome in HALF_OPEN counts only while trials of the
current period are outstanding, which never lets the trial count drift.

Time comes from an injected ``Clock``; thread-safe (one re-entrant lock per breaker).
"""

from __future__ import annotations

import enum
import threading
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

from llm_simulator.infra.clock import Clock, SystemClock

T = TypeVar("T")
P = ParamSpec("P")

# Breakers a registry keeps at most; names may come from outside (upstream URLs, ids), so
# the registry must not grow without bound. Idle breakers are forgotten first.
MAX_BREAKERS = 10_000


class BreakerState(enum.StrEnum):
    """The state of a circuit breaker."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class Outcome(enum.Enum):
    """How a call the breaker let through ended."""

    SUCCESS = "success"
    FAILURE = "failure"
    # Says nothing about the upstream's health (a client error, a cancellation): frees a
    # half-open trial slot without counting either way.
    NEUTRAL = "neutral"


def every_exception(exc: Exception) -> bool:
    """The default ``is_failure``: every exception counts as a failure of the upstream."""
    return True


StateListener = Callable[[str, BreakerState, BreakerState], object]
"""``on_state_change(name, old, new)``, called (under the breaker's lock) on every transition."""


@dataclass(frozen=True, slots=True)
class BreakerSettings:
    """The shape of a circuit breaker (shared by every breaker of a registry).

    ``is_failure(exc)`` decides whether an exception raised through ``call``/``acall`` is
    the upstream's failure; when it says no the call is neutral (a 4xx-like client error
    says nothing about the upstream). ``half_open_retry_after_s`` is the retry hint when a
    HALF_OPEN breaker refuses because its trial slots are taken (the recovery timeout has
    passed, so "time until half-open" would be a useless 0).
    """

    failure_threshold: int = 5
    failure_window_s: float = 60.0
    recovery_timeout_s: float = 30.0
    half_open_max_calls: int = 3
    success_threshold: int = 3
    half_open_retry_after_s: float = 1.0
    is_failure: Callable[[Exception], bool] = every_exception

    def __post_init__(self) -> None:
        """Check the values, naming the offending field."""
        if self.failure_threshold < 1:
            raise ValueError(f"failure_threshold must be >= 1, got {self.failure_threshold!r}")
        if not self.failure_window_s > 0:
            raise ValueError(f"failure_window_s must be > 0, got {self.failure_window_s!r}")
        if not self.recovery_timeout_s >= 0:
            raise ValueError(f"recovery_timeout_s must be >= 0, got {self.recovery_timeout_s!r}")
        if self.half_open_max_calls < 1:
            raise ValueError(f"half_open_max_calls must be >= 1, got {self.half_open_max_calls!r}")
        if self.success_threshold < 1:
            raise ValueError(f"success_threshold must be >= 1, got {self.success_threshold!r}")
        if not self.half_open_retry_after_s >= 0:
            raise ValueError(f"half_open_retry_after_s must be >= 0, got {self.half_open_retry_after_s!r}")


class CircuitOpenError(Exception):
    """A call refused by an OPEN (or full HALF_OPEN) circuit breaker.

    ``retry_after_s`` is when to try again; ``retry`` honours it as a server hint would be.
    """

    def __init__(self, name: str, state: BreakerState, retry_after_s: float) -> None:
        label = f"circuit breaker {name!r}" if name else "circuit breaker"
        super().__init__(f"{label} is {state.value}; retry in {retry_after_s:.3g} s")
        self.name = name
        self.state = state
        self.retry_after_s = retry_after_s


class CircuitBreaker:
    """One circuit breaker; see the module docstring for the state machine."""

    def __init__(
        self,
        settings: BreakerSettings | None = None,
        *,
        name: str = "",
        clock: Clock | None = None,
        on_state_change: StateListener | None = None,
    ) -> None:
        self._settings = settings if settings is not None else BreakerSettings()
        self._name = name
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._listener = on_state_change
        self._lock = threading.RLock()
        self._state = BreakerState.CLOSED
        # Only the threshold-th most recent failure decides whether to open, so older ones
        # may fall off: memory stays bounded whatever the failure rate.
        self._failures: deque[float] = deque(maxlen=self._settings.failure_threshold)
        self._opened_at = 0.0  # meaningful while OPEN or HALF_OPEN
        self._successes = 0  # successful trials in the current half-open period
        self._trials = 0  # trials admitted in the current half-open period, not yet recorded
        self._period = 0  # bumped on every transition; the permit of an admitted call

    @property
    def name(self) -> str:
        """The breaker's name (the upstream it guards); may be empty."""
        return self._name

    @property
    def settings(self) -> BreakerSettings:
        """The breaker's settings."""
        return self._settings

    @property
    def state(self) -> BreakerState:
        """The current state (an OPEN breaker whose timeout has passed reads HALF_OPEN)."""
        with self._lock:
            self._refresh(self._clock.now())
            return self._state

    @property
    def idle(self) -> bool:
        """CLOSED with no failure remembered and no trial in flight: safe to forget."""
        with self._lock:
            return self._state is BreakerState.CLOSED and not self._failures and self._trials == 0

    # -- admission -----------------------------------------------------------------------

    def admit(self) -> float | None:
        """Ask to let one call through: None if it may go (record its outcome), else retry-after.

        The retry-after is the time left until half-open while OPEN, or
        ``half_open_retry_after_s`` while HALF_OPEN with every trial slot taken.
        """
        with self._lock:
            now = self._clock.now()
            self._refresh(now)
            if self._state is BreakerState.CLOSED:
                return None
            if self._state is BreakerState.OPEN:
                # Strictly positive: _refresh has just half-opened a breaker whose time is up.
                return self._settings.recovery_timeout_s - (now - self._opened_at)
            if self._trials < self._settings.half_open_max_calls:
                self._trials += 1
                return None
            return self._settings.half_open_retry_after_s

    def allow(self) -> bool:
        """Whether one call may go through now (if so, record its outcome exactly once)."""
        return self.admit() is None

    def check(self) -> int:
        """Admit one call or raise ``CircuitOpenError``; returns the call's permit.

        Pass the permit to the ``record_*`` method so an outcome arriving in a later period
        is recognised as stale.
        """
        with self._lock:
            retry_after = self.admit()
            if retry_after is not None:
                raise CircuitOpenError(self._name, self._state, retry_after)
            return self._period

    # -- outcomes ------------------------------------------------------------------------

    def record(self, outcome: Outcome, permit: int | None = None) -> None:
        """Feed the outcome of a call the breaker let through.

        CLOSED: a failure joins the window (and may open the breaker). OPEN: ignored (the
        call was admitted before it opened). HALF_OPEN: a trial's outcome; a failure reopens,
        ``success_threshold`` successes close, a neutral one just frees its slot. With a
        ``permit`` from another period the outcome is stale and ignored; without one, an
        outcome in HALF_OPEN counts only while trials are outstanding (a straggler may then
        stand in for a trial, but the count never goes negative).
        """
        with self._lock:
            now = self._clock.now()
            self._refresh(now)
            if permit is not None and permit != self._period:
                return
            if self._state is BreakerState.CLOSED:
                if outcome is Outcome.FAILURE:
                    self._add_failure(now)
                return
            if self._state is BreakerState.OPEN or self._trials == 0:
                return
            self._trials -= 1
            if outcome is Outcome.FAILURE:
                self._open(now)
            elif outcome is Outcome.SUCCESS:
                self._successes += 1
                if self._successes >= self._settings.success_threshold:
                    self._close()

    def record_success(self, permit: int | None = None) -> None:
        """The admitted call succeeded."""
        self.record(Outcome.SUCCESS, permit)

    def record_failure(self, permit: int | None = None) -> None:
        """The admitted call failed because of the upstream."""
        self.record(Outcome.FAILURE, permit)

    def record_neutral(self, permit: int | None = None) -> None:
        """The admitted call ended in a way that says nothing about the upstream's health."""
        self.record(Outcome.NEUTRAL, permit)

    def _record_exception(self, exc: BaseException, permit: int) -> None:
        if isinstance(exc, Exception) and self._settings.is_failure(exc):
            self.record_failure(permit)
        else:
            # Cancellation and exceptions ``is_failure`` rejects: the upstream is not to blame.
            self.record_neutral(permit)

    # -- wrappers ------------------------------------------------------------------------

    def call(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """``fn(*args, **kwargs)`` through the breaker; raises ``CircuitOpenError`` when refused."""
        permit = self.check()
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            self._record_exception(exc, permit)
            raise
        self.record_success(permit)
        return result

    async def acall(self, fn: Callable[P, Awaitable[T]], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """``await fn(*args, **kwargs)`` through the breaker; raises ``CircuitOpenError`` when refused."""
        permit = self.check()
        try:
            result = await fn(*args, **kwargs)
        except BaseException as exc:
            self._record_exception(exc, permit)
            raise
        self.record_success(permit)
        return result

    # -- inspection and control ----------------------------------------------------------

    def snapshot(self) -> dict[str, object]:
        """The breaker's state, JSON-serialisable.

        ``state``; ``failures_in_window`` (CLOSED); ``consecutive_successes`` and
        ``trials_in_flight`` (HALF_OPEN); ``opened_at_age_s`` (seconds since it last opened)
        and ``retry_in_s`` (seconds until it half-opens, 0 once half-open), both None when
        CLOSED.
        """
        with self._lock:
            now = self._clock.now()
            self._refresh(now)
            if self._state is BreakerState.CLOSED:
                self._prune(now)
            age: float | None = None
            retry_in: float | None = None
            if self._state is not BreakerState.CLOSED:
                age = now - self._opened_at
                retry_in = max(0.0, self._settings.recovery_timeout_s - age)
            return {
                "state": self._state.value,
                "failures_in_window": len(self._failures),
                "consecutive_successes": self._successes,
                "trials_in_flight": self._trials,
                "opened_at_age_s": age,
                "retry_in_s": retry_in,
            }

    def reset(self) -> None:
        """Close the breaker and forget its history (outcomes of earlier calls become stale)."""
        with self._lock:
            self._close()

    def trip(self) -> None:
        """Open the breaker now, whatever its state (an operator's or a test's switch)."""
        with self._lock:
            self._open(self._clock.now())

    # -- internals (lock held) -----------------------------------------------------------

    def _refresh(self, now: float) -> None:
        """Half-open an OPEN breaker whose recovery timeout has passed."""
        if self._state is BreakerState.OPEN and now - self._opened_at >= self._settings.recovery_timeout_s:
            self._successes = 0
            self._trials = 0
            self._transition(BreakerState.HALF_OPEN)

    def _prune(self, now: float) -> None:
        """Drop failures that left the window: a failure at ``t`` counts during ``[t, t + window)``."""
        window = self._settings.failure_window_s
        failures = self._failures
        while failures and now - failures[0] >= window:
            failures.popleft()

    def _add_failure(self, now: float) -> None:
        self._failures.append(now)
        self._prune(now)
        if len(self._failures) >= self._settings.failure_threshold:
            self._open(now)

    def _open(self, now: float) -> None:
        self._opened_at = now
        self._failures.clear()
        self._successes = 0
        # Trials still in flight become stragglers: their outcomes are ignored while OPEN.
        self._trials = 0
        self._transition(BreakerState.OPEN)

    def _close(self) -> None:
        self._failures.clear()
        self._successes = 0
        self._trials = 0
        self._transition(BreakerState.CLOSED)

    def _transition(self, new: BreakerState) -> None:
        old, self._state = self._state, new
        # A new period even for OPEN → OPEN (a trip): permits issued before are stale.
        self._period += 1
        if self._listener is not None and old is not new:
            self._listener(self._name, old, new)


class BreakerRegistry:
    """Circuit breakers by name, created on first use with shared settings.

    At most ``max_breakers`` are kept; beyond that the oldest idle one (else the oldest) is
    forgotten, and a caller still holding it keeps a detached breaker.
    """

    def __init__(
        self,
        settings: BreakerSettings | None = None,
        *,
        clock: Clock | None = None,
        max_breakers: int = MAX_BREAKERS,
        on_state_change: StateListener | None = None,
    ) -> None:
        if max_breakers < 1:
            raise ValueError(f"max_breakers must be >= 1, got {max_breakers!r}")
        self._settings = settings if settings is not None else BreakerSettings()
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._max = max_breakers
        self._listener = on_state_change
        self._breakers: OrderedDict[str, CircuitBreaker] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def settings(self) -> BreakerSettings:
        """The settings every breaker of the registry is created with."""
        return self._settings

    def get(self, name: str) -> CircuitBreaker:
        """The breaker called ``name``, created CLOSED on first use."""
        with self._lock:
            breaker = self._breakers.get(name)
            if breaker is None:
                if len(self._breakers) >= self._max:
                    self._evict()
                breaker = CircuitBreaker(self._settings, name=name, clock=self._clock, on_state_change=self._listener)
                self._breakers[name] = breaker
            return breaker

    def state(self, name: str) -> BreakerState:
        """The state of ``name``'s breaker; CLOSED (without creating one) for an unknown name."""
        with self._lock:
            breaker = self._breakers.get(name)
        return BreakerState.CLOSED if breaker is None else breaker.state

    def names(self) -> list[str]:
        """The names of the breakers kept, sorted."""
        with self._lock:
            return sorted(self._breakers)

    def __contains__(self, name: object) -> bool:
        """Whether a breaker called ``name`` exists."""
        return name in self._breakers

    def __len__(self) -> int:
        """How many breakers are kept."""
        return len(self._breakers)

    def snapshot(self) -> dict[str, dict[str, object]]:
        """Every breaker's ``snapshot()``, by name (sorted)."""
        with self._lock:
            breakers = sorted(self._breakers.items())
        return {name: breaker.snapshot() for name, breaker in breakers}

    def reset(self, name: str | None = None) -> None:
        """Forget one breaker (or all): the next ``get`` creates it CLOSED again."""
        with self._lock:
            if name is None:
                self._breakers.clear()
            else:
                self._breakers.pop(name, None)

    def _evict(self) -> None:
        victim = next((n for n, b in self._breakers.items() if b.idle), next(iter(self._breakers)))
        del self._breakers[victim]
