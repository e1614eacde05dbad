"""Converse and ConverseStream as boto3's bedrock-runtime client sees them on a real socket."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.live import LiveServer
from tests.providers.bedrock.helpers import (
    LLAMA,
    MODEL,
    PROFILE,
    PROFILE_ARN,
    USER,
    bedrock_client,
    decode,
    send_headers,
)

WEATHER = {
    "toolSpec": {
        "name": "get_weather",
        "description": "The weather in a city.",
        "inputSchema": {"json": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}},
    }
}


def _text(response: dict[str, Any]) -> str:
    return "".join(block.get("text", "") for block in response["output"]["message"]["content"])


@pytest.mark.parametrize("model_id", [MODEL, PROFILE, PROFILE_ARN, LLAMA])
def test_converse_answers_every_model_id_form(bedrock: Any, model_id: str) -> None:
    response = bedrock.converse(modelId=model_id, messages=USER, inferenceConfig={"maxTokens": 12})
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    message = response["output"]["message"]
    assert message["role"] == "assistant"
    assert _text(response)
    usage = response["usage"]
    assert usage["outputTokens"] <= 12
    assert usage["inputTokens"] > 0
    assert usage["totalTokens"] == usage["inputTokens"] + usage["outputTokens"]
    assert response["stopReason"] in ("end_turn", "max_tokens")
    assert response["metrics"]["latencyMs"] >= 0
    assert response["ResponseMetadata"]["RequestId"].startswith("req_")


def test_max_tokens_stops_with_max_tokens(bedrock: Any) -> None:
    messages = [{"role": "user", "content": [{"text": "Write a long story."}]}]
    response = bedrock.converse(modelId=MODEL, messages=messages, inferenceConfig={"maxTokens": 3})
    assert response["stopReason"] == "max_tokens"
    assert response["usage"]["outputTokens"] == 3


def test_system_prompt_and_options_are_accepted_and_counted(bedrock: Any) -> None:
    plain = bedrock.converse(modelId=MODEL, messages=USER, inferenceConfig={"maxTokens": 5})
    with_system = bedrock.converse(
        modelId=MODEL,
        messages=USER,
        system=[{"text": "You are a terse assistant who answers in one sentence."}],
        inferenceConfig={"maxTokens": 5, "temperature": 0.2, "topP": 0.9, "stopSequences": ["\n\nHuman:"]},
        additionalModelRequestFields={"top_k": 50},
    )
    assert with_system["usage"]["inputTokens"] > plain["usage"]["inputTokens"]


def test_forced_tool_choice_returns_a_tool_use_block(bedrock: Any) -> None:
    response = bedrock.converse(
        modelId=MODEL,
        messages=[{"role": "user", "content": [{"text": "Weather in Paris?"}]}],
        toolConfig={"tools": [WEATHER], "toolChoice": {"tool": {"name": "get_weather"}}},
        inferenceConfig={"maxTokens": 200},
    )
    assert response["stopReason"] == "tool_use"
    uses = [block["toolUse"] for block in response["output"]["message"]["content"] if "toolUse" in block]
    assert len(uses) >= 1
    use = uses[0]
    assert use["name"] == "get_weather"
    assert use["toolUseId"].startswith("tooluse_")
    assert isinstance(use["input"], dict) and isinstance(use["input"]["city"], str)


def test_tool_result_turn_is_answered_in_text(bedrock: Any) -> None:
    messages = [
        {"role": "user", "content": [{"text": "Weather in Paris?"}]},
        {
            "role": "assistant",
            "content": [{"toolUse": {"toolUseId": "tooluse_1", "name": "get_weather", "input": {"city": "Paris"}}}],
        },
        {
            "role": "user",
            "content": [{"toolResult": {"toolUseId": "tooluse_1", "content": [{"json": {"temp_c": 21}}]}}],
        },
    ]
    response = bedrock.converse(
        modelId=MODEL, messages=messages, toolConfig={"tools": [WEATHER]}, inferenceConfig={"maxTokens": 30}
    )
    assert response["stopReason"] in ("end_turn", "max_tokens")
    assert _text(response)


def test_stream_events_in_order_with_usage(bedrock: Any) -> None:
    response = bedrock.converse_stream(modelId=PROFILE, messages=USER, inferenceConfig={"maxTokens": 10})
    assert response["ResponseMetadata"]["HTTPHeaders"]["content-type"] == "application/vnd.amazon.eventstream"
    events = list(response["stream"])
    names = [next(iter(event)) for event in events]
    assert names[0] == "messageStart"
    assert events[0]["messageStart"] == {"role": "assistant"}
    assert names[-3:] == ["contentBlockStop", "messageStop", "metadata"]
    deltas = [e["contentBlockDelta"] for e in events if "contentBlockDelta" in e]
    assert deltas and all(d["contentBlockIndex"] == 0 for d in deltas)
    metadata = events[-1]["metadata"]
    assert metadata["usage"]["outputTokens"] == len(deltas)
    assert events[-2]["messageStop"]["stopReason"] in ("end_turn", "max_tokens")
    assert metadata["metrics"]["latencyMs"] >= 0


def test_stream_and_answer_carry_the_same_seeded_text(fast_server: LiveServer) -> None:
    client = send_headers(bedrock_client(fast_server.url), {"x-simulator-seed": "42"})
    config = {"maxTokens": 15}
    whole = client.converse(modelId=MODEL, messages=USER, inferenceConfig=config)
    streamed = client.converse_stream(modelId=MODEL, messages=USER, inferenceConfig=config)
    text = "".join(e["contentBlockDelta"]["delta"]["text"] for e in streamed["stream"] if "contentBlockDelta" in e)
    assert text == _text(whole)


def test_stream_tool_call_opens_its_block(bedrock: Any) -> None:
    response = bedrock.converse_stream(
        modelId=MODEL,
        messages=[{"role": "user", "content": [{"text": "Weather in Paris?"}]}],
        toolConfig={"tools": [WEATHER], "toolChoice": {"any": {}}},
        inferenceConfig={"maxTokens": 200},
    )
    events = list(response["stream"])
    starts = [e["contentBlockStart"] for e in events if "contentBlockStart" in e]
    assert starts, events
    start = starts[0]
    assert start["start"]["toolUse"]["name"] == "get_weather"
    index = start["contentBlockIndex"]
    fragments = [
        e["contentBlockDelta"]["delta"]["toolUse"]["input"]
        for e in events
        if "contentBlockDelta" in e and e["contentBlockDelta"]["contentBlockIndex"] == index
    ]
    assert isinstance(json.loads("".join(fragments))["city"], str)
    assert events[-2]["messageStop"]["stopReason"] == "tool_use"


def test_raw_stream_frames_carry_the_event_stream_headers(fast_server: LiveServer) -> None:
    body = {"messages": USER, "inferenceConfig": {"maxTokens": 4}}
    response = httpx.post(f"{fast_server.url}/model/{MODEL}/converse-stream", json=body, timeout=30)
    assert response.status_code == 200
    messages = decode(response.content)
    for message in messages:
        assert message.headers[":message-type"] == "event"
        assert message.headers[":content-type"] == "application/json"
    assert [m.event_type for m in messages][:1] == ["messageStart"]
    assert messages[-1].event_type == "metadata"
