"""The simulated circuit breaker on a fake clock: open, refuse, half-open, trials, close, reopen."""

from __future__ import annotations

import json

import pytest

from llm_simulator.config.chaos import CircuitBreakerConfig
from llm_simulator.engine.chaos.breaker import HALF_OPEN_RETRY_S, BreakerBoard, BreakerState, Outcome
from llm_simulator.infra.clock import FakeClock

# 3 failures within 10 s open it; it half-opens 30 s later; 2 successful trials close it.
SETTINGS = CircuitBreakerConfig(
    enabled=True, failure_threshold=3, failure_window_s=10.0, recovery_timeout_s=30.0, success_threshold=2
)
T0 = 1000.0  # FakeClock's start


def make_board(**overrides: object) -> tuple[BreakerBoard, FakeClock]:
    clock = FakeClock()
    settings = SETTINGS.model_copy(update=overrides)
    return BreakerBoard(settings, clock), clock


def fail(board: BreakerBoard, model: str = "m") -> None:
    """One admitted request that fails."""
    assert board.admit(model) is None
    board.record(model, Outcome.FAILURE)


def open_breaker(board: BreakerBoard, clock: FakeClock, at: float = T0) -> None:
    """Open "m" at time ``at`` with threshold failures at that instant."""
    clock.advance_to(at)
    for _ in range(SETTINGS.failure_threshold):
        fail(board)
    assert board.state("m") is BreakerState.OPEN


def half_open(board: BreakerBoard, clock: FakeClock) -> None:
    """Open "m" at T0 and move to the end of the recovery timeout."""
    open_breaker(board, clock)
    clock.advance_to(T0 + 30.0)
    assert board.state("m") is BreakerState.HALF_OPEN


def test_unknown_model_is_closed_and_admitted() -> None:
    board, _ = make_board()
    assert board.state("m") is BreakerState.CLOSED
    assert board.admit("m") is None
    assert board.snapshot()["m"]["state"] == "closed"


def test_opens_after_threshold_failures_within_window() -> None:
    board, clock = make_board()
    fail(board)
    clock.advance_to(T0 + 4.0)
    fail(board)
    assert board.state("m") is BreakerState.CLOSED
    clock.advance_to(T0 + 9.5)
    fail(board)
    assert board.state("m") is BreakerState.OPEN
    # Opened at the third failure: the full recovery timeout is left.
    assert board.admit("m") == pytest.approx(30.0)


def test_failures_spread_wider_than_window_do_not_open() -> None:
    board, clock = make_board()
    for t in (0.0, 5.0, 10.0, 15.0, 20.0, 25.0):  # any 3 consecutive span exactly 10 s
        clock.advance_to(T0 + t)
        fail(board)
        assert board.state("m") is BreakerState.CLOSED
    assert board.snapshot()["m"]["failures_in_window"] == 2


def test_failure_ages_out_exactly_at_window_end() -> None:
    board, clock = make_board()
    fail(board)
    fail(board)
    clock.advance_to(T0 + 9.999)
    assert board.snapshot()["m"]["failures_in_window"] == 2
    clock.advance_to(T0 + 10.0)
    assert board.snapshot()["m"]["failures_in_window"] == 0
    fail(board)
    assert board.state("m") is BreakerState.CLOSED


def test_success_does_not_clear_failures_when_closed() -> None:
    board, clock = make_board()
    fail(board)
    fail(board)
    for _ in range(5):
        assert board.admit("m") is None
        board.record("m", Outcome.SUCCESS)
    clock.advance_to(T0 + 1.0)
    fail(board)
    assert board.state("m") is BreakerState.OPEN


def test_refuses_while_open_with_decreasing_retry_time() -> None:
    board, clock = make_board()
    open_breaker(board, clock)
    assert board.admit("m") == pytest.approx(30.0)
    clock.advance_to(T0 + 10.0)
    assert board.admit("m") == pytest.approx(20.0)
    clock.advance_to(T0 + 29.5)
    assert board.admit("m") == pytest.approx(0.5)
    assert board.state("m") is BreakerState.OPEN


def test_half_opens_after_recovery_timeout() -> None:
    board, clock = make_board()
    open_breaker(board, clock)
    clock.advance_to(T0 + 29.999)
    assert board.state("m") is BreakerState.OPEN
    clock.advance_to(T0 + 30.0)
    assert board.state("m") is BreakerState.HALF_OPEN
    assert board.admit("m") is None


def test_zero_recovery_timeout_half_opens_at_once() -> None:
    board, _ = make_board(recovery_timeout_s=0.0)
    for _ in range(3):
        fail(board)
    assert board.state("m") is BreakerState.HALF_OPEN


def test_half_open_caps_trials_in_flight() -> None:
    board, clock = make_board()
    half_open(board, clock)
    assert board.admit("m") is None
    assert board.admit("m") is None
    # Both trial slots taken: refused with the fixed retry hint, not 0.
    assert board.admit("m") == HALF_OPEN_RETRY_S
    assert board.admit("m") == HALF_OPEN_RETRY_S
    assert board.snapshot()["m"]["trials_in_flight"] == 2
    # A finished trial frees its slot.
    board.record("m", Outcome.SUCCESS)
    assert board.admit("m") is None
    assert board.admit("m") == HALF_OPEN_RETRY_S


def test_closes_after_success_threshold() -> None:
    board, clock = make_board()
    half_open(board, clock)
    assert board.admit("m") is None
    assert board.admit("m") is None
    board.record("m", Outcome.SUCCESS)
    assert board.state("m") is BreakerState.HALF_OPEN
    assert board.snapshot()["m"]["consecutive_successes"] == 1
    board.record("m", Outcome.SUCCESS)
    assert board.state("m") is BreakerState.CLOSED
    snap = board.snapshot()["m"]
    assert snap == {
        "state": "closed",
        "failures_in_window": 0,
        "consecutive_successes": 0,
        "trials_in_flight": 0,
        "opened_at_age_s": None,
        "retry_in_s": None,
    }
    # History was cleared: it takes a full threshold of new failures to open again.
    fail(board)
    fail(board)
    assert board.state("m") is BreakerState.CLOSED
    fail(board)
    assert board.state("m") is BreakerState.OPEN


def test_half_open_failure_reopens_immediately() -> None:
    board, clock = make_board()
    half_open(board, clock)
    assert board.admit("m") is None
    assert board.admit("m") is None
    board.record("m", Outcome.SUCCESS)
    clock.advance_to(T0 + 35.0)
    board.record("m", Outcome.FAILURE)
    assert board.state("m") is BreakerState.OPEN
    # The new opening time is the failure's: a full recovery timeout from 35 s.
    assert board.admit("m") == pytest.approx(30.0)
    clock.advance_to(T0 + 64.999)
    assert board.state("m") is BreakerState.OPEN
    clock.advance_to(T0 + 65.0)
    assert board.state("m") is BreakerState.HALF_OPEN
    # The earlier success does not carry over into the new half-open period.
    assert board.snapshot()["m"]["consecutive_successes"] == 0


def test_neutral_releases_slot_without_counting() -> None:
    board, clock = make_board()
    half_open(board, clock)
    assert board.admit("m") is None
    assert board.admit("m") is None
    board.record("m", Outcome.NEUTRAL)
    snap = board.snapshot()["m"]
    assert snap["state"] == "half_open"
    assert snap["trials_in_flight"] == 1
    assert snap["consecutive_successes"] == 0
    assert board.admit("m") is None
    board.record("m", Outcome.SUCCESS)
    board.record("m", Outcome.SUCCESS)
    assert board.state("m") is BreakerState.CLOSED


def test_neutral_in_closed_state_is_not_a_failure() -> None:
    board, _ = make_board()
    for _ in range(10):
        assert board.admit("m") is None
        board.record("m", Outcome.NEUTRAL)
    assert board.state("m") is BreakerState.CLOSED
    assert board.snapshot()["m"]["failures_in_window"] == 0


def test_late_outcomes_while_open_are_ignored() -> None:
    board, clock = make_board()
    # Two stragglers admitted while closed, still in flight when the breaker opens.
    assert board.admit("m") is None
    assert board.admit("m") is None
    open_breaker(board, clock)
    clock.advance_to(T0 + 5.0)
    board.record("m", Outcome.FAILURE)
    board.record("m", Outcome.SUCCESS)
    assert board.state("m") is BreakerState.OPEN
    # The opening time did not move.
    assert board.admit("m") == pytest.approx(25.0)


def test_late_outcomes_in_half_open_without_trials_are_ignored() -> None:
    board, clock = make_board()
    assert board.admit("m") is None
    assert board.admit("m") is None
    half_open(board, clock)
    # Admitted before the breaker opened, finishing after it half-opened: not trials.
    board.record("m", Outcome.FAILURE)
    board.record("m", Outcome.SUCCESS)
    snap = board.snapshot()["m"]
    assert snap["state"] == "half_open"
    assert snap["trials_in_flight"] == 0
    assert snap["consecutive_successes"] == 0
    # The full set of trial slots is still available.
    assert board.admit("m") is None
    assert board.admit("m") is None
    assert board.admit("m") == HALF_OPEN_RETRY_S


def test_trials_outstanding_at_reopen_do_not_leak_slots() -> None:
    board, clock = make_board()
    half_open(board, clock)
    assert board.admit("m") is None
    assert board.admit("m") is None
    board.record("m", Outcome.FAILURE)  # reopens; the other trial is now a straggler
    clock.advance_to(T0 + 60.0)
    assert board.state("m") is BreakerState.HALF_OPEN
    board.record("m", Outcome.SUCCESS)  # the straggler: ignored, no trial is outstanding
    assert board.snapshot()["m"]["consecutive_successes"] == 0
    assert board.admit("m") is None
    assert board.admit("m") is None
    assert board.admit("m") == HALF_OPEN_RETRY_S


def test_trials_finishing_after_close_count_as_closed_outcomes() -> None:
    board, clock = make_board(success_threshold=1)
    half_open(board, clock)
    assert board.admit("m") is None
    board.record("m", Outcome.SUCCESS)
    assert board.state("m") is BreakerState.CLOSED
    board.record("m", Outcome.FAILURE)  # a late one, now in CLOSED: joins the window
    assert board.snapshot()["m"]["failures_in_window"] == 1
    assert board.snapshot()["m"]["trials_in_flight"] == 0


def test_models_are_independent() -> None:
    board, clock = make_board()
    open_breaker(board, clock)
    assert board.admit("other") is None
    assert board.state("other") is BreakerState.CLOSED
    fail(board, "other")
    fail(board, "other")
    assert board.state("other") is BreakerState.CLOSED
    assert board.state("m") is BreakerState.OPEN
    assert board.snapshot()["other"]["failures_in_window"] == 2


def test_reset_one_model() -> None:
    board, clock = make_board()
    open_breaker(board, clock)
    fail(board, "other")
    board.reset("m")
    assert board.state("m") is BreakerState.CLOSED
    assert board.admit("m") is None
    assert board.snapshot()["other"]["failures_in_window"] == 1
    board.reset("never-seen")  # no error


def test_reset_all_models() -> None:
    board, clock = make_board()
    open_breaker(board, clock)
    fail(board, "other")
    board.reset()
    assert board.snapshot() == {}
    assert board.state("m") is BreakerState.CLOSED
    # History is gone: two more failures do not open "other".
    fail(board, "other")
    fail(board, "other")
    assert board.state("other") is BreakerState.CLOSED


def test_snapshot_is_json_serialisable_in_every_state() -> None:
    board, clock = make_board()
    fail(board, "closed")
    open_breaker(board, clock)  # "m" opens at T0
    clock.advance_to(T0 + 12.0)
    fail(board, "closed")  # the first one aged out by now
    snap = board.snapshot()
    assert list(snap) == ["closed", "m"]
    assert snap["m"] == {
        "state": "open",
        "failures_in_window": 0,
        "consecutive_successes": 0,
        "trials_in_flight": 0,
        "opened_at_age_s": pytest.approx(12.0),
        "retry_in_s": pytest.approx(18.0),
    }
    assert snap["closed"]["failures_in_window"] == 1
    assert snap["closed"]["retry_in_s"] is None
    clock.advance_to(T0 + 31.0)
    assert board.admit("m") is None
    snap = board.snapshot()
    assert snap["m"]["state"] == "half_open"
    assert snap["m"]["trials_in_flight"] == 1
    assert snap["m"]["opened_at_age_s"] == pytest.approx(31.0)
    assert snap["m"]["retry_in_s"] == 0.0
    decoded = json.loads(json.dumps(snap))
    assert decoded["m"]["state"] == "half_open"
    assert decoded["closed"]["opened_at_age_s"] is None


def test_failure_history_is_bounded_by_threshold() -> None:
    board, clock = make_board(failure_window_s=0.5)
    for i in range(50):  # one failure per second: never 3 in a window
        clock.advance_to(T0 + i)
        fail(board)
    assert board.state("m") is BreakerState.CLOSED
    failures = board._registry.get("m")._failures  # white-box: the memory bound itself
    assert failures.maxlen == SETTINGS.failure_threshold
    assert list(failures) == [T0 + 49]
