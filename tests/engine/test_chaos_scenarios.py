"""Scenario timelines on a fake clock: each type before, inside and after its window."""

from __future__ import annotations

import json

import pytest
from pydantic import TypeAdapter

from llm_simulator.config.chaos import (
    Brownout,
    Degradation,
    ErrorBurst,
    Outage,
    PeriodicOutage,
    ScenarioSpec,
)
from llm_simulator.engine.chaos.scenarios import NO_EFFECT, ScenarioEffect, ScenarioTimeline
from llm_simulator.infra.clock import FakeClock

T0 = 1000.0  # FakeClock's start, and so every timeline's t0 below


def timeline(*specs: ScenarioSpec, repeat_s: float | None = None) -> tuple[ScenarioTimeline, FakeClock]:
    clock = FakeClock()
    return ScenarioTimeline(specs, clock, repeat_s), clock


def effect_at(tl: ScenarioTimeline, clock: FakeClock, elapsed: float) -> ScenarioEffect:
    clock.advance_to(T0 + elapsed)
    return tl.effect()


def test_no_specs_is_inactive_and_no_effect() -> None:
    tl, clock = timeline()
    assert not tl.active
    assert tl.effect() is NO_EFFECT
    clock.advance_to(T0 + 100.0)
    assert tl.effect() is NO_EFFECT
    assert tl.status() == {"elapsed_s": 100.0, "repeat_s": None, "scenarios": []}


def test_no_effect_is_neutral() -> None:
    assert ScenarioEffect(1.0, ()) == NO_EFFECT


def test_brownout_window() -> None:
    tl, clock = timeline(Brownout(type="brownout", start_s=10, duration_s=5, latency_multiplier=3))
    assert tl.active
    assert effect_at(tl, clock, 9.999) is NO_EFFECT
    assert effect_at(tl, clock, 10.0) == ScenarioEffect(3.0, ())
    assert effect_at(tl, clock, 14.999) == ScenarioEffect(3.0, ())
    assert effect_at(tl, clock, 15.0) is NO_EFFECT  # the window is half-open


def test_outage_window() -> None:
    tl, clock = timeline(Outage(type="outage", start_s=5, duration_s=2, error_type="overloaded"))
    assert effect_at(tl, clock, 4.0) is NO_EFFECT
    assert effect_at(tl, clock, 5.0) == ScenarioEffect(1.0, (("overloaded", 1.0),))
    assert effect_at(tl, clock, 6.5) == ScenarioEffect(1.0, (("overloaded", 1.0),))
    assert effect_at(tl, clock, 7.0) is NO_EFFECT


def test_outage_default_error_type() -> None:
    tl, _ = timeline(Outage(type="outage", duration_s=1))
    assert tl.effect() == ScenarioEffect(1.0, (("unavailable", 1.0),))


def test_error_burst_window() -> None:
    tl, clock = timeline(ErrorBurst(type="error_burst", start_s=0, duration_s=3, probability=0.25))
    assert effect_at(tl, clock, 0.0) == ScenarioEffect(1.0, (("server_error", 0.25),))
    assert effect_at(tl, clock, 2.9) == ScenarioEffect(1.0, (("server_error", 0.25),))
    assert effect_at(tl, clock, 3.0) is NO_EFFECT


@pytest.mark.parametrize(
    ("elapsed", "scale", "probability"),
    [
        (10.0, 1.0, 0.0),  # 0 %: the ramp starts from normal
        (15.0, 2.5, 0.1),  # 50 %: halfway to ×4 and 0.2
        (20.0, 4.0, 0.2),  # 100 %: the targets
        (25.0, 4.0, 0.2),  # 150 %: held after the window
        (1000.0, 4.0, 0.2),  # long after: still held
    ],
)
def test_degradation_ramp(elapsed: float, scale: float, probability: float) -> None:
    spec = Degradation(
        type="degradation", start_s=10, duration_s=10, latency_multiplier=4, error_type="timeout", error_probability=0.2
    )
    tl, clock = timeline(spec)
    got = effect_at(tl, clock, elapsed)
    assert got.latency_scale == pytest.approx(scale)
    assert len(got.errors) == 1
    assert got.errors[0][0] == "timeout"
    assert got.errors[0][1] == pytest.approx(probability)


def test_degradation_before_start_is_nothing() -> None:
    tl, clock = timeline(Degradation(type="degradation", start_s=10, duration_s=10))
    assert effect_at(tl, clock, 9.999) is NO_EFFECT


def test_degradation_can_ramp_latency_down() -> None:
    tl, clock = timeline(Degradation(type="degradation", duration_s=4, latency_multiplier=0.5, error_probability=0))
    assert effect_at(tl, clock, 1.0).latency_scale == pytest.approx(0.875)


def test_periodic_outage_boundaries() -> None:
    # Outages at [5, 7), [15, 17), [25, 27), ...
    tl, clock = timeline(PeriodicOutage(type="periodic_outage", start_s=5, period_s=10, duration_s=2))
    down = ScenarioEffect(1.0, (("unavailable", 1.0),))
    expected = {
        0.0: NO_EFFECT,  # before the first one, although (0 - 5) % 10 would be 5
        4.999: NO_EFFECT,
        5.0: down,
        6.999: down,
        7.0: NO_EFFECT,
        14.999: NO_EFFECT,
        15.0: down,
        16.5: down,
        17.0: NO_EFFECT,
        105.0: down,
        107.0: NO_EFFECT,
    }
    for elapsed, want in expected.items():
        assert effect_at(tl, clock, elapsed) == want, elapsed


def test_periodic_outage_before_start_with_in_phase_offset() -> None:
    # Python's modulo would put e = 1 in phase ((1 - 10) % 10 = 1 < 2): it must not count before start_s.
    tl, clock = timeline(PeriodicOutage(type="periodic_outage", start_s=10, period_s=10, duration_s=2))
    assert effect_at(tl, clock, 1.0) is NO_EFFECT
    assert effect_at(tl, clock, 10.0) == ScenarioEffect(1.0, (("unavailable", 1.0),))


def test_multiple_brownouts_multiply() -> None:
    tl, clock = timeline(
        Brownout(type="brownout", start_s=0, duration_s=10, latency_multiplier=2),
        Brownout(type="brownout", start_s=5, duration_s=10, latency_multiplier=3),
        Degradation(type="degradation", start_s=5, duration_s=10, latency_multiplier=3, error_probability=0.4),
    )
    assert effect_at(tl, clock, 1.0).latency_scale == pytest.approx(2.0)
    got = effect_at(tl, clock, 9.0)  # ×2, ×3 and the degradation 40 % of the way (×1.8)
    assert got.latency_scale == pytest.approx(10.8)
    assert len(got.errors) == 1
    assert got.errors[0][0] == "server_error"
    assert got.errors[0][1] == pytest.approx(0.16)
    assert effect_at(tl, clock, 12.0).latency_scale == pytest.approx(3.0 * (1 + 0.7 * 2))


def test_errors_accumulate_in_config_order() -> None:
    tl, clock = timeline(
        ErrorBurst(type="error_burst", duration_s=10, error_type="rate_limit", probability=0.3),
        Brownout(type="brownout", duration_s=10, latency_multiplier=2),
        Outage(type="outage", start_s=20, duration_s=1),
        Outage(type="outage", duration_s=10, error_type="bad_gateway"),
    )
    assert effect_at(tl, clock, 1.0) == ScenarioEffect(2.0, (("rate_limit", 0.3), ("bad_gateway", 1.0)))
    assert effect_at(tl, clock, 20.0) == ScenarioEffect(1.0, (("unavailable", 1.0),))


def test_repeat_wraps_elapsed_time() -> None:
    tl, clock = timeline(Outage(type="outage", start_s=2, duration_s=3), repeat_s=10)
    clock.advance_to(T0 + 13.0)
    assert tl.elapsed() == pytest.approx(3.0)
    assert tl.effect() == ScenarioEffect(1.0, (("unavailable", 1.0),))
    assert effect_at(tl, clock, 16.0) is NO_EFFECT
    assert effect_at(tl, clock, 21.0) is NO_EFFECT
    assert effect_at(tl, clock, 22.0) == ScenarioEffect(1.0, (("unavailable", 1.0),))
    clock.advance_to(T0 + 30.0)
    assert tl.elapsed() == 0.0


def test_repeat_restarts_a_degradation_ramp() -> None:
    tl, clock = timeline(Degradation(type="degradation", duration_s=10, latency_multiplier=3), repeat_s=20)
    assert effect_at(tl, clock, 15.0).latency_scale == pytest.approx(3.0)  # holding
    assert effect_at(tl, clock, 25.0).latency_scale == pytest.approx(2.0)  # ramping again


def test_restart_resets_the_clock() -> None:
    tl, clock = timeline(Outage(type="outage", start_s=0, duration_s=5))
    assert effect_at(tl, clock, 7.0) is NO_EFFECT
    assert tl.elapsed() == 7.0
    tl.restart()
    assert tl.elapsed() == 0.0
    assert tl.effect() == ScenarioEffect(1.0, (("unavailable", 1.0),))
    clock.advance_to(T0 + 12.0)
    assert tl.elapsed() == 5.0
    assert tl.effect() is NO_EFFECT


def test_non_positive_repeat_is_rejected() -> None:
    with pytest.raises(ValueError, match="repeat_s"):
        ScenarioTimeline([], FakeClock(), repeat_s=0)


def test_status_content() -> None:
    tl, clock = timeline(
        Brownout(type="brownout", start_s=0, duration_s=10),
        Outage(type="outage", start_s=20, duration_s=5),
        Degradation(type="degradation", start_s=5, duration_s=10),
        PeriodicOutage(type="periodic_outage", start_s=3, period_s=10, duration_s=2),
    )
    clock.advance_to(T0 + 10.0)
    status = tl.status()
    assert status == {
        "elapsed_s": 10.0,
        "repeat_s": None,
        "scenarios": [
            {"index": 0, "type": "brownout", "active": False},
            {"index": 1, "type": "outage", "active": False},
            {"index": 2, "type": "degradation", "active": True, "progress": 0.5},
            {"index": 3, "type": "periodic_outage", "active": False, "next_outage_in_s": 3.0},
        ],
    }
    assert json.loads(json.dumps(status)) == status
    clock.advance_to(T0 + 13.5)  # in the second periodic outage, [13, 15)
    periodic = tl.status()["scenarios"]
    assert isinstance(periodic, list)
    assert periodic[3] == {"index": 3, "type": "periodic_outage", "active": True, "next_outage_in_s": 9.5}


def test_status_next_outage_before_first_and_across_repeat() -> None:
    spec = PeriodicOutage(type="periodic_outage", start_s=4, period_s=10, duration_s=1)
    tl, clock = timeline(spec, repeat_s=20)
    assert next_outage(tl) == 4.0  # before the first one
    clock.advance_to(T0 + 15.0)  # next in-cycle start would be 24 ≥ 20: the next cycle's first, at 20 + 4
    assert next_outage(tl) == pytest.approx(9.0)
    never, clock = timeline(spec, repeat_s=3)  # start_s beyond the cycle: it never fires
    assert next_outage(never) is None
    assert never.effect() is NO_EFFECT


def next_outage(tl: ScenarioTimeline) -> object:
    scenarios = tl.status()["scenarios"]
    assert isinstance(scenarios, list)
    entry = scenarios[0]
    assert isinstance(entry, dict)
    return entry["next_outage_in_s"]


def test_specs_parsed_from_config_data() -> None:
    specs = TypeAdapter(tuple[ScenarioSpec, ...]).validate_python(
        [{"type": "brownout", "duration_s": 5, "latency_multiplier": 2}, {"type": "outage", "duration_s": 1}]
    )
    tl, _ = timeline(*specs)
    assert tl.effect() == ScenarioEffect(2.0, (("unavailable", 1.0),))
