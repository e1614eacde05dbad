"""A simulated circuit breaker per model, fed by the real outcome of every request it lets through.

The state machine is ``infra.circuit_breaker`` (the product's general-purpose breaker):
CLOSED counts failures in a sliding window and opens at a threshold; OPEN refuses everything
until the recovery timeout has passed; HALF_OPEN lets ``success_threshold`` trial requests
through, closing after that many successes and reopening on the first failure. This module
only names one breaker per model (the catalogue id) and maps the chaos configuration onto it.

``record`` receives only ``(model, outcome)``, not which ``admit`` the request came from, so a
request admitted in one period can finish in another. The infra breaker stays consistent
anyway: outcomes that arrive while OPEN are ignored, and in HALF_OPEN only as many outcomes
count as trials were admitted in the current half-open period.
"""

from __future__ import annotations

from collections.abc import Callable

from llm_simulator.config.chaos import CircuitBreakerConfig
from llm_simulator.infra.circuit_breaker import BreakerRegistry, BreakerSettings, BreakerState, Outcome
from llm_simulator.infra.clock import Clock

__all__ = ["HALF_OPEN_RETRY_S", "MAX_BREAKERS", "BreakerBoard", "BreakerState", "Outcome"]

# Retry hint when a half-open breaker refuses because all its trial slots are taken: the
# recovery timeout has already passed, so "seconds until half-open" would be 0, which makes a
# useless retry-after. A trial usually finishes within a second or so of a simulated response.
HALF_OPEN_RETRY_S = 1.0
# Breakers kept at most. Model ids are client strings when unknown models are accepted, so
# the board must not grow with them; idle (closed, failure-free) breakers go first.
MAX_BREAKERS = 10_000


class BreakerBoard:
    """One simulated circuit breaker per model (created on first use, at most ``MAX_BREAKERS``)."""

    def __init__(self, settings: CircuitBreakerConfig, clock: Clock) -> None:
        self._registry = BreakerRegistry(
            BreakerSettings(
                failure_threshold=settings.failure_threshold,
                failure_window_s=settings.failure_window_s,
                recovery_timeout_s=settings.recovery_timeout_s,
                half_open_max_calls=settings.success_threshold,
                success_threshold=settings.success_threshold,
                half_open_retry_after_s=HALF_OPEN_RETRY_S,
            ),
            clock=clock,
            max_breakers=MAX_BREAKERS,
            on_state_change=self._changed,
        )
        # Told of every opening and reset made here, (model, "open" | "closed"); a fleet
        # publishes them ("" for every model). Not told of what ``apply`` does.
        self.on_event: Callable[[str, str], None] | None = None
        self._applying = False

    def _changed(self, name: str, old: BreakerState, new: BreakerState) -> None:
        if new is BreakerState.OPEN and self.on_event is not None and not self._applying:
            self.on_event(name, "open")

    def apply(self, model: str, event: str) -> None:
        """What another replica's breaker did: open this one too, or close it ("" : every model)."""
        self._applying = True
        try:
            if event == "open" and model:
                self._registry.get(model).trip()
            elif event == "closed":
                self._registry.reset(model or None)
        finally:
            self._applying = False

    def admit(self, model: str) -> float | None:
        """Ask to let a request to ``model`` through.

        Returns ``None`` when it may proceed (the caller must then ``record`` its outcome
        exactly once), or else the number of seconds the client should wait before retrying:
        the time left until the breaker half-opens while OPEN, or ``HALF_OPEN_RETRY_S`` when
        it is HALF_OPEN but all trial slots are in flight.
        """
        return self._registry.get(model).admit()

    def record(self, model: str, outcome: Outcome) -> None:
        """Feed the outcome of a request that ``admit`` let through (see the module docstring)."""
        self._registry.get(model).record(outcome)

    def state(self, model: str) -> BreakerState:
        """The current state of ``model``'s breaker (CLOSED for a model never seen)."""
        return self._registry.state(model)

    def snapshot(self) -> dict[str, dict[str, object]]:
        """Every breaker's state, by model id (sorted), for the admin API; JSON-serialisable."""
        return self._registry.snapshot()

    def reset(self, model: str | None = None) -> None:
        """Close one breaker (or all of them) and forget its history."""
        self._registry.reset(model)
        if self.on_event is not None and not self._applying:
            self.on_event(model or "", "closed")
