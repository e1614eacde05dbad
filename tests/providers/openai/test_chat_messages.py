"""``parse_messages``: the plain two-key turn takes a short cut with the same result and errors."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from llm_simulator.config import load_config
from llm_simulator.core.errors import SimulatorError
from llm_simulator.engine.simulator import Simulator
from llm_simulator.providers.openai.chat_messages import parse_messages
from llm_simulator.server.app import SimulatorApp
from tests.server.asgi_driver import call

SIM = Simulator(load_config(flags={"latency.enabled": False}))
TURNS = [
    {"role": "system", "content": "You are terse."},
    {"role": "developer", "content": ""},
    {"role": "user", "content": "Say something, déjà vu 🙂."},
    {"role": "assistant", "content": "Something."},
]


def test_plain_turns_count_as_the_checked_path_counts_them() -> None:
    # A third key ("name": null changes nothing) sends each turn through the full checks.
    checked = [{**turn, "name": None} for turn in TURNS]
    assert parse_messages(SIM, TURNS) == parse_messages(SIM, checked)


@pytest.mark.parametrize(
    ("turn", "message"),
    [
        ({"role": ["user"], "content": "hi"}, "Invalid type for 'messages[0].role': expected a string"),
        ({"role": "robot", "content": "hi"}, "Invalid value: 'robot'."),
        ({"role": "tool", "content": "hi"}, "Missing required parameter: 'messages[0].tool_call_id'."),
        ({"role": "user", "content": 3}, "Invalid type for 'messages[0].content'"),
    ],
)
def test_two_key_turns_that_are_not_plain_still_get_their_errors(turn: dict[str, Any], message: str) -> None:
    with pytest.raises(SimulatorError) as raised:
        parse_messages(SIM, [turn])
    assert str(raised.value.message).startswith(message)


@pytest.mark.parametrize("body", [b"", b" \t\r\n\x0b\x0c"])
async def test_an_empty_or_blank_body_is_a_400_naming_it(body: bytes) -> None:
    app = SimulatorApp(load_config(flags={"latency.enabled": False}))
    captured = await call(app, "POST", "/v1/chat/completions", body, headers={"content-type": "application/json"})
    assert captured.status == 400
    error = orjson.loads(captured.body)["error"]
    assert (error["code"], error["message"]) == ("invalid_json", "The request body is empty; expected a JSON object.")
