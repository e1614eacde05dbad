"""Tool use and extended thinking through the official anthropic SDK."""

from __future__ import annotations

from typing import Any

import anthropic
import httpx
import jsonschema
import pytest

from tests.providers.anthropic.helpers import assert_anthropic_error

MODEL = "claude-haiku-4-5"
WEATHER: dict[str, Any] = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
    "required": ["city"],
}
TOOLS: list[Any] = [
    {"name": "get_weather", "description": "Current weather", "input_schema": WEATHER},
    {
        "name": "get_time",
        "input_schema": {"type": "object", "properties": {"tz": {"type": "string"}}, "required": ["tz"]},
    },
]
ASK: list[Any] = [{"role": "user", "content": "Weather in Paris?"}]


def test_streamed_tool_use_input_is_valid_for_the_schema(anthropic_client: anthropic.Anthropic) -> None:
    with anthropic_client.messages.stream(
        model=MODEL, max_tokens=500, messages=ASK, tools=TOOLS, tool_choice={"type": "tool", "name": "get_weather"}
    ) as stream:
        events = [event.type for event in stream]
        message = stream.get_final_message()
    assert message.stop_reason == "tool_use"
    (block,) = message.content
    assert block.type == "tool_use" and block.name == "get_weather" and block.id.startswith("toolu_01")
    jsonschema.validate(block.input, WEATHER)
    assert "input_json" in events


def test_non_stream_and_stream_agree_for_a_seed(anthropic_client: anthropic.Anthropic) -> None:
    seed = {"x-simulator-seed": "9"}
    kwargs: dict[str, Any] = {"model": MODEL, "max_tokens": 500, "messages": ASK, "tools": TOOLS}
    whole = anthropic_client.messages.create(**kwargs, tool_choice={"type": "any"}, extra_headers=seed)
    with anthropic_client.messages.stream(**kwargs, tool_choice={"type": "any"}, extra_headers=seed) as stream:
        streamed = stream.get_final_message()
    assert [b.model_dump() for b in streamed.content] == [b.model_dump() for b in whole.content]
    assert streamed.usage.output_tokens == whole.usage.output_tokens


def test_thinking_block_comes_first_with_a_signature(anthropic_client: anthropic.Anthropic) -> None:
    with anthropic_client.messages.stream(
        model=MODEL, max_tokens=3000, messages=ASK, thinking={"type": "enabled", "budget_tokens": 1024}
    ) as stream:
        kinds = [event.type for event in stream]
        message = stream.get_final_message()
    assert [b.type for b in message.content] == ["thinking", "text"]
    thinking = message.content[0]
    assert thinking.type == "thinking" and thinking.thinking and thinking.signature
    assert "thinking" in kinds and "signature" in kinds
    assert kinds.index("thinking") < kinds.index("text")


def test_agent_loop_ends_with_a_text_answer(anthropic_client: anthropic.Anthropic) -> None:
    first = anthropic_client.messages.create(
        model=MODEL, max_tokens=500, messages=ASK, tools=TOOLS, tool_choice={"type": "any"}
    )
    uses = [b for b in first.content if b.type == "tool_use"]
    results = [{"type": "tool_result", "tool_use_id": b.id, "content": "sunny"} for b in uses]
    history: list[Any] = [*ASK, {"role": "assistant", "content": first.content}, {"role": "user", "content": results}]
    final = anthropic_client.messages.create(model=MODEL, max_tokens=200, messages=history, tools=TOOLS)
    assert final.stop_reason in ("end_turn", "max_tokens")
    assert [b.type for b in final.content] == ["text"]


def test_tools_cost_input_tokens_and_count_tokens_agrees(anthropic_client: anthropic.Anthropic) -> None:
    plain = anthropic_client.messages.count_tokens(model=MODEL, messages=ASK)
    with_tools = anthropic_client.messages.count_tokens(model=MODEL, messages=ASK, tools=TOOLS)
    assert with_tools.input_tokens > plain.input_tokens + 300  # the tool-use system prompt
    reply = anthropic_client.messages.create(
        model=MODEL, max_tokens=5, messages=ASK, tools=TOOLS, tool_choice={"type": "none"}
    )
    assert reply.usage.input_tokens == with_tools.input_tokens


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        ({"tools": [{"name": "bad name", "input_schema": {"type": "object"}}]}, "tools.0.name"),
        ({"tools": [{"name": "f", "input_schema": {"type": "array"}}]}, "tools.0.input_schema"),
        ({"tools": [{"name": "f", "input_schema": {"type": "object", "properties": 3}}]}, "tools.0.input_schema"),
        ({"tools": [{"name": "f"}]}, "tools.0.input_schema"),
        ({"tools": TOOLS, "tool_choice": {"type": "tool", "name": "nope"}}, "tool_choice.name"),
        ({"tools": TOOLS, "tool_choice": {"type": "maybe"}}, "tool_choice.type"),
        ({"thinking": {"type": "enabled", "budget_tokens": 100}}, "budget_tokens"),
        ({"thinking": {"type": "enabled", "budget_tokens": 2048}}, "max_tokens"),
        (
            {"thinking": {"type": "enabled", "budget_tokens": 1024}, "max_tokens": 4000, "temperature": 0.5},
            "temperature",
        ),
        (
            {
                "thinking": {"type": "enabled", "budget_tokens": 1024},
                "max_tokens": 4000,
                "tools": TOOLS,
                "tool_choice": {"type": "any"},
            },
            "tool_choice forces tool use",
        ),
        (
            {"thinking": {"type": "enabled", "budget_tokens": 1024}, "max_tokens": 4000, "top_k": 5},
            "`top_k` must be unset",
        ),
        (
            {"thinking": {"type": "enabled", "budget_tokens": 1024}, "max_tokens": 4000, "top_p": 0.5},
            "`top_p` must be between 0.95",
        ),
        ({"thinking": {"type": "adaptive"}, "max_tokens": 4000, "top_k": 0}, "`top_k` must be unset"),
    ],
)
def test_bad_tools_and_thinking_are_400s(http: httpx.Client, extra: dict[str, Any], fragment: str) -> None:
    body = {"model": MODEL, "max_tokens": 1500, "messages": ASK, **extra}
    error = assert_anthropic_error(http.post("/v1/messages", json=body), 400, "invalid_request_error")
    assert fragment in error["message"]


def test_thinking_allows_top_p_from_095(http: httpx.Client) -> None:
    body = {"model": MODEL, "max_tokens": 4000, "messages": ASK, "top_p": 0.95}
    body["thinking"] = {"type": "enabled", "budget_tokens": 1024}
    assert http.post("/v1/messages", json=body).status_code == 200


@pytest.mark.parametrize(
    ("thinking", "fragment"),
    [({"type": "enabled", "budget_tokens": 5}, "budget_tokens"), ({"type": "sometimes"}, "thinking.type")],
)
def test_count_tokens_checks_thinking_as_messages_does(http: httpx.Client, thinking: Any, fragment: str) -> None:
    body = {"model": MODEL, "messages": ASK, "thinking": thinking}
    error = assert_anthropic_error(http.post("/v1/messages/count_tokens", json=body), 400, "invalid_request_error")
    assert fragment in error["message"]
    valid = {**body, "thinking": {"type": "enabled", "budget_tokens": 1024}}
    assert http.post("/v1/messages/count_tokens", json=valid).json()["input_tokens"] > 0
