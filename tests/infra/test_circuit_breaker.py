"""The circuit breaker's state walk on a fake clock, its wrappers, permits, and the registry."""

from __future__ import annotations

import asyncio
import json

import pytest

from llm_simulator.infra.circuit_breaker import (
    BreakerRegistry,
    BreakerSettings,
    BreakerState,
    CircuitBreaker,
    CircuitOpenError,
    Outcome,
)
from llm_simulator.infra.clock import FakeClock
from llm_simulator.infra.retry import RetryPolicy, retry

CLOSED, OPEN, HALF_OPEN = BreakerState.CLOSED, BreakerState.OPEN, BreakerState.HALF_OPEN


def make(clock: FakeClock | None = None, **settings: object) -> CircuitBreaker:
    merged: dict[str, object] = {
        "failure_threshold": 3,
        "failure_window_s": 10.0,
        "recovery_timeout_s": 30.0,
        "half_open_max_calls": 2,
        "success_threshold": 2,
    }
    merged.update(settings)
    return CircuitBreaker(BreakerSettings(**merged), name="upstream", clock=clock or FakeClock(start=0.0))  # type: ignore[arg-type]


def fail(breaker: CircuitBreaker, times: int) -> None:
    for _ in range(times):
        assert breaker.allow()
        breaker.record_failure()


def test_defaults() -> None:
    settings = BreakerSettings()
    assert (settings.failure_threshold, settings.failure_window_s, settings.recovery_timeout_s) == (5, 60.0, 30.0)
    assert (settings.half_open_max_calls, settings.success_threshold) == (3, 3)
    assert settings.is_failure(ValueError())
    assert CircuitBreaker().state is CLOSED


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"failure_threshold": 0}, "failure_threshold"),
        ({"failure_window_s": 0.0}, "failure_window_s"),
        ({"recovery_timeout_s": -1.0}, "recovery_timeout_s"),
        ({"half_open_max_calls": 0}, "half_open_max_calls"),
        ({"success_threshold": 0}, "success_threshold"),
        ({"half_open_retry_after_s": -1.0}, "half_open_retry_after_s"),
    ],
)
def test_invalid_settings_name_the_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        BreakerSettings(**kwargs)  # type: ignore[arg-type]


def test_opens_at_the_threshold_within_the_window() -> None:
    clock = FakeClock(start=0.0)
    breaker = make(clock)
    fail(breaker, 2)
    assert breaker.state is CLOSED
    breaker.record_success()  # successes do not erase failures
    fail(breaker, 1)
    assert breaker.state is OPEN
    assert not breaker.allow()


def test_failures_age_out_of_the_window_at_the_exact_boundary() -> None:
    clock = FakeClock(start=0.0)
    breaker = make(clock)
    fail(breaker, 2)  # at t = 0
    clock.advance_to(10.0)  # a failure at t counts during [t, t + 10): both gone now
    fail(breaker, 1)
    assert breaker.state is CLOSED
    assert breaker.snapshot()["failures_in_window"] == 1
    clock.advance_to(19.999)
    fail(breaker, 1)
    assert breaker.state is CLOSED  # 2 in window
    fail(breaker, 1)
    assert breaker.state is OPEN


def test_open_refuses_with_the_time_left_then_half_opens_exactly_on_time() -> None:
    clock = FakeClock(start=0.0)
    breaker = make(clock)
    fail(breaker, 3)
    clock.advance_to(12.0)
    assert breaker.admit() == pytest.approx(18.0)
    with pytest.raises(CircuitOpenError) as info:
        breaker.check()
    assert info.value.retry_after_s == pytest.approx(18.0)
    assert info.value.state is OPEN
    assert info.value.name == "upstream"
    assert "upstream" in str(info.value)
    clock.advance_to(29.999)
    assert breaker.state is OPEN
    clock.advance_to(30.0)
    assert breaker.state is HALF_OPEN


def test_half_open_limits_the_trials_in_flight() -> None:
    clock = FakeClock(start=0.0)
    breaker = make(clock, half_open_retry_after_s=2.0)
    fail(breaker, 3)
    clock.advance_to(30.0)
    assert breaker.allow()
    assert breaker.allow()
    assert breaker.admit() == 2.0  # both slots taken
    assert breaker.snapshot()["trials_in_flight"] == 2
    breaker.record_success()  # frees a slot; 1 of 2 successes
    assert breaker.state is HALF_OPEN
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state is CLOSED  # success_threshold reached
    assert breaker.snapshot()["trials_in_flight"] == 0


def test_a_half_open_failure_reopens_for_a_fresh_timeout() -> None:
    clock = FakeClock(start=0.0)
    breaker = make(clock)
    fail(breaker, 3)
    clock.advance_to(30.0)
    assert breaker.allow()
    clock.advance_to(31.0)
    breaker.record_failure()
    assert breaker.state is OPEN
    assert breaker.admit() == pytest.approx(30.0)
    clock.advance_to(61.0)
    assert breaker.state is HALF_OPEN


def test_a_neutral_trial_frees_its_slot_without_counting() -> None:
    clock = FakeClock(start=0.0)
    breaker = make(clock, half_open_max_calls=1, success_threshold=1)
    fail(breaker, 3)
    clock.advance_to(30.0)
    assert breaker.allow()
    assert not breaker.allow()
    breaker.record_neutral()
    assert breaker.state is HALF_OPEN
    assert breaker.allow()
    breaker.record(Outcome.SUCCESS)
    assert breaker.state is CLOSED


def test_outcomes_while_open_and_stragglers_in_half_open_are_ignored() -> None:
    clock = FakeClock(start=0.0)
    breaker = make(clock)
    fail(breaker, 3)
    breaker.record_success()
    breaker.record_failure()  # admitted before it opened: ignored
    assert breaker.state is OPEN
    clock.advance_to(30.0)
    breaker.record_success()  # no trial outstanding: a straggler, ignored
    breaker.record_success()
    assert breaker.state is HALF_OPEN
    snapshot = breaker.snapshot()
    assert (snapshot["consecutive_successes"], snapshot["trials_in_flight"]) == (0, 0)


def test_a_permit_from_an_earlier_period_is_stale() -> None:
    clock = FakeClock(start=0.0)
    breaker = make(clock, half_open_max_calls=1, success_threshold=1)
    slow = breaker.check()  # a slow call admitted while CLOSED
    fail(breaker, 3)
    clock.advance_to(30.0)
    trial = breaker.check()
    breaker.record_success(slow)  # would close the breaker if it counted as the trial
    assert breaker.state is HALF_OPEN
    assert breaker.snapshot()["trials_in_flight"] == 1
    breaker.record_success(trial)
    assert breaker.state is CLOSED


def test_reset_and_trip() -> None:
    clock = FakeClock(start=0.0)
    breaker = make(clock)
    breaker.trip()
    assert breaker.state is OPEN
    breaker.reset()
    assert breaker.state is CLOSED
    assert breaker.idle


def test_state_changes_are_reported() -> None:
    clock = FakeClock(start=0.0)
    seen: list[tuple[str, str, str]] = []
    breaker = CircuitBreaker(
        BreakerSettings(failure_threshold=1, recovery_timeout_s=5.0, half_open_max_calls=1, success_threshold=1),
        name="db",
        clock=clock,
        on_state_change=lambda name, old, new: seen.append((name, old.value, new.value)),
    )
    fail(breaker, 1)
    clock.advance_to(5.0)
    assert breaker.allow()
    breaker.record_success()
    assert seen == [("db", "closed", "open"), ("db", "open", "half_open"), ("db", "half_open", "closed")]


def test_snapshot_through_the_states() -> None:
    clock = FakeClock(start=0.0)
    breaker = make(clock)
    fail(breaker, 1)
    assert breaker.snapshot() == {
        "state": "closed",
        "failures_in_window": 1,
        "consecutive_successes": 0,
        "trials_in_flight": 0,
        "opened_at_age_s": None,
        "retry_in_s": None,
    }
    fail(breaker, 2)
    clock.advance_to(10.0)
    snapshot = breaker.snapshot()
    assert (snapshot["state"], snapshot["opened_at_age_s"], snapshot["retry_in_s"]) == ("open", 10.0, 20.0)
    clock.advance_to(40.0)
    breaker.allow()
    snapshot = breaker.snapshot()
    assert (snapshot["state"], snapshot["retry_in_s"], snapshot["trials_in_flight"]) == ("half_open", 0.0, 1)
    json.dumps(snapshot)


# -- wrappers ----------------------------------------------------------------------------


def test_call_records_outcomes_and_refuses_when_open() -> None:
    clock = FakeClock(start=0.0)
    breaker = make(clock, is_failure=lambda e: not isinstance(e, KeyError))
    assert breaker.call(lambda x, y: x + y, 2, y=3) == 5

    def boom() -> None:
        raise ConnectionError

    def client_error() -> None:
        raise KeyError("bad input")

    for _ in range(5):
        with pytest.raises(KeyError):
            breaker.call(client_error)  # neutral: the upstream is not to blame
    assert breaker.state is CLOSED
    for _ in range(3):
        with pytest.raises(ConnectionError):
            breaker.call(boom)
    assert breaker.state is OPEN
    called: list[int] = []
    with pytest.raises(CircuitOpenError):
        breaker.call(lambda: called.append(1))
    assert called == []


async def test_acall_records_outcomes_and_cancellation_is_neutral() -> None:
    clock = FakeClock(start=0.0)
    breaker = make(clock, half_open_max_calls=1, success_threshold=1)

    async def ok(value: int) -> int:
        return value

    async def boom() -> int:
        raise ConnectionError

    assert await breaker.acall(ok, 7) == 7
    for _ in range(3):
        with pytest.raises(ConnectionError):
            await breaker.acall(boom)
    assert breaker.state is OPEN
    with pytest.raises(CircuitOpenError):
        await breaker.acall(ok, 1)
    clock.advance_to(30.0)

    gate = asyncio.Event()

    async def hang() -> int:
        await gate.wait()
        return 0

    trial = asyncio.create_task(breaker.acall(hang))
    await asyncio.sleep(0)
    with pytest.raises(CircuitOpenError) as info:
        await breaker.acall(ok, 1)  # the one trial slot is taken
    assert info.value.state is HALF_OPEN
    trial.cancel()
    with pytest.raises(asyncio.CancelledError):
        await trial
    assert breaker.state is HALF_OPEN  # cancelled: neutral, slot freed
    assert await breaker.acall(ok, 2) == 2
    assert breaker.state is CLOSED


def test_retry_waits_out_an_open_breaker_via_its_hint() -> None:
    clock = FakeClock(start=0.0)
    breaker = make(clock, failure_threshold=1, recovery_timeout_s=5.0, half_open_max_calls=1, success_threshold=1)
    fail(breaker, 1)
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock.advance_to(clock.now() + seconds)

    assert retry(lambda: breaker.call(lambda: "up"), RetryPolicy(strategy="constant"), sleep=sleep) == "up"
    assert waits == [5.0]


# -- registry ----------------------------------------------------------------------------


def test_registry_creates_breakers_on_demand_with_shared_settings() -> None:
    clock = FakeClock(start=0.0)
    settings = BreakerSettings(failure_threshold=1)
    registry = BreakerRegistry(settings, clock=clock)
    assert registry.state("a") is CLOSED
    assert "a" not in registry  # state() does not create
    a = registry.get("a")
    assert registry.get("a") is a
    assert a.settings is settings
    assert a.name == "a"
    a.allow()
    a.record_failure()
    assert registry.state("a") is OPEN
    assert registry.get("b").state is CLOSED  # independent
    assert registry.names() == ["a", "b"]
    assert len(registry) == 2
    assert set(registry.snapshot()) == {"a", "b"}
    assert registry.snapshot()["a"]["state"] == "open"
    registry.reset("a")
    assert registry.state("a") is CLOSED
    registry.reset()
    assert len(registry) == 0


def test_registry_forgets_idle_breakers_first_when_full() -> None:
    registry = BreakerRegistry(BreakerSettings(failure_threshold=5), clock=FakeClock(), max_breakers=2)
    busy = registry.get("busy")
    busy.allow()
    busy.record_failure()
    registry.get("idle")
    registry.get("new")
    assert registry.names() == ["busy", "new"]
    with pytest.raises(ValueError, match="max_breakers"):
        BreakerRegistry(max_breakers=0)


def test_registry_reports_state_changes_with_names() -> None:
    seen: list[str] = []
    registry = BreakerRegistry(
        BreakerSettings(failure_threshold=1), clock=FakeClock(), on_state_change=lambda n, o, s: seen.append(n)
    )
    registry.get("x").trip()
    assert seen == ["x"]
