"""Tool calls, structured outputs and reasoning through the official openai SDK."""

from __future__ import annotations

import json
from typing import Any

import httpx
import jsonschema
import openai
import pytest
from openai.types.chat import ChatCompletionMessageFunctionToolCall
from pydantic import BaseModel

from tests.live import LiveServer
from tests.providers.openai.helpers import assert_openai_error

WEATHER: dict[str, Any] = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        "days": {"type": "integer", "minimum": 1, "maximum": 7},
    },
    "required": ["city", "unit", "days"],
    "additionalProperties": False,
}
TIME: dict[str, Any] = {
    "type": "object",
    "properties": {"timezone": {"type": "string"}},
    "required": ["timezone"],
    "additionalProperties": False,
}
TOOLS: list[Any] = [
    {"type": "function", "function": {"name": "get_weather", "parameters": WEATHER, "strict": True}},
    {"type": "function", "function": {"name": "get_time", "parameters": TIME}},
]
SCHEMAS = {"get_weather": WEATHER, "get_time": TIME}
ASK: list[Any] = [{"role": "user", "content": "What's the weather and time in Paris?"}]


class Forecast(BaseModel):
    """A structured answer the SDK parses."""

    city: str
    temperature: float
    conditions: list[str]


def _calls(message: Any) -> list[tuple[str, str, str]]:
    """(id, name, arguments) of a message's function tool calls."""
    out = []
    for call in message.tool_calls or []:
        assert isinstance(call, ChatCompletionMessageFunctionToolCall)
        out.append((call.id, call.function.name, call.function.arguments))
    return out


def _two_call_seed(client: openai.OpenAI) -> int:
    for seed in range(40):
        reply = client.chat.completions.create(
            model="gpt-4o", messages=ASK, tools=TOOLS, tool_choice="required", seed=seed
        )
        if len(reply.choices[0].message.tool_calls or []) == 2:
            return seed
    raise AssertionError("no seed in 0..39 gave two parallel calls")


def test_required_tool_calls_are_valid_for_their_schemas(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(model="gpt-4o", messages=ASK, tools=TOOLS, tool_choice="required", seed=1)
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    calls = choice.message.tool_calls or []
    assert calls and len({c.id for c in calls}) == len(calls)
    for call in calls:
        assert call.type == "function" and call.id.startswith("call_")
        jsonschema.validate(json.loads(call.function.arguments), SCHEMAS[call.function.name])


def test_stream_helper_assembles_two_parallel_calls(client: openai.OpenAI) -> None:
    seed = _two_call_seed(client)
    whole = client.chat.completions.create(model="gpt-4o", messages=ASK, tools=TOOLS, tool_choice="required", seed=seed)
    with client.chat.completions.stream(
        model="gpt-4o", messages=ASK, tools=TOOLS, tool_choice="required", seed=seed
    ) as stream:
        final = stream.get_final_completion()
    assert _calls(final.choices[0].message) == _calls(whole.choices[0].message)
    assert final.choices[0].finish_reason == "tool_calls"


def test_raw_tool_call_deltas_carry_id_and_name_once(client: openai.OpenAI) -> None:
    seed = _two_call_seed(client)
    chunks = list(
        client.chat.completions.create(
            model="gpt-4o", messages=ASK, tools=TOOLS, tool_choice="required", seed=seed, stream=True
        )
    )
    deltas = [tc for chunk in chunks if chunk.choices for tc in chunk.choices[0].delta.tool_calls or []]
    by_index: dict[int, list[Any]] = {}
    for delta in deltas:
        by_index.setdefault(delta.index, []).append(delta)
    assert sorted(by_index) == [0, 1]
    for pieces in by_index.values():
        assert pieces[0].id and pieces[0].function and pieces[0].function.name
        assert all(p.id is None and (p.function is None or p.function.name is None) for p in pieces[1:])
        arguments = "".join(p.function.arguments or "" for p in pieces if p.function)
        json.loads(arguments)


def test_named_tool_choice_calls_that_tool(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(
        model="gpt-4o",
        messages=ASK,
        tools=TOOLS,
        tool_choice={"type": "function", "function": {"name": "get_time"}},
    )
    assert [name for _, name, _ in _calls(reply.choices[0].message)] == ["get_time"]


def test_tool_choice_none_answers_in_text(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(model="gpt-4o", messages=ASK, tools=TOOLS, tool_choice="none")
    assert reply.choices[0].message.tool_calls is None
    assert reply.choices[0].message.content


def test_agent_loop_ends_with_a_text_answer(client: openai.OpenAI) -> None:
    first = client.chat.completions.create(model="gpt-4o", messages=ASK, tools=TOOLS, tool_choice="required")
    calls = first.choices[0].message.tool_calls or []
    history: list[Any] = [*ASK, first.choices[0].message.model_dump(exclude_none=True)]
    history += [{"role": "tool", "tool_call_id": c.id, "content": "sunny, 21C"} for c in calls]
    final = client.chat.completions.create(model="gpt-4o", messages=history, tools=TOOLS)
    assert final.choices[0].finish_reason == "stop"
    assert final.choices[0].message.content and not final.choices[0].message.tool_calls
    assert final.usage is not None and final.usage.prompt_tokens > first.usage.prompt_tokens  # type: ignore[union-attr]


def test_parse_returns_the_pydantic_object(client: openai.OpenAI) -> None:
    reply = client.chat.completions.parse(model="gpt-4o", messages=ASK, response_format=Forecast, seed=5)
    parsed = reply.choices[0].message.parsed
    assert isinstance(parsed, Forecast)
    assert Forecast.model_validate_json(reply.choices[0].message.content or "") == parsed


def test_streamed_structured_output_joins_to_valid_json(client: openai.OpenAI) -> None:
    schema = Forecast.model_json_schema()
    fmt: Any = {"type": "json_schema", "json_schema": {"name": "forecast", "schema": schema}}
    chunks = client.chat.completions.create(model="gpt-4o", messages=ASK, response_format=fmt, stream=True)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    jsonschema.validate(json.loads(text), schema)


def test_json_object_mode(client: openai.OpenAI) -> None:
    messages: list[Any] = [{"role": "user", "content": "Answer in JSON."}]
    reply = client.chat.completions.create(model="gpt-4o", messages=messages, response_format={"type": "json_object"})
    assert isinstance(json.loads(reply.choices[0].message.content or ""), dict)


def test_a_cut_structured_output_raises_the_sdk_length_error(client: openai.OpenAI) -> None:
    with pytest.raises(openai.LengthFinishReasonError):
        client.chat.completions.parse(model="gpt-4o", messages=ASK, response_format=Forecast, max_tokens=3)


def test_reasoning_model_reports_reasoning_tokens(client: openai.OpenAI) -> None:
    low = client.chat.completions.create(model="o4-mini", messages=ASK, reasoning_effort="low", seed=3)
    high = client.chat.completions.create(model="o4-mini", messages=ASK, reasoning_effort="high", seed=3)
    for reply, budget in ((low, 256), (high, 4096)):
        assert reply.usage is not None and reply.usage.completion_tokens_details is not None
        reasoning = reply.usage.completion_tokens_details.reasoning_tokens or 0
        assert 0.4 * budget - 1 <= reasoning <= budget
        assert reply.usage.completion_tokens > reasoning
        assert reply.choices[0].message.content


def test_reasoning_budget_can_leave_no_room_for_the_answer(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(model="o4-mini", messages=ASK, max_completion_tokens=20)
    assert reply.choices[0].finish_reason == "length"
    assert reply.choices[0].message.content == ""


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"tools": [{"type": "function", "function": {"name": "bad name!"}}]}, "tools[0].function.name"),
        (
            {"tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "strnig"}}}]},
            "tools[0].function.parameters",
        ),
        (
            {"tools": [{"type": "function", "function": {"name": "f", "parameters": {"$ref": "#/$defs/x"}}}]},
            "tools[0].function.parameters",
        ),
        (
            {
                "tools": [
                    {
                        "type": "function",
                        "function": {
                            "name": "f",
                            "strict": True,
                            "parameters": {"type": "object", "properties": {"a": {"type": "string"}}},
                        },
                    }
                ]
            },
            "tools[0].function.parameters",
        ),
        ({"tools": [{"type": "retrieval"}]}, "tools[0].type"),
        ({"tool_choice": "required"}, "tool_choice"),
        ({"tools": TOOLS, "tool_choice": {"type": "function", "function": {"name": "nope"}}}, "tool_choice"),
        ({"tools": TOOLS, "tool_choice": "sometimes"}, "tool_choice"),
        (
            {"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": 5}}}},
            "response_format.json_schema.schema",
        ),
        ({"response_format": {"type": "json_object"}}, "messages"),
        ({"response_format": {"type": "yaml"}}, "response_format.type"),
        ({"reasoning_effort": "high"}, "reasoning_effort"),
        ({"tools": []}, "tools"),
        ({"parallel_tool_calls": False}, "parallel_tool_calls"),
        (
            {
                "tools": [
                    {
                        "type": "function",
                        "function": {
                            "name": "f",
                            "strict": True,
                            "parameters": {"type": ["object", "null"], "properties": {"a": {"type": "string"}}},
                        },
                    }
                ]
            },
            "tools[0].function.parameters",
        ),
    ],
)
def test_bad_tools_and_formats_are_400s(server: LiveServer, body: dict[str, Any], param: str) -> None:
    request = {"model": "gpt-4o", "messages": ASK, **body}
    response = httpx.post(server.openai_base + "/chat/completions", json=request)
    assert_openai_error(response, 400, param=param)


def test_declared_functions_cost_prompt_tokens(client: openai.OpenAI) -> None:
    plain = client.chat.completions.create(model="gpt-4o", messages=ASK, max_tokens=1)
    with_tools = client.chat.completions.create(
        model="gpt-4o", messages=ASK, max_tokens=1, tools=TOOLS, tool_choice="none"
    )
    assert plain.usage is not None and with_tools.usage is not None
    assert with_tools.usage.prompt_tokens > plain.usage.prompt_tokens + 40


@pytest.mark.parametrize(
    ("extra", "param"),
    [({"max_tokens": 50}, "max_tokens"), ({"temperature": 0.2}, "temperature"), ({"top_p": 0.5}, "top_p")],
)
def test_reasoning_models_refuse_legacy_and_sampling_parameters(
    server: LiveServer, extra: dict[str, Any], param: str
) -> None:
    body = {"model": "o4-mini", "messages": ASK, **extra}
    response = httpx.post(server.openai_base + "/chat/completions", json=body)
    assert_openai_error(response, 400, param=param)


def test_a_cut_tool_call_is_the_same_streamed_and_not(client: openai.OpenAI) -> None:
    kwargs: dict[str, Any] = {"model": "gpt-4o", "messages": ASK, "tools": TOOLS, "tool_choice": "required", "seed": 1}
    whole = client.chat.completions.create(**kwargs, max_tokens=4)
    chunks = list(client.chat.completions.create(**kwargs, max_tokens=4, stream=True))
    streamed = "".join(
        tc.function.arguments or ""
        for chunk in chunks
        if chunk.choices
        for tc in chunk.choices[0].delta.tool_calls or []
        if tc.function
    )
    assert whole.choices[0].finish_reason == "length"
    ((_, _, arguments),) = _calls(whole.choices[0].message)
    assert arguments == streamed
    assert whole.usage is not None and whole.usage.completion_tokens == 4


NOT_OBJECTS: list[Any] = [
    {"type": "array", "items": {"type": "string"}},
    {"type": "string"},
    {"properties": {"a": {"type": "string"}}},
    {"properties": {}, "additionalProperties": False},
]


@pytest.mark.parametrize("schema", NOT_OBJECTS)
@pytest.mark.parametrize(
    ("path", "body", "param", "code"),
    [
        (
            "/chat/completions",
            lambda s: {"messages": ASK, "tools": [{"type": "function", "function": {"name": "f", "parameters": s}}]},
            "tools[0].function.parameters",
            "invalid_function_parameters",
        ),
        (
            "/chat/completions",
            lambda s: {
                "messages": ASK,
                "response_format": {"type": "json_schema", "json_schema": {"name": "X", "schema": s}},
            },
            "response_format.json_schema.schema",
            "invalid_function_parameters",
        ),
        (
            "/responses",
            lambda s: {"input": "Hi", "tools": [{"type": "function", "name": "f", "parameters": s}]},
            "tools[0].parameters",
            "invalid_function_parameters",
        ),
        (
            "/responses",
            lambda s: {"input": "Hi", "text": {"format": {"type": "json_schema", "name": "X", "schema": s}}},
            "text.format.schema",
            "invalid_json_schema",
        ),
    ],
)
def test_a_schema_whose_root_is_not_an_object_is_a_400(
    server: LiveServer, schema: dict[str, Any], path: str, body: Any, param: str, code: str
) -> None:
    # Arguments and structured outputs are JSON objects on the API: an array, a string or an
    # untyped root is refused, strict or not, naming the type it got.
    response = httpx.post(server.openai_base + path, json={"model": "gpt-4o", **body(schema)})
    error = assert_openai_error(response, 400, param=param, code=code)
    assert "schema must be a JSON Schema of 'type: \"object\"'" in error["message"]
    assert f"got 'type: \"{schema.get('type')}\"'" in error["message"]


def test_an_agent_that_leaves_a_call_unanswered_gets_the_apis_400(client: openai.OpenAI) -> None:
    first = client.chat.completions.create(
        model="gpt-4o", messages=ASK, tools=TOOLS, tool_choice={"type": "function", "function": {"name": "get_time"}}
    )
    calls = first.choices[0].message.tool_calls
    assert calls
    history: list[Any] = [*ASK, first.choices[0].message.model_dump(exclude_none=True)]
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="gpt-4o", messages=[*history, {"role": "user", "content": "And?"}])
    assert f"did not have response messages: {calls[0].id}" in caught.value.message
    answered = [*history, *({"role": "tool", "tool_call_id": c.id, "content": "12:00"} for c in calls)]
    assert client.chat.completions.create(model="gpt-4o", messages=answered, tools=TOOLS).choices


def test_empty_parameters_declare_a_function_without_arguments(client: openai.OpenAI) -> None:
    # ``parameters: {}`` (hand-written and MCP-derived tools send it) says what leaving them out says.
    tools: Any = [{"type": "function", "function": {"name": "ping", "parameters": {}}}]
    completion = client.chat.completions.create(
        model="gpt-4o", messages=ASK, tools=tools, tool_choice={"type": "function", "function": {"name": "ping"}}
    )
    calls = completion.choices[0].message.tool_calls
    assert calls and json.loads(calls[0].function.arguments) == {}  # type: ignore[union-attr]
