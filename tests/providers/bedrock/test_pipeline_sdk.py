"""Bedrock through the shared pipeline: fixtures, the gate's API keys, and telemetry, seen from boto3."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import botocore.exceptions
import httpx
import pytest

from llm_simulator.core.identity import api_key
from tests.live import LiveServer, live_server
from tests.providers.bedrock.helpers import ACCESS_KEY, LLAMA, MODEL, bedrock_client

FIXTURES = """\
rules:
  - name: fixed
    match: {provider: bedrock, message: fixed}
    respond: {text: Hello from a fixture.}
  - name: weather
    match: {provider: bedrock, message: weather}
    respond:
      tool_calls: [{name: get_weather, arguments: {city: Paris}}]
  - name: refused
    match: {provider: bedrock, message: refuse}
    respond: {error: {kind: overloaded, message: Scripted overload}}
"""
CONFIG = f"""\
auth:
  require_auth: true
  api_keys: [{ACCESS_KEY}]
fixtures:
  files: [fixtures.yaml]
"""


@pytest.fixture(scope="module")
def pipeline_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Fixtures loaded, and auth required with the test's access key id as the one API key."""
    folder = tmp_path_factory.mktemp("bedrock-pipeline")
    (folder / "fixtures.yaml").write_text(FIXTURES)
    (folder / "config.yaml").write_text(CONFIG)
    with live_server("--no-latency", "--config", str(folder / "config.yaml")) as live:
        yield live


@pytest.fixture(scope="module")
def client(pipeline_server: LiveServer) -> Iterator[Any]:
    """boto3 signing with the configured access key."""
    client = bedrock_client(pipeline_server.url)
    yield client
    client.close()


def _user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": [{"text": text}]}]


def test_a_sigv4_request_presents_its_access_key() -> None:
    auth = f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/20260301/us-east-1/bedrock/aws4_request, SignedHeaders=host"
    assert api_key({"authorization": auth}, {}) == ACCESS_KEY
    assert api_key({"authorization": "AWS4-HMAC-SHA256 SignedHeaders=host"}, {}) == "anonymous"


def test_fixture_text_in_converse_and_its_stream(client: Any) -> None:
    whole = client.converse(modelId=MODEL, messages=_user("say the fixed line"))
    assert whole["output"]["message"]["content"] == [{"text": "Hello from a fixture."}]
    assert whole["stopReason"] == "end_turn"
    stream = client.converse_stream(modelId=MODEL, messages=_user("say the fixed line"))["stream"]
    text = "".join(e["contentBlockDelta"]["delta"]["text"] for e in stream if "contentBlockDelta" in e)
    assert text == "Hello from a fixture."


def test_fixture_tool_call_in_converse(client: Any) -> None:
    response = client.converse(
        modelId=MODEL,
        messages=_user("what is the weather"),
        toolConfig={"tools": [{"toolSpec": {"name": "get_weather", "inputSchema": {"json": {"type": "object"}}}}]},
    )
    assert response["stopReason"] == "tool_use"
    (block,) = response["output"]["message"]["content"]
    assert block["toolUse"]["name"] == "get_weather"
    assert block["toolUse"]["input"] == {"city": "Paris"}


def test_fixture_text_in_a_llama_invoke(client: Any) -> None:
    response = client.invoke_model(modelId=LLAMA, body=json.dumps({"prompt": "the fixed one"}))
    assert json.loads(response["body"].read())["generation"] == "Hello from a fixture."


def test_fixture_error_is_a_bedrock_exception(client: Any) -> None:
    with pytest.raises(client.exceptions.ModelNotReadyException) as info:
        client.converse(modelId=MODEL, messages=_user("please refuse"))
    assert info.value.response["Error"]["Message"] == "Scripted overload"


def test_the_gate_refuses_an_unknown_access_key(pipeline_server: LiveServer) -> None:
    stranger = bedrock_client(pipeline_server.url, access_key="AKIDSTRANGER")
    with pytest.raises(botocore.exceptions.ClientError) as info:
        stranger.converse(modelId=MODEL, messages=_user("hi"))
    stranger.close()
    assert info.value.response["Error"]["Code"] == "UnrecognizedClientException"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_metrics_count_bedrock_requests(pipeline_server: LiveServer, client: Any) -> None:
    client.converse(modelId=MODEL, messages=_user("hello"), inferenceConfig={"maxTokens": 3})
    text = httpx.get(f"{pipeline_server.url}/metrics", headers={"authorization": f"Bearer {ACCESS_KEY}"}).text
    lines = [line for line in text.splitlines() if 'provider="bedrock"' in line and 'endpoint="converse"' in line]
    assert lines, "no bedrock/converse series in /metrics"
