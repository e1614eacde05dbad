"""A simulated circuit breaker per model, fed by the real outcome of every request it lets through.

The classic three states: CLOSED counts failures in a sliding window and opens at a threshold;
OPEN refuses everything until the recovery timeout has passed; HALF_OPEN lets a few trial
requests through, closing after enough successes and reopening on the first failure.

``record`` receives only ``(model, outcome)``, not which ``admit`` the request came from, so a
request admitted in one period can finish in another. The board stays consistent anyway:
outcomes that arrive while OPEN are ignored, and in HALF_OPEN only as many outcomes count as
trials were admitted in the current half-open period (see ``BreakerBoard.record``).
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass

from llm_simulator.config.chaos import CircuitBreakerConfig
from llm_simulator.infra.clock import Clock

# Retry hint when a half-open breaker refuses because all its trial slots are taken: the
# recovery timeout has already passed, so "seconds until half-open" would be 0, which makes a
# useless retry-after. A trial usually finishes within a second or so of a simulated response.
HALF_OPEN_RETRY_S = 1.0
# Breakers kept at most. Model ids are client strings when unknown models are accepted, so
# the board must not grow with them; idle (closed, failure-free) breakers go first.
MAX_BREAKERS = 10_000


class Outcome(enum.Enum):
    """How a request the breaker let through ended."""

    SUCCESS = "success"
    FAILURE = "failure"
    NEUTRAL = "neutral"  # a client error (4xx): says nothing about the model's health


class BreakerState(enum.StrEnum):
    """The state of one breaker."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(slots=True)
class _Breaker:
    """The mutable state of one model's breaker."""

    failures: deque[float]  # timestamps of recent failures (CLOSED only), oldest first
    state: BreakerState = BreakerState.CLOSED
    opened_at: float = 0.0  # meaningful while OPEN or HALF_OPEN
    successes: int = 0  # successful trials in the current half-open period
    trials: int = 0  # trials admitted in the current half-open period and not yet recorded


class BreakerBoard:
    """One simulated circuit breaker per model.

    Breakers are created on first use and live until ``reset``; at most ``MAX_BREAKERS`` are kept
    (unknown model ids, when accepted, are client strings).
    """

    def __init__(self, settings: CircuitBreakerConfig, clock: Clock) -> None:
        self._settings = settings
        self._clock = clock
        self._breakers: dict[str, _Breaker] = {}

    def admit(self, model: str) -> float | None:
        """Ask to let a request to ``model`` through.

        Returns ``None`` when it may proceed (the caller must then ``record`` its outcome
        exactly once), or else the number of seconds the client should wait before retrying:
        the time left until the breaker half-opens while OPEN, or ``HALF_OPEN_RETRY_S`` when
        it is HALF_OPEN but all ``success_threshold`` trial slots are in flight.
        """
        now = self._clock.now()
        breaker = self._get(model)
        self._refresh(breaker, now)
        if breaker.state is BreakerState.CLOSED:
            return None
        if breaker.state is BreakerState.OPEN:
            # Strictly positive: _refresh has just moved a breaker whose time is up to HALF_OPEN,
            # and with IEEE floats b - a > 0 whenever a < b (written this way round on purpose).
            return self._settings.recovery_timeout_s - (now - breaker.opened_at)
        if breaker.trials < self._settings.success_threshold:
            breaker.trials += 1
            return None
        return HALF_OPEN_RETRY_S

    def record(self, model: str, outcome: Outcome) -> None:
        """Feed the outcome of a request that ``admit`` let through.

        CLOSED: a failure joins the sliding window and opens the breaker when the window holds
        ``failure_threshold`` of them; successes do not clear it (only age does). OPEN: ignored,
        since such a request was admitted before the breaker opened. HALF_OPEN: the outcome of a
        trial; a failure reopens at once, ``success_threshold`` successes close, a neutral one
        just frees its slot.

        Approximation: outcomes carry no ticket, so in HALF_OPEN a straggler admitted before
        the breaker opened is indistinguishable from a trial. An outcome counts as a trial only
        while trials of the current half-open period are outstanding (and takes one of their
        slots); with none outstanding it is a straggler and ignored. A straggler can therefore
        stand in for a trial, but the number of outcomes counted never exceeds the number of
        trials admitted, so the trial count can never go negative or leak.
        """
        now = self._clock.now()
        breaker = self._get(model)
        self._refresh(breaker, now)
        if breaker.state is BreakerState.CLOSED:
            if outcome is Outcome.FAILURE:
                self._add_failure(breaker, now)
            return
        if breaker.state is BreakerState.OPEN or breaker.trials == 0:
            return
        breaker.trials -= 1
        if outcome is Outcome.FAILURE:
            self._open(breaker, now)
        elif outcome is Outcome.SUCCESS:
            breaker.successes += 1
            if breaker.successes >= self._settings.success_threshold:
                self._close(breaker)

    def state(self, model: str) -> BreakerState:
        """The current state of ``model``'s breaker (CLOSED for a model never seen)."""
        breaker = self._breakers.get(model)
        if breaker is None:
            return BreakerState.CLOSED
        self._refresh(breaker, self._clock.now())
        return breaker.state

    def snapshot(self) -> dict[str, dict[str, object]]:
        """Every breaker's state, by model id (sorted), for the admin API; JSON-serialisable.

        Per model: ``state``; ``failures_in_window`` (CLOSED); ``consecutive_successes`` and
        ``trials_in_flight`` (HALF_OPEN); ``opened_at_age_s`` (seconds since it last opened)
        and ``retry_in_s`` (seconds until it half-opens, 0 once half-open), both ``None`` when
        CLOSED.
        """
        now = self._clock.now()
        out: dict[str, dict[str, object]] = {}
        for model in sorted(self._breakers):
            breaker = self._breakers[model]
            self._refresh(breaker, now)
            if breaker.state is BreakerState.CLOSED:
                self._prune(breaker, now)
            age: float | None = None
            retry_in: float | None = None
            if breaker.state is not BreakerState.CLOSED:
                age = now - breaker.opened_at
                retry_in = max(0.0, self._settings.recovery_timeout_s - age)
            out[model] = {
                "state": breaker.state.value,
                "failures_in_window": len(breaker.failures),
                "consecutive_successes": breaker.successes,
                "trials_in_flight": breaker.trials,
                "opened_at_age_s": age,
                "retry_in_s": retry_in,
            }
        return out

    def reset(self, model: str | None = None) -> None:
        """Close one breaker (or all of them) and forget its history.

        Outcomes of requests still in flight then land on a fresh CLOSED breaker, where they
        count like any other.
        """
        if model is None:
            self._breakers.clear()
        else:
            self._breakers.pop(model, None)

    # -- internals -------------------------------------------------------------------------

    def _get(self, model: str) -> _Breaker:
        breaker = self._breakers.get(model)
        if breaker is None:
            # Only the threshold-th most recent failure decides whether to open, so older ones
            # can fall off the end: memory per model is bounded whatever the failure rate.
            if len(self._breakers) >= MAX_BREAKERS:
                self._evict()
            breaker = _Breaker(failures=deque(maxlen=self._settings.failure_threshold))
            self._breakers[model] = breaker
        return breaker

    def _evict(self) -> None:
        """Forget the oldest idle breaker (or, if none is idle, the oldest one)."""
        victim = next(
            (
                name
                for name, b in self._breakers.items()
                if b.state is BreakerState.CLOSED and not b.failures and b.trials == 0
            ),
            next(iter(self._breakers)),
        )
        del self._breakers[victim]

    def _refresh(self, breaker: _Breaker, now: float) -> None:
        """Move an OPEN breaker whose recovery timeout has passed to HALF_OPEN (lazily)."""
        if breaker.state is BreakerState.OPEN and now - breaker.opened_at >= self._settings.recovery_timeout_s:
            breaker.state = BreakerState.HALF_OPEN
            breaker.successes = 0
            breaker.trials = 0

    def _prune(self, breaker: _Breaker, now: float) -> None:
        """Drop failures that left the window: a failure at ``t`` counts during ``[t, t + window)``."""
        window = self._settings.failure_window_s
        failures = breaker.failures
        while failures and now - failures[0] >= window:
            failures.popleft()

    def _add_failure(self, breaker: _Breaker, now: float) -> None:
        breaker.failures.append(now)
        self._prune(breaker, now)
        if len(breaker.failures) >= self._settings.failure_threshold:
            self._open(breaker, now)

    def _open(self, breaker: _Breaker, now: float) -> None:
        breaker.state = BreakerState.OPEN
        breaker.opened_at = now
        breaker.failures.clear()
        breaker.successes = 0
        # Trials still in flight are now stragglers: their outcomes arrive while OPEN (ignored)
        # or in the next half-open period (see the approximation in ``record``).
        breaker.trials = 0

    def _close(self, breaker: _Breaker) -> None:
        breaker.state = BreakerState.CLOSED
        breaker.failures.clear()
        breaker.successes = 0
        breaker.trials = 0
