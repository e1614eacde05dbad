"""A plain ``generationConfig`` and a plain content are read at once, with the checks' results and errors."""

from __future__ import annotations

from typing import Any

import pytest

from llm_simulator.config import load_config
from llm_simulator.core.errors import SimulatorError
from llm_simulator.engine.simulator import Simulator
from llm_simulator.providers.gemini import contents, generate

SIM = Simulator(load_config(flags={"latency.enabled": False}))
SPEC = SIM.resolve_model("gemini-2.5-flash", "gemini")

PLAIN: list[dict[str, Any]] = [
    {},
    {"maxOutputTokens": 40},
    {"maxOutputTokens": 1, "candidateCount": 8, "seed": -(2**31)},
    {"candidateCount": None, "seed": 2**31 - 1},
]
CHECKED: list[dict[str, Any]] = [
    {"maxOutputTokens": 0},
    {"maxOutputTokens": 10**9},
    {"maxOutputTokens": 40.0},
    {"maxOutputTokens": "40"},
    {"maxOutputTokens": True},
    {"candidateCount": 9},
    {"candidateCount": 0},
    {"seed": 2**31},
    {"max_output_tokens": 40},
    {"maxOutputTokens": 40, "stopSequences": ["."]},
    {"maxOutputTokens": 40, "temperature": 3},
    {"maxOutputTokens": 40, "bogus": 1},
]


def _outcome(config: dict[str, Any]) -> object:
    try:
        return generate._generation_config({"generationConfig": config}, SPEC)  # type: ignore[arg-type]
    except SimulatorError as exc:
        return ("error", exc.kind, exc.message, exc.param, exc.code)


@pytest.mark.parametrize("config", PLAIN + CHECKED)
def test_a_config_read_at_once_is_the_checked_config(config: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    at_once = _outcome(config)
    monkeypatch.setattr(generate, "_plain_config", lambda config, spec: None)
    assert _outcome(config) == at_once


@pytest.mark.parametrize("config", PLAIN)
def test_plain_configs_are_read_at_once(config: dict[str, Any]) -> None:
    assert generate._plain_config(config, SPEC) is not None  # type: ignore[arg-type]


@pytest.mark.parametrize("config", CHECKED)
def test_other_configs_are_checked_field_by_field(config: dict[str, Any]) -> None:
    assert generate._plain_config(config, SPEC) is None  # type: ignore[arg-type]


CONTENTS: list[Any] = [
    {"parts": [{"text": "Say something, déjà vu 🙂."}]},
    {"role": "model", "parts": [{"text": "a"}, {"text": "b \u2028"}]},
    {"role": None, "parts": [{"text": "x"}]},
    {"role": "", "parts": [{"text": "x"}]},
    # Not plain: checked as before (their errors included).
    {"role": "system", "parts": [{"text": "x"}]},
    {"role": ["user"], "parts": [{"text": "x"}]},
    {"role": 0, "parts": [{"text": "x"}]},
    {"role": False, "parts": [{"text": "x"}]},
    {"role": [], "parts": [{"text": "x"}]},
    {"role": "user", "parts": []},
    {"role": "user", "parts": [{"text": ""}]},
    {"role": "user", "parts": [{"text": 3}]},
    {"role": "user", "parts": [{"text": "x", "thought": True}]},
    {"role": "user", "parts": [{"functionResponse": {"name": "f", "response": {}}}]},
    {"role": "user", "parts": [{"text": "x"}], "bogus": 1},
    "text",
]


def _content(content: Any) -> object:
    try:
        return contents.parse_content(SIM, content, "contents[0]")
    except SimulatorError as exc:
        return ("error", exc.kind, exc.message, exc.param, exc.code)


@pytest.mark.parametrize("content", CONTENTS)
def test_a_plain_content_is_the_checked_content(content: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    at_once = _content(content)
    monkeypatch.setattr(contents, "_plain_content", lambda sim, content, default_role: None)
    assert _content(content) == at_once


def test_the_usual_contents_take_the_short_cut() -> None:
    assert all(contents._plain_content(SIM, content, "user") is not None for content in CONTENTS[:4])
    assert all(contents._plain_content(SIM, content, "user") is None for content in CONTENTS[4:])
