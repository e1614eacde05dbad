"""The one-pass reading of a plain chat body gives what every parameter's own check gives.

``chat.serve`` takes ``chat_plain.plain_request``'s result for a body of the usual keys and
``parse_checked``'s for the rest (``plain_request`` returns None for it): for each plain body
below both must give the same request, or the same error (kind, message, param and code), the
plain bodies must really take the short cut (else the comparison proves nothing), and the
others must be left to the checks.
"""

from __future__ import annotations

from typing import Any

import pytest

from llm_simulator.config import load_config
from llm_simulator.core.errors import SimulatorError
from llm_simulator.engine.simulator import Simulator
from llm_simulator.providers.openai.chat import parse_checked
from llm_simulator.providers.openai.chat_plain import plain_request

SIM = Simulator(load_config(flags={"latency.enabled": False}))
USER = [{"role": "user", "content": "Say something, déjà vu 🙂."}]
CALL = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}

# Bodies the one pass answers (a request, or the error of their messages or context window).
PLAIN: list[dict[str, Any]] = [
    {"model": "gpt-4.1", "messages": USER},
    {"model": "gpt-4.1", "messages": USER, "max_tokens": 40, "ignore_eos": True, "seed": 1, "stream": False},
    {"model": "gpt-4.1", "messages": USER, "max_completion_tokens": 7, "max_tokens": 9, "n": 3, "stream": True},
    {"model": "gpt-4.1", "messages": USER, "n": None, "seed": None, "stream": None, "ignore_eos": None},
    {"model": "gpt-4.1", "messages": USER, "n": 128, "seed": -(2**63), "ignore_eos": False},
    {
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "Be terse."},
            {"role": "user", "content": "Hi", "name": "ann"},
            {"role": "assistant", "content": None, "tool_calls": [CALL]},
        ],
    },
    {
        "model": "gpt-4.1",
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "image_url", "image_url": {}}]},
            {"role": "tool", "content": "42", "tool_call_id": "c1"},
        ],
    },
    # Errors of the messages and the window: raised by the one pass, as the checks raise them.
    {"model": "gpt-4.1", "messages": [{"role": "robot", "content": "hi"}]},
    {"model": "gpt-4.1", "messages": [{"role": "user", "content": 3}]},
    {"model": "gpt-4.1", "messages": [7]},
    {"model": "gpt-4.1", "messages": USER, "max_tokens": 10**9},
    {"model": "gpt-4.1", "messages": [{"role": "user", "content": "word " * 1_100_000}], "max_tokens": 10},
]

# Bodies the one pass leaves to the checks (an error, a value it does not read as is, a key it skips).
CHECKED: list[dict[str, Any]] = [
    {"messages": USER},
    {"model": "", "messages": USER},
    {"model": 4, "messages": USER},
    {"model": "no-such-model", "messages": USER},
    {"model": "text-embedding-3-small", "messages": USER},
    {"model": "gpt-3.5-turbo-instruct", "messages": USER},
    {"model": "o3-mini", "messages": USER, "max_tokens": 5},
    {"model": "o3-mini", "messages": USER},
    {"model": "gpt-4.1"},
    {"model": "gpt-4.1", "messages": []},
    {"model": "gpt-4.1", "messages": "hi"},
    {"model": "gpt-4.1", "messages": USER, "max_tokens": 40.0},
    {"model": "gpt-4.1", "messages": USER, "max_tokens": 0},
    {"model": "gpt-4.1", "messages": USER, "max_tokens": True},
    {"model": "gpt-4.1", "messages": USER, "max_completion_tokens": "5"},
    {"model": "gpt-4.1", "messages": USER, "n": 0},
    {"model": "gpt-4.1", "messages": USER, "n": 129},
    {"model": "gpt-4.1", "messages": USER, "n": 2.0},
    {"model": "gpt-4.1", "messages": USER, "seed": True},
    {"model": "gpt-4.1", "messages": USER, "seed": 1.5},
    {"model": "gpt-4.1", "messages": USER, "stream": "yes"},
    {"model": "gpt-4.1", "messages": USER, "ignore_eos": 1},
    {"model": "gpt-4.1", "messages": USER, "stream": True, "stream_options": {"include_usage": True}},
    {"model": "gpt-4.1", "messages": USER, "stop": ["\n", "é"], "logprobs": True, "top_logprobs": 2},
    {"model": "gpt-4.1", "messages": USER, "temperature": 3},
    {"model": "gpt-4.1", "messages": USER, "parallel_tool_calls": False},
    {"model": "gpt-4.1", "messages": [{"role": "robot", "content": "hi"}], "n": 0},
]


def outcome(parse: Any, body: dict[str, Any]) -> object:
    """What ``parse`` makes of ``body``: its result, or its error's kind, message, param and code."""
    try:
        return parse(SIM, body)
    except SimulatorError as exc:
        return ("error", exc.kind, exc.message, exc.param, exc.code)


@pytest.mark.parametrize("body", PLAIN)
def test_the_one_pass_and_the_checks_agree(body: dict[str, Any]) -> None:
    assert outcome(plain_request, body) == outcome(parse_checked, body)


@pytest.mark.parametrize("body", PLAIN)
def test_plain_bodies_take_the_one_pass(body: dict[str, Any]) -> None:
    assert outcome(plain_request, body) is not None


@pytest.mark.parametrize("body", CHECKED)
def test_other_bodies_are_left_to_the_checks(body: dict[str, Any]) -> None:
    assert plain_request(SIM, body) is None
