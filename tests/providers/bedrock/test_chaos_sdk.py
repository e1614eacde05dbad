"""Chaos and rate limits as boto3 and AnthropicBedrock see them: Bedrock's exceptions, before and inside streams."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import botocore.exceptions
import pytest
import urllib3
from anthropic.types import MessageStreamEvent
from botocore.eventstream import ChecksumMismatch

from tests.live import LiveServer, live_server
from tests.providers.bedrock.helpers import (
    ACCESS_KEY,
    LLAMA,
    MODEL,
    USER,
    anthropic_bedrock,
    bedrock_client,
    send_headers,
)

CONFIG = """\
chaos:
  rules:
    - name: first-attempt-throttled
      api_keys: [AKIDRETRY]
      headers: {amz-sdk-request: "attempt=1;*"}
      error_type: rate_limit
rate_limits:
  tiers:
    - name: limited
      api_keys: [AKIDLIMITED]
      requests_per_minute: 1
"""
LONG = [{"role": "user", "content": [{"text": "Write a long story."}]}]


@pytest.fixture(scope="module")
def chaos_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Chaos and rate limits on, the rule and the tier scoped to their own access keys."""
    path = tmp_path_factory.mktemp("chaos") / "bedrock-chaos.yaml"
    path.write_text(CONFIG)
    with live_server("--no-latency", "--chaos", "--rate-limits", "--config", str(path)) as live:
        yield live


@pytest.fixture
def opened() -> Iterator[list[Any]]:
    """boto3 clients a test opened, closed after it (a broken stream leaves its connection to close)."""
    clients: list[Any] = []
    yield clients
    for client in clients:
        client.close()


def _client(opened: list[Any], server: LiveServer, access_key: str = ACCESS_KEY, retries: int = 1) -> Any:
    client = bedrock_client(server.url, access_key=access_key, retries=retries)
    opened.append(client)
    return client


def _chaos(opened: list[Any], server: LiveServer, control: str) -> Any:
    return send_headers(_client(opened, server), {"x-simulator-chaos": control})


@pytest.mark.parametrize(
    ("control", "code", "status"),
    [
        ("error=rate_limit", "ThrottlingException", 429),
        ("error=overloaded", "ModelNotReadyException", 429),
        ("error=unavailable", "ServiceUnavailableException", 503),
        ("error=server_error", "InternalServerException", 500),
        ("error=timeout; delay_ms=50", "ModelTimeoutException", 408),  # not the default 10 s wait
        ("error=permission", "AccessDeniedException", 403),
        ("error=quota_exhausted", "ServiceQuotaExceededException", 400),
    ],
)
def test_chaos_errors_are_bedrock_exceptions(
    chaos_server: LiveServer, opened: list[Any], control: str, code: str, status: int
) -> None:
    client = _chaos(opened, chaos_server, control)
    with pytest.raises(botocore.exceptions.ClientError) as info:
        client.converse(modelId=MODEL, messages=USER)
    error: Any = info.value.response
    assert error["Error"]["Code"] == code
    assert error["Error"]["Message"]
    if code == "ThrottlingException":  # Bedrock's own text, as a rate-limit tier's refusal has it
        assert error["Error"]["Message"] == "Too many requests, please wait before trying again."
    assert error["ResponseMetadata"]["HTTPStatusCode"] == status
    assert isinstance(info.value, getattr(client.exceptions, code))


def test_boto3_retries_a_throttled_attempt(chaos_server: LiveServer, opened: list[Any]) -> None:
    client = _client(opened, chaos_server, access_key="AKIDRETRY", retries=3)
    response = client.converse(modelId=MODEL, messages=USER, inferenceConfig={"maxTokens": 3})
    assert response["ResponseMetadata"]["RetryAttempts"] == 1
    assert response["usage"]["outputTokens"] <= 3


def test_rate_limit_tier_throttles_the_access_key(chaos_server: LiveServer, opened: list[Any]) -> None:
    client = _client(opened, chaos_server, access_key="AKIDLIMITED")
    client.converse(modelId=MODEL, messages=USER, inferenceConfig={"maxTokens": 2})
    with pytest.raises(client.exceptions.ThrottlingException) as info:
        client.converse(modelId=MODEL, messages=USER, inferenceConfig={"maxTokens": 2})
    assert info.value.response["Error"]["Message"] == "Too many requests, please wait before trying again."
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429


# -- stream faults ---------------------------------------------------------------------------


def _converse_stream(
    opened: list[Any], server: LiveServer, control: str
) -> tuple[list[dict[str, Any]], BaseException | None]:
    """The events a ConverseStream delivered before it ended, and what it raised (if anything)."""
    events: list[dict[str, Any]] = []
    response = _chaos(opened, server, control).converse_stream(
        modelId=MODEL, messages=LONG, inferenceConfig={"maxTokens": 30}
    )
    try:
        events.extend(response["stream"])
    except Exception as exc:  # what each fault raises is the assertion
        return events, exc
    finally:
        response["stream"].close()
    return events, None


def _deltas(events: list[dict[str, Any]]) -> int:
    return sum(1 for e in events if "contentBlockDelta" in e)


@pytest.mark.parametrize(
    ("fault_error", "code"),
    [("rate_limit", "throttlingException"), ("overloaded", "serviceUnavailableException")],
)
def test_stream_error_event_is_an_event_stream_exception(
    chaos_server: LiveServer, opened: list[Any], fault_error: str, code: str
) -> None:
    events, raised = _converse_stream(opened, chaos_server, f"fault=error_event; after=3; fault_error={fault_error}")
    assert isinstance(raised, botocore.exceptions.EventStreamError)
    assert raised.response["Error"]["Code"] == code
    assert raised.response["Error"]["Message"]
    assert _deltas(events) == 3


def test_stream_malformed_frame_fails_its_checksum(chaos_server: LiveServer, opened: list[Any]) -> None:
    events, raised = _converse_stream(opened, chaos_server, "fault=malformed; after=3")
    assert isinstance(raised, ChecksumMismatch)
    assert _deltas(events) == 3


def test_stream_disconnect_is_a_protocol_error(chaos_server: LiveServer, opened: list[Any]) -> None:
    events, raised = _converse_stream(opened, chaos_server, "fault=disconnect; after=3")
    # botocore reads event streams straight from urllib3, whose error surfaces as is.
    assert isinstance(raised, urllib3.exceptions.ProtocolError)
    assert "ended prematurely" in str(raised)
    assert _deltas(events) == 3


def test_stream_without_terminator_ends_quietly(chaos_server: LiveServer, opened: list[Any]) -> None:
    events, raised = _converse_stream(opened, chaos_server, "fault=no_terminator; after=3")
    assert raised is None
    assert _deltas(events) == 3
    names = {next(iter(e)) for e in events}
    assert "messageStop" not in names
    assert "metadata" not in names


def test_invoke_stream_error_event(chaos_server: LiveServer, opened: list[Any]) -> None:
    client = _chaos(opened, chaos_server, "fault=error_event; after=2; fault_error=rate_limit")
    response = client.invoke_model_with_response_stream(
        modelId=LLAMA, body=json.dumps({"prompt": "Write a long story.", "max_gen_len": 30})
    )
    chunks: list[dict[str, Any]] = []
    with pytest.raises(botocore.exceptions.EventStreamError) as info:
        chunks.extend(json.loads(part["chunk"]["bytes"]) for part in response["body"])
    response["body"].close()
    assert info.value.response["Error"]["Code"] == "throttlingException"
    assert len(chunks) == 2


def test_anthropic_bedrock_sees_a_stream_error_event(chaos_server: LiveServer) -> None:
    control = {"x-simulator-chaos": "fault=error_event; after=3; fault_error=rate_limit"}
    with anthropic_bedrock(chaos_server.url, default_headers=control) as client:
        stream = client.messages.create(
            model=MODEL, max_tokens=30, messages=[{"role": "user", "content": "Write a long story."}], stream=True
        )
        events: list[MessageStreamEvent] = []
        with pytest.raises(anthropic.APIStatusError) as info:
            events.extend(stream)
    assert sum(1 for e in events if e.type == "content_block_delta") == 3
    assert isinstance(info.value.body, dict)
    assert info.value.body["error"]["type"] == "throttlingException"


def test_anthropic_bedrock_sees_a_throttle(chaos_server: LiveServer) -> None:
    with (
        anthropic_bedrock(chaos_server.url) as client,
        pytest.raises(anthropic.RateLimitError) as info,
    ):
        client.messages.create(
            model=MODEL,
            max_tokens=5,
            messages=[{"role": "user", "content": "Hi"}],
            extra_headers={"x-simulator-chaos": "error=rate_limit"},
        )
    assert info.value.status_code == 429
    assert info.value.response.headers["x-amzn-errortype"].startswith("ThrottlingException")
