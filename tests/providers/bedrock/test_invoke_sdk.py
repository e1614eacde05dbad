"""InvokeModel and InvokeModelWithResponseStream (Claude and Llama bodies) from boto3 and AnthropicBedrock."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import pytest
from anthropic.types import TextBlock, ToolUseBlock

from tests.live import LiveServer
from tests.providers.bedrock.helpers import CLAUDE, LLAMA, MODEL, PROFILE, decode
from tests.providers.bedrock.helpers import anthropic_bedrock as bedrock_client_of

CLAUDE_BODY: dict[str, Any] = {
    "anthropic_version": "bedrock-2023-05-31",
    "max_tokens": 12,
    "messages": [{"role": "user", "content": "Hello"}],
}


@pytest.fixture(scope="module")
def anthropic_bedrock(fast_server: LiveServer) -> Iterator[anthropic.AnthropicBedrock]:
    """anthropic's Bedrock client, signing with SigV4, on the no-latency server."""
    with bedrock_client_of(fast_server.url, _strict_response_validation=True) as client:
        yield client


def test_invoke_claude_answers_a_message(bedrock: Any) -> None:
    response = bedrock.invoke_model(modelId=MODEL, body=json.dumps(CLAUDE_BODY))
    assert response["contentType"] == "application/json"
    message = json.loads(response["body"].read())
    assert message["type"] == "message"
    assert message["id"].startswith("msg_bdrk_")
    assert message["model"] == CLAUDE
    assert message["content"][0]["type"] == "text" and message["content"][0]["text"]
    assert message["stop_reason"] in ("end_turn", "max_tokens")
    headers = response["ResponseMetadata"]["HTTPHeaders"]
    assert int(headers["x-amzn-bedrock-output-token-count"]) == message["usage"]["output_tokens"]
    assert int(headers["x-amzn-bedrock-input-token-count"]) == message["usage"]["input_tokens"]


def test_invoke_claude_stream_wraps_every_event_in_a_chunk(bedrock: Any) -> None:
    response = bedrock.invoke_model_with_response_stream(modelId=PROFILE, body=json.dumps(CLAUDE_BODY))
    events = [json.loads(part["chunk"]["bytes"]) for part in response["body"]]
    types = [event["type"] for event in events]
    assert types[0] == "message_start"
    assert types[-2:] == ["message_delta", "message_stop"]
    assert "ping" not in types
    deltas = [e for e in events if e["type"] == "content_block_delta"]
    assert events[-2]["usage"]["output_tokens"] == len(deltas)
    metrics = events[-1]["amazon-bedrock-invocationMetrics"]
    assert metrics["outputTokenCount"] == len(deltas)
    assert metrics["inputTokenCount"] == events[0]["message"]["usage"]["input_tokens"]
    assert metrics["invocationLatency"] >= metrics["firstByteLatency"] >= 0


def test_invoke_llama_answers_a_generation(bedrock: Any) -> None:
    body = {"prompt": "Tell me about lighthouses.", "max_gen_len": 8, "temperature": 0.5, "top_p": 0.9}
    response = bedrock.invoke_model(modelId=LLAMA, body=json.dumps(body))
    answer = json.loads(response["body"].read())
    assert set(answer) == {"generation", "prompt_token_count", "generation_token_count", "stop_reason"}
    assert answer["generation"]
    assert answer["generation_token_count"] <= 8
    assert answer["stop_reason"] in ("stop", "length")


def test_invoke_llama_stream_counts_its_tokens(bedrock: Any) -> None:
    body = {"prompt": "Write a long story.", "max_gen_len": 6}
    response = bedrock.invoke_model_with_response_stream(modelId=LLAMA, body=json.dumps(body))
    assert response["contentType"] == "application/json"
    chunks = [json.loads(part["chunk"]["bytes"]) for part in response["body"]]
    assert chunks[0]["prompt_token_count"] > 0
    assert [c["generation_token_count"] for c in chunks[:-1]] == list(range(1, 7))
    assert all(c["stop_reason"] is None for c in chunks[:-1])
    assert chunks[-1]["stop_reason"] == "length"
    assert chunks[-1]["amazon-bedrock-invocationMetrics"]["outputTokenCount"] == 6


def test_raw_chunk_payload_is_base64_json(fast_server: LiveServer) -> None:
    url = f"{fast_server.url}/model/{LLAMA}/invoke-with-response-stream"
    response = httpx.post(url, json={"prompt": "Hi", "max_gen_len": 2}, timeout=30)
    assert response.headers["content-type"] == "application/vnd.amazon.eventstream"
    assert response.headers["x-amzn-bedrock-content-type"] == "application/json"
    messages = decode(response.content)
    assert {m.event_type for m in messages} == {"chunk"}
    payload = json.loads(messages[0].payload)
    assert set(payload) == {"bytes"}
    assert json.loads(base64.b64decode(payload["bytes"]))["generation_token_count"] == 1


def test_anthropic_bedrock_messages_create(anthropic_bedrock: anthropic.AnthropicBedrock) -> None:
    message = anthropic_bedrock.messages.create(
        model=PROFILE, max_tokens=10, messages=[{"role": "user", "content": "Hello"}]
    )
    assert message.model == CLAUDE
    assert isinstance(message.content[0], TextBlock) and message.content[0].text
    assert message.usage.output_tokens <= 10


def test_anthropic_bedrock_stream_helper(anthropic_bedrock: anthropic.AnthropicBedrock) -> None:
    with anthropic_bedrock.messages.stream(
        model=MODEL, max_tokens=10, messages=[{"role": "user", "content": "Hello"}]
    ) as stream:
        texts = list(stream.text_stream)
        message = stream.get_final_message()
    assert texts
    assert isinstance(message.content[0], TextBlock)
    assert message.content[0].text == "".join(texts)
    assert message.stop_reason in ("end_turn", "max_tokens")
    assert message.usage.output_tokens == len(texts)


def test_anthropic_bedrock_tool_use(anthropic_bedrock: anthropic.AnthropicBedrock) -> None:
    message = anthropic_bedrock.messages.create(
        model=MODEL,
        max_tokens=200,
        messages=[{"role": "user", "content": "Weather in Paris?"}],
        tools=[
            {
                "name": "get_weather",
                "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
            }
        ],
        tool_choice={"type": "tool", "name": "get_weather"},
    )
    assert message.stop_reason == "tool_use"
    use = next(block for block in message.content if isinstance(block, ToolUseBlock))
    assert use.name == "get_weather"
    assert isinstance(use.input, dict) and "city" in use.input
