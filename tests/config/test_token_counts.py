"""Output lengths are configured with token-named fields; the old ``*_ms`` spelling loads with a warning."""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from pydantic import ValidationError

from llm_simulator.config.distributions import FixedSpec, LogNormalSpec, MixtureSpec
from llm_simulator.config.schema import SimulatorConfig


def _load(output_tokens: Mapping[str, object]) -> SimulatorConfig:
    return SimulatorConfig.model_validate({"generation": {"output_tokens": output_tokens}})


def test_token_named_fields_load_without_a_warning() -> None:
    spec = _load({"type": "log_normal", "mean_tokens": 200, "std_dev_tokens": 50}).generation.output_tokens
    assert spec == LogNormalSpec(mean_ms=200, std_dev_ms=50)


def test_the_old_ms_spelling_still_loads_with_a_future_warning() -> None:
    with pytest.warns(FutureWarning, match=r"value_ms is a number of tokens.*write value_tokens"):
        spec = _load({"type": "fixed", "value_ms": 30}).generation.output_tokens
    assert spec == FixedSpec(value_ms=30)


def test_mixture_components_are_token_named_too() -> None:
    mixture = {"type": "mixture", "components": [{"weight": 1, "dist": {"type": "fixed", "value_tokens": 7}}]}
    spec = _load(mixture).generation.output_tokens
    assert isinstance(spec, MixtureSpec)
    assert spec.components[0].dist == FixedSpec(value_ms=7)


def test_a_dumped_config_reloads_silently_with_token_names() -> None:
    # Workers reload the dumped config: it must say *_tokens, or every worker would warn.
    config = SimulatorConfig.model_validate(
        {"models": {"add": [{"id": "m", "output_tokens": {"type": "fixed", "value_tokens": 9}}]}}
    )
    dumped = config.model_dump(mode="json")
    assert dumped["generation"]["output_tokens"]["mean_tokens"] == 120
    assert dumped["models"]["add"][0]["output_tokens"] == {"type": "fixed", "value_tokens": 9.0}
    assert SimulatorConfig.model_validate_json(config.model_dump_json()) == config


def test_both_spellings_of_one_field_are_refused() -> None:
    with (
        pytest.warns(FutureWarning),
        pytest.raises(ValidationError, match="value_tokens and value_ms are one field"),
    ):
        _load({"type": "fixed", "value_tokens": 3, "value_ms": 3})


def test_latency_distributions_keep_their_millisecond_names() -> None:
    with pytest.raises(ValidationError):
        SimulatorConfig.model_validate({"latency": {"profiles": {"p": {"ttft": {"type": "fixed", "value_tokens": 1}}}}})
