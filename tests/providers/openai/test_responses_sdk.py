"""The Responses API through the official openai SDK (strict validation) and raw httpx."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import jsonschema
import openai
import pytest
from openai.types.responses import (
    Response,
    ResponseFunctionToolCall,
    ResponseOutputMessage,
    ResponseReasoningItem,
)
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
TOOLS: list[Any] = [{"type": "function", "name": "get_weather", "parameters": WEATHER, "strict": True}]
ASK = "What's the weather in Paris?"
SEED = {"x-simulator-seed": "11"}
TEXT_EVENTS = ["response.output_item.added", "response.content_part.added"]
TEXT_DONE = ["response.output_text.done", "response.content_part.done", "response.output_item.done"]


class Forecast(BaseModel):
    """A structured answer the SDK parses."""

    city: str
    temperature: float
    conditions: list[str]


@pytest.fixture(scope="module")
def http(server: LiveServer) -> Iterator[httpx.Client]:
    """A plain httpx client on the OpenAI base URL."""
    with httpx.Client(base_url=server.openai_base, timeout=30) as c:
        yield c


def _raw_events(http: httpx.Client, body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """POST a streamed request; return (event name, data) per SSE frame, checking the framing."""
    with http.stream("POST", "/responses", json={**body, "stream": True}) as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"].split(";")[0] == "text/event-stream"
        raw = b"".join(resp.iter_raw())
    assert b"\r" not in raw and raw.endswith(b"\n\n") and b"[DONE]" not in raw
    events = []
    for frame in raw[:-2].split(b"\n\n"):
        name, data = frame.split(b"\n")
        assert name.startswith(b"event: ") and data.startswith(b"data: ")
        payload = json.loads(data[len(b"data: ") :])
        assert payload["type"] == name[len(b"event: ") :].decode()
        events.append((payload["type"], payload))
    assert [p["sequence_number"] for _, p in events] == list(range(len(events)))
    return events


def _message(response: Response) -> ResponseOutputMessage:
    messages = [item for item in response.output if isinstance(item, ResponseOutputMessage)]
    assert len(messages) == 1
    return messages[0]


def _calls(response: Response) -> list[ResponseFunctionToolCall]:
    return [item for item in response.output if isinstance(item, ResponseFunctionToolCall)]


# -- Text ----------------------------------------------------------------------------------


def test_create_returns_text_and_usage(client: openai.OpenAI) -> None:
    response = client.responses.create(model="gpt-4o", input="Hello!", instructions="Be brief.", metadata={"k": "v"})
    assert response.id.startswith("resp_") and response.object == "response"
    assert response.status == "completed" and response.completed_at is not None
    assert response.error is None and response.incomplete_details is None
    assert response.instructions == "Be brief." and response.metadata == {"k": "v"}
    assert response.to_dict()["store"] is True  # echoed by the API, not a field of the SDK model
    message = _message(response)
    assert message.id.startswith("msg_") and message.status == "completed" and message.role == "assistant"
    assert response.output_text and message.content[0].type == "output_text"
    usage = response.usage
    assert usage is not None and usage.input_tokens > 0 and usage.output_tokens > 0
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens
    assert usage.output_tokens_details.reasoning_tokens == 0
    assert response.reasoning is not None and response.reasoning.effort is None


def test_stream_final_response_matches_the_seeded_json_response(client: openai.OpenAI) -> None:
    whole = client.responses.create(model="gpt-4o", input="Tell me a story.", extra_headers=SEED)
    with client.responses.stream(model="gpt-4o", input="Tell me a story.", extra_headers=SEED) as stream:
        events = list(stream)
        final = stream.get_final_response()
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert "".join(deltas) == final.output_text == whole.output_text
    assert final.usage is not None and whole.usage is not None
    assert final.usage.output_tokens == len(deltas) == whole.usage.output_tokens
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert events[0].type == "response.created" and events[-1].type == "response.completed"


def test_raw_text_stream_has_the_api_event_order(http: httpx.Client) -> None:
    events = _raw_events(http, {"model": "gpt-4o", "input": "Hi", "max_output_tokens": 30})
    kinds = [kind for kind, _ in events]
    deltas = kinds.count("response.output_text.delta")
    assert deltas > 0
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[2:] == [*TEXT_EVENTS, *["response.output_text.delta"] * deltas, *TEXT_DONE, kinds[-1]]
    assert kinds[-1] in ("response.completed", "response.incomplete")
    created = events[0][1]["response"]
    assert created["status"] == "in_progress" and created["output"] == [] and created["usage"] is None
    final = events[-1][1]["response"]
    assert final["id"] == created["id"]
    delta = events[4][1]
    assert set(delta) == {"type", "sequence_number", "item_id", "output_index", "content_index", "delta", "logprobs"}
    assert delta["item_id"] == final["output"][0]["id"] and delta["logprobs"] == []


def test_cut_by_max_output_tokens_is_incomplete(client: openai.OpenAI, http: httpx.Client) -> None:
    response = client.responses.create(model="gpt-4o", input="Write an essay.", max_output_tokens=16)
    assert response.status == "incomplete" and response.completed_at is None
    assert response.incomplete_details is not None and response.incomplete_details.reason == "max_output_tokens"
    assert response.usage is not None and response.usage.output_tokens == 16
    assert _message(response).status == "incomplete"
    events = _raw_events(http, {"model": "gpt-4o", "input": "Write an essay.", "max_output_tokens": 16})
    assert events[-1][0] == "response.incomplete"
    assert events[-1][1]["response"]["incomplete_details"] == {"reason": "max_output_tokens"}


# -- Function calls ------------------------------------------------------------------------


def test_stream_function_call(client: openai.OpenAI, http: httpx.Client) -> None:
    body: dict[str, Any] = {"model": "gpt-4o", "input": ASK, "tools": TOOLS, "tool_choice": "required"}
    with client.responses.stream(**body) as stream:
        final = stream.get_final_response()
    calls = _calls(final)
    assert len(calls) == 1 and final.output_text == ""
    call = calls[0]
    assert call.name == "get_weather" and call.call_id.startswith("call_") and (call.id or "").startswith("fc_")
    jsonschema.validate(json.loads(call.arguments), WEATHER)
    kinds = [kind for kind, _ in _raw_events(http, body)]
    deltas = kinds.count("response.function_call_arguments.delta")
    assert deltas > 0
    assert kinds == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        *["response.function_call_arguments.delta"] * deltas,
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]


def test_function_call_output_loop_ends_in_text(client: openai.OpenAI) -> None:
    first = client.responses.create(model="gpt-4o", input=ASK, tools=TOOLS, tool_choice="required")
    calls = _calls(first)
    assert calls
    outputs: list[Any] = [{"type": "function_call_output", "call_id": c.call_id, "output": "sunny"} for c in calls]
    # With conversation state kept by the server ...
    second = client.responses.create(model="gpt-4o", previous_response_id=first.id, input=outputs, tools=TOOLS)
    assert second.output_text and not _calls(second)
    assert second.usage is not None and first.usage is not None
    assert second.usage.input_tokens > first.usage.input_tokens
    # ... and without it: the caller sends the items back.
    items: list[Any] = [{"role": "user", "content": ASK}, *[c.model_dump(exclude_none=True) for c in calls]]
    stateless = client.responses.create(model="gpt-4o", input=[*items, *outputs], tools=TOOLS, store=False)
    assert stateless.output_text and not _calls(stateless)


def test_unanswered_calls_are_rejected(client: openai.OpenAI) -> None:
    first = client.responses.create(model="gpt-4o", input=ASK, tools=TOOLS, tool_choice="required")
    with pytest.raises(openai.BadRequestError, match="No tool output found"):
        client.responses.create(model="gpt-4o", previous_response_id=first.id, input="And tomorrow?", tools=TOOLS)


# -- Conversation state and the store ------------------------------------------------------


def test_previous_response_id_carries_the_conversation(client: openai.OpenAI) -> None:
    first = client.responses.create(model="gpt-4o", input="Hi, I'm Ada.")
    second = client.responses.create(model="gpt-4o", input="What's my name?", previous_response_id=first.id)
    assert second.previous_response_id == first.id
    assert first.usage is not None and second.usage is not None
    assert second.usage.input_tokens > first.usage.input_tokens + first.usage.output_tokens


def test_retrieve_and_delete(client: openai.OpenAI) -> None:
    created = client.responses.create(model="gpt-4o", input="Remember this.")
    fetched = client.responses.retrieve(created.id)
    assert fetched.model_dump() == created.model_dump()
    client.responses.delete(created.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(created.id)


def test_streamed_responses_are_stored(client: openai.OpenAI) -> None:
    with client.responses.stream(model="gpt-4o", input="Hello") as stream:
        final = stream.get_final_response()
    assert client.responses.retrieve(final.id).output_text == final.output_text


def test_store_false_is_not_retrievable(client: openai.OpenAI) -> None:
    created = client.responses.create(model="gpt-4o", input="Forget this.", store=False)
    assert created.to_dict()["store"] is False
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(created.id)
    with pytest.raises(openai.BadRequestError) as caught:  # a 400 on the real API, not a 404
        client.responses.create(model="gpt-4o", input="Hi", previous_response_id=created.id)
    assert caught.value.code == "previous_response_not_found"
    assert isinstance(caught.value.body, dict) and caught.value.body["param"] == "previous_response_id"


# -- Structured output and reasoning -------------------------------------------------------


def test_json_schema_text_format(client: openai.OpenAI) -> None:
    schema = Forecast.model_json_schema()
    fmt: Any = {"type": "json_schema", "name": "forecast", "schema": schema}
    response = client.responses.create(model="gpt-4o", input=ASK, text={"format": fmt})
    jsonschema.validate(json.loads(response.output_text), schema)
    assert response.text is not None and response.text.format is not None
    assert response.text.format.type == "json_schema"
    parsed = client.responses.parse(model="gpt-4o", input=ASK, text_format=Forecast)
    assert isinstance(parsed.output_parsed, Forecast)


def test_json_object_text_format(client: openai.OpenAI) -> None:
    response = client.responses.create(
        model="gpt-4o", input="Answer in JSON.", text={"format": {"type": "json_object"}}
    )
    assert isinstance(json.loads(response.output_text), dict)


def test_reasoning_model_has_a_reasoning_item(client: openai.OpenAI) -> None:
    response = client.responses.create(model="o4-mini", input=ASK, reasoning={"effort": "low"})
    reasoning = response.output[0]
    assert isinstance(reasoning, ResponseReasoningItem)
    assert reasoning.id.startswith("rs_") and reasoning.summary == []
    assert response.output_text
    assert response.usage is not None
    spent = response.usage.output_tokens_details.reasoning_tokens
    assert 0 < spent <= 256 and response.usage.output_tokens > spent
    assert response.reasoning is not None and response.reasoning.effort == "low"


async def test_reasoning_summary_streams(async_client: openai.AsyncOpenAI) -> None:
    async with async_client.responses.stream(
        model="o4-mini", input=ASK, reasoning={"effort": "low", "summary": "concise"}
    ) as stream:
        kinds: list[str] = []
        summary = ""
        async for event in stream:
            kinds.append(event.type)
            if event.type == "response.reasoning_summary_text.delta":
                summary += event.delta
        final = await stream.get_final_response()
    reasoning = final.output[0]
    assert isinstance(reasoning, ResponseReasoningItem)
    assert summary and reasoning.summary[0].text == summary
    first_text = kinds.index("response.output_text.delta")
    assert kinds.index("response.reasoning_summary_text.done") < first_text
    assert kinds[2:4] == ["response.output_item.added", "response.reasoning_summary_part.added"]


def test_encrypted_reasoning_is_included_on_request(client: openai.OpenAI) -> None:
    response = client.responses.create(
        model="o4-mini", input=ASK, reasoning={"effort": "minimal"}, include=["reasoning.encrypted_content"]
    )
    reasoning = response.output[0]
    assert isinstance(reasoning, ResponseReasoningItem) and reasoning.encrypted_content


def test_reasoning_passed_back_needs_the_item_it_led_to(client: openai.OpenAI, http: httpx.Client) -> None:
    first = client.responses.create(
        model="o4-mini", input=ASK, reasoning={"effort": "low"}, include=["reasoning.encrypted_content"], store=False
    )
    # The whole output passed back (what agents do) is answered.
    turn: list[Any] = [{"role": "user", "content": ASK}, *[item.to_dict() for item in first.output]]
    again = client.responses.create(model="o4-mini", input=[*turn, {"role": "user", "content": "And Rome?"}])
    assert again.status == "completed"
    # The reasoning without its answer after it, or with nothing after it, is the API's 400.
    reasoning = first.output[0].to_dict()
    for items in ([turn[0], reasoning, {"role": "user", "content": "And Rome?"}], [turn[0], reasoning]):
        error = assert_openai_error(
            http.post("/responses", json={"model": "o4-mini", "input": items}), 400, param="input"
        )
        assert error["message"] == (
            f"Item '{reasoning['id']}' of type 'reasoning' was provided without its required following item."
        )
    # A reasoning item needs its id (the SDK's type requires it).
    no_id = {k: v for k, v in reasoning.items() if k != "id"}
    body = {"model": "o4-mini", "input": [turn[0], no_id, turn[2]]}
    assert_openai_error(http.post("/responses", json=body), 400, param="input[1].id")


# -- Bad input -----------------------------------------------------------------------------

STRICT_BAD: dict[str, Any] = {"type": "object", "properties": {"a": {"type": "string"}}}


@pytest.mark.parametrize(
    ("body", "status", "param", "code"),
    [
        ({"model": None}, 400, "model", "missing_required_parameter"),
        ({"input": None}, 400, "input", "missing_required_parameter"),
        ({"input": 42}, 400, "input", "invalid_type"),
        ({"input": []}, 400, "input", "empty_array"),
        ({"input": [{"type": "web_search_call", "id": "ws_1"}]}, 400, "input[0].type", "invalid_value"),
        ({"input": [{"role": "tool", "content": "x"}]}, 400, "input[0].role", "invalid_value"),
        ({"input": [{"role": "user"}]}, 400, "input[0].content", "missing_required_parameter"),
        (
            {"input": [{"role": "user", "content": [{"type": "output_text", "text": "x"}]}]},
            400,
            "input[0].content[0].type",
            "invalid_value",
        ),
        (
            {"input": [{"role": "assistant", "content": [{"type": "input_text", "text": "x"}]}]},
            400,
            "input[0].content[0].type",
            "invalid_value",
        ),
        (
            {"input": [{"type": "function_call_output", "call_id": "call_x", "output": "1"}]},
            400,
            "input",  # the API names the input, not the item
            None,
        ),
        (
            {"text": {"format": {"type": "json_schema", "name": "f", "schema": STRICT_BAD, "strict": True}}},
            400,
            "text.format.schema",
            "invalid_json_schema",
        ),
        (
            {"text": {"format": {"type": "json_schema", "name": "f", "schema": {"type": "strnig"}}}},
            400,
            "text.format.schema",
            "invalid_json_schema",
        ),
        ({"text": {"format": {"type": "json_schema", "schema": {}}}}, 400, "text.format.name", None),
        (
            {"text": {"format": {"type": "json_schema", "json_schema": {"name": "f", "schema": {}}}}},
            400,
            "text.format.schema",
            None,
        ),
        ({"text": {"format": {"type": "json_object"}}}, 400, "input", None),
        ({"text": {"format": {"type": "yaml"}}}, 400, "text.format.type", "invalid_value"),
        ({"tools": [{"type": "function", "function": {"name": "f"}}]}, 400, "tools[0].name", None),
        ({"tools": [{"type": "computer_use_preview"}]}, 400, "tools[0].type", "invalid_value"),
        ({"tools": [{"type": "file_search"}]}, 400, "tools[0].vector_store_ids", None),
        ({"tools": [{"type": "code_interpreter"}]}, 400, "tools[0].container", "missing_required_parameter"),
        ({"tools": [{"type": "function", "name": "bad name"}]}, 400, "tools[0].name", "invalid_value"),
        (
            {"tools": [{"type": "function", "name": "f", "parameters": STRICT_BAD, "strict": True}]},
            400,
            "tools[0].parameters",
            "invalid_function_parameters",
        ),
        ({"tools": TOOLS, "tool_choice": {"type": "function", "name": "nope"}}, 400, "tool_choice.name", None),
        ({"tool_choice": "required"}, 400, "tool_choice", None),
        ({"tool_choice": "sometimes"}, 400, "tool_choice", "invalid_value"),
        ({"reasoning": {"effort": "high"}}, 400, "reasoning.effort", "unsupported_parameter"),
        ({"model": "o4-mini", "reasoning": {"effort": "extreme"}}, 400, "reasoning.effort", "invalid_value"),
        ({"model": "o4-mini", "reasoning": {"summary": "long"}}, 400, "reasoning.summary", "invalid_value"),
        ({"model": "o4-mini", "temperature": 0.2}, 400, "temperature", "unsupported_value"),
        ({"temperature": 2.5}, 400, "temperature", "decimal_above_max_value"),
        ({"top_p": -0.1}, 400, "top_p", "decimal_below_min_value"),
        ({"max_output_tokens": 8}, 400, "max_output_tokens", "integer_below_min_value"),
        ({"max_output_tokens": 10**6}, 400, "max_output_tokens", "invalid_value"),
        ({"metadata": {"k": 1}}, 400, "metadata.k", "invalid_type"),
        ({"stream": "yes"}, 400, "stream", "invalid_type"),
        ({"background": True, "store": False}, 400, "store", "invalid_value"),
        ({"model": "gpt-nope"}, 400, "model", "model_not_found"),
        ({"model": "text-embedding-3-small"}, 404, "model", "model_not_supported"),
        ({"previous_response_id": "resp_unknown"}, 400, "previous_response_id", "previous_response_not_found"),
    ],
)
def test_bad_input(http: httpx.Client, body: dict[str, Any], status: int, param: str, code: str | None) -> None:
    full = {k: v for k, v in {"model": "gpt-4o", "input": "Hi", **body}.items() if v is not None}
    error = assert_openai_error(http.post("/responses", json=full), status, param=param, code=code)
    if param.endswith("schema") or param.endswith("parameters"):
        assert "Invalid schema" in error["message"] or "Missing required" in error["message"]


def test_bad_input_is_checked_before_streaming(http: httpx.Client) -> None:
    resp = http.post("/responses", json={"model": "gpt-4o", "input": 1, "stream": True})
    assert_openai_error(resp, 400, param="input", code="invalid_type")


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_unknown_response_id(http: httpx.Client, method: str) -> None:
    assert_openai_error(http.request(method, "/responses/resp_missing"), 404, param="response_id")


def test_sdk_maps_errors_to_its_exception_classes(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model="gpt-4o", input="Hi", reasoning={"effort": "low"})
    assert caught.value.param == "reasoning.effort"
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve("resp_missing")


def test_another_vendors_model_does_not_reason_unless_asked(client: openai.OpenAI) -> None:
    response = client.responses.create(model="claude-sonnet-4-5-20250929", input="Hi")
    assert response.usage is not None
    assert response.usage.output_tokens_details.reasoning_tokens == 0
    assert [item.type for item in response.output] == ["message"]
