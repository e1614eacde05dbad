"""Messages bodies: the plain two-key turn and the body without tools take short cuts with the same results."""

from __future__ import annotations

from typing import Any

import pytest

from llm_simulator.config import load_config
from llm_simulator.core.errors import SimulatorError
from llm_simulator.engine.simulator import Simulator
from llm_simulator.providers.anthropic.prompt import parse_messages
from llm_simulator.providers.anthropic.tools import NO_TOOL_USE, parse_tools

SIM = Simulator(load_config(flags={"latency.enabled": False}))
TURNS = [
    {"role": "user", "content": "Say something, déjà vu 🙂."},
    {"role": "assistant", "content": "Something."},
    {"role": "user", "content": "More \u2028 please."},
]


def test_plain_turns_count_as_the_checked_path_counts_them() -> None:
    # The same text as one text block sends each turn through the full checks.
    blocks = [{"role": t["role"], "content": [{"type": "text", "text": t["content"]}]} for t in TURNS]
    body: dict[str, Any] = {"system": "Be terse.", "messages": TURNS}
    assert parse_messages(SIM, body) == parse_messages(SIM, {**body, "messages": blocks})


@pytest.mark.parametrize(
    ("turn", "message"),
    [
        ({"role": "system", "content": "hi"}, "messages.0.role: Input should be 'user' or 'assistant'. The Messages"),
        ({"role": ["user"], "content": "hi"}, "messages.0.role: Input should be 'user' or 'assistant'"),
        ({"role": "user", "content": ""}, "messages.0: user messages must have non-empty content"),
        ({"role": "user", "content": 3}, "Invalid type for 'messages.0.content'"),
    ],
)
def test_two_key_turns_that_are_not_plain_still_get_their_errors(turn: dict[str, Any], message: str) -> None:
    with pytest.raises(SimulatorError) as raised:
        parse_messages(SIM, {"messages": [turn]})
    assert str(raised.value.message).startswith(message)


def test_a_body_without_tools_parses_as_an_empty_tool_list_does() -> None:
    assert parse_tools(SIM, {}) is NO_TOOL_USE
    assert parse_tools(SIM, {"tools": []}) == NO_TOOL_USE
