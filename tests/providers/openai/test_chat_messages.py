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


def _calls(*ids: str) -> dict[str, Any]:
    """An assistant turn that called ``get_weather`` once per id."""
    calls = [{"id": i, "type": "function", "function": {"name": "get_weather", "arguments": "{}"}} for i in ids]
    return {"role": "assistant", "content": None, "tool_calls": calls}


def _answer(call_id: str) -> dict[str, Any]:
    return {"role": "tool", "tool_call_id": call_id, "content": "21 C"}


ASK = {"role": "user", "content": "Weather in Paris and Oslo?"}
UNANSWERED = (
    "An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'."
)
ORPHAN = "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'."


@pytest.mark.parametrize(
    ("turns", "message", "param"),
    [
        (
            [ASK, _calls("call_a"), {"role": "user", "content": "never mind"}],
            UNANSWERED + " The following tool_call_ids did not have response messages: call_a",
            "messages.[1].role",
        ),
        (
            [ASK, _calls("call_a", "call_b"), _answer("call_b"), ASK],
            "did not have response messages: call_a",
            "messages.[1].role",
        ),
        ([ASK, _calls("call_a")], "did not have response messages: call_a", "messages.[1].role"),
        ([ASK, _answer("call_a")], ORPHAN, "messages.[1].role"),
        ([ASK, _calls("call_a"), _answer("call_x")], ORPHAN, "messages.[2].role"),
        ([ASK, _calls("call_a"), _answer("call_a"), _answer("call_a")], ORPHAN, "messages.[3].role"),
        ([ASK, _calls("call_a"), ASK, _answer("call_a")], UNANSWERED, "messages.[1].role"),
    ],
)
def test_tool_calls_and_tool_messages_must_pair_up(turns: list[Any], message: str, param: str) -> None:
    # The API's rule: every call of an assistant turn is answered by a tool message right
    # after it (any order) before anything else; a tool message answers such a call.
    with pytest.raises(SimulatorError) as caught:
        parse_messages(SIM, turns)
    assert message in caught.value.message
    assert caught.value.param == param


def test_answered_calls_in_any_order_then_the_conversation_goes_on() -> None:
    turns = [
        ASK,
        _calls("call_a", "call_b"),
        _answer("call_b"),
        _answer("call_a"),
        {"role": "assistant", "content": "Mild."},
        ASK,
    ]
    messages, _ = parse_messages(SIM, turns)
    assert [m.role for m in messages] == ["user", "assistant", "tool", "tool", "assistant", "user"]


@pytest.mark.parametrize(
    ("part", "message", "param"),
    [
        (
            {"type": "image_url", "image_url": "https://x/y.png"},
            "Invalid type for 'messages[0].content[1].image_url'",
            "messages[0].content[1].image_url",
        ),
        (
            {"type": "image_url", "image_url": {}},
            "Missing required parameter: 'messages[0].content[1].image_url.url'.",
            "messages[0].content[1].image_url.url",
        ),
        (
            {"type": "image_url"},
            "Missing required parameter: 'messages[0].content[1].image_url'.",
            "messages[0].content[1].image_url",
        ),
        (
            {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "ogg"}},
            "Invalid value: 'ogg'. Supported values are: 'wav' and 'mp3'.",
            "messages[0].content[1].input_audio.format",
        ),
        (
            {"type": "input_audio", "input_audio": {"format": "wav"}},
            "Missing required parameter: 'messages[0].content[1].input_audio.data'.",
            "messages[0].content[1].input_audio.data",
        ),
        (
            {"type": "file", "file": {}},
            "Missing required parameter: 'messages[0].content[1].file.file_id'.",
            "messages[0].content[1].file.file_id",
        ),
    ],
)
def test_media_parts_carry_what_the_api_requires(part: dict[str, Any], message: str, param: str) -> None:
    turn = {"role": "user", "content": [{"type": "text", "text": "Look:"}, part]}
    with pytest.raises(SimulatorError) as caught:
        parse_messages(SIM, [turn])
    assert caught.value.message.startswith(message)
    assert caught.value.param == param


def test_an_empty_content_array_is_a_400() -> None:
    with pytest.raises(SimulatorError) as caught:
        parse_messages(SIM, [{"role": "user", "content": []}])
    assert caught.value.message.startswith("Invalid 'messages[0].content': empty array.")
    assert caught.value.code == "empty_array"


def test_well_formed_media_parts_are_charged() -> None:
    parts = [
        {"type": "text", "text": "Look:"},
        {"type": "image_url", "image_url": {"url": "https://x/y.png", "detail": "low"}},
        {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
        {"type": "file", "file": {"file_id": "file-abc"}},
        {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0=", "filename": "a.pdf"}},
    ]
    _, with_media = parse_messages(SIM, [{"role": "user", "content": parts}])
    _, text_only = parse_messages(SIM, [{"role": "user", "content": parts[:1]}])
    assert with_media == text_only + 4 * 85
