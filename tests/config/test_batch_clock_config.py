"""The batch and background clock keys: their defaults and their refusals."""

from __future__ import annotations

import pytest

from llm_simulator.config import ConfigError, load_config


def test_defaults_are_the_real_apis_clock() -> None:
    batches = load_config(environ={}).batches
    assert batches.time_scale == 1.0 and batches.background_time_scale == 1.0
    assert batches.completion_window_s == 24 * 3600


def test_env_sets_the_clock() -> None:
    env = {"LLM_SIMULATOR_BATCHES__COMPLETION_WINDOW_S": "60", "LLM_SIMULATOR_BATCHES__BACKGROUND_TIME_SCALE": "0"}
    batches = load_config(environ=env).batches
    assert (batches.completion_window_s, batches.background_time_scale) == (60.0, 0.0)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("batches.completion_window_s", 0),
        ("batches.completion_window_s", -5),
        ("batches.time_scale", -1),
        ("batches.background_time_scale", -0.5),
    ],
)
def test_bad_clock_values_are_named(key: str, value: float) -> None:
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_config(environ={}, flags={key: value})
