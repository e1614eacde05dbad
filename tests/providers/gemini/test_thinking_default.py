"""Which Gemini models think when the request says nothing about thinking."""

from __future__ import annotations

import pytest

from llm_simulator.config.loader import load_config
from llm_simulator.engine.simulator import Simulator
from llm_simulator.providers.gemini.tools import DYNAMIC_THINKING_BUDGET, thinking_budget


@pytest.mark.parametrize(
    ("model", "budget"),
    [
        ("gemini-2.5-flash", DYNAMIC_THINKING_BUDGET),
        ("gemini-2.5-pro", DYNAMIC_THINKING_BUDGET),
        ("gemini-2.5-flash-lite", 0),
        ("gemini-2.0-flash", 0),
    ],
)
def test_the_default_thinking_budget(model: str, budget: int) -> None:
    spec = Simulator(load_config()).resolve_model(model, "gemini")
    assert spec is not None
    assert thinking_budget(None, spec) == (budget, False)


def test_flash_lite_thinks_when_asked() -> None:
    spec = Simulator(load_config()).resolve_model("gemini-2.5-flash-lite", "gemini")
    assert spec is not None
    assert thinking_budget({"thinkingConfig": {"thinkingBudget": -1}}, spec) == (DYNAMIC_THINKING_BUDGET, False)
    assert thinking_budget({"thinkingConfig": {"thinkingBudget": 512}}, spec) == (512, False)
