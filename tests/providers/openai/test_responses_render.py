"""Responses API event rendering in process: edge cases a live model rarely produces."""

from __future__ import annotations

import json
from typing import Any

import pydantic
from openai.types.responses import Response, ResponseStreamEvent

from llm_simulator.core.errors import ErrorKind, SimulatorError
from llm_simulator.core.types import (
    ChoicePlan,
    Endpoint,
    FinishReason,
    GenerationPlan,
    GenerationRequest,
    Segment,
    SegmentKind,
    ToolCall,
)
from llm_simulator.providers.openai.responses_render import EventWriter, OutputLayout, ResponseHead

EVENTS: pydantic.TypeAdapter[ResponseStreamEvent] = pydantic.TypeAdapter(ResponseStreamEvent)
ECHO: dict[str, Any] = {"parallel_tool_calls": True, "tool_choice": "auto", "tools": []}


def _layout(choice: ChoicePlan, summary: str | None = None) -> OutputLayout:
    request = GenerationRequest(model="gpt-4o", endpoint=Endpoint.CHAT, messages=(), prompt_tokens=5)
    plan = GenerationPlan(request, [choice], "fp_test")
    return OutputLayout(plan, ResponseHead("resp_1", 1_700_000_000, "gpt-4o", ECHO, summary))


def _events(frames: bytes) -> list[dict[str, Any]]:
    out = []
    for frame in frames[:-2].split(b"\n\n"):
        name, data = frame.split(b"\n")
        payload = json.loads(data[len(b"data: ") :])
        assert name == b"event: " + payload["type"].encode()
        EVENTS.validate_python(payload, strict=True)
        out.append(payload)
    return out


def test_an_empty_answer_still_opens_and_closes_its_message() -> None:
    layout = _layout(ChoicePlan(0, [], FinishReason.STOP))
    writer = EventWriter(layout)
    frames = writer.started() + writer.advance(-1, len(layout.items))
    body = json.dumps(layout.final_object(1_700_000_001)).encode()
    events = _events(frames + writer.lifecycle("response.completed", body))
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert events[-2]["item"]["content"][0]["text"] == ""
    Response.model_validate(events[-1]["response"], strict=True)


def test_reasoning_cut_by_the_limit_leaves_only_the_reasoning_item() -> None:
    tokens = ["Lorem", " ipsum", " dolor"]
    layout = _layout(
        ChoicePlan(0, tokens, FinishReason.LENGTH, segments=[Segment(SegmentKind.REASONING, 0, 3)]), "concise"
    )
    writer = EventWriter(layout)
    frames = writer.started() + writer.advance(-1, 0)
    frames += b"".join(writer.token(0, p, t) for p, t in enumerate(tokens))
    frames += writer.advance(0, 1)
    final = layout.final_object(0)
    events = _events(frames + writer.lifecycle("response.incomplete", json.dumps(final).encode()))
    deltas = [e["delta"] for e in events if e["type"] == "response.reasoning_summary_text.delta"]
    assert "".join(deltas) == "Lorem ipsum dolor" == final["output"][0]["summary"][0]["text"]
    assert final["status"] == "incomplete" and [item["type"] for item in final["output"]] == ["reasoning"]


def test_a_truncated_call_is_incomplete() -> None:
    call = ToolCall("abc", "get_weather", '{"city":"Paris"}')
    choice = ChoicePlan(0, ['{"', "city"], FinishReason.LENGTH, segments=[Segment(SegmentKind.TOOL_CALL, 0, 2, call)])
    item = _layout(choice).final_object(0)["output"][0]
    assert item == {
        "id": item["id"],
        "type": "function_call",
        "call_id": "call_abc",
        "name": "get_weather",
        "status": "incomplete",
        "arguments": '{"city',
    }


def test_mid_stream_error_event() -> None:
    writer = EventWriter(_layout(ChoicePlan(0, ["Hi"], FinishReason.STOP)))
    writer.started()
    error = SimulatorError(ErrorKind.UNAVAILABLE, "The server is shutting down.", code="server_shutting_down")
    (event,) = _events(writer.error(error))
    assert event == {
        "type": "error",
        "sequence_number": 2,
        "code": "server_shutting_down",
        "message": "The server is shutting down.",
        "param": None,
    }
