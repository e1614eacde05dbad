"""Bad input on every Bedrock operation: AWS-shaped errors (``x-amzn-ErrorType``, ``{"message"}``), never a 500."""

from __future__ import annotations

from typing import Any

import botocore.exceptions
import httpx
import pytest

from tests.live import LiveServer
from tests.providers.bedrock.helpers import LLAMA, MODEL, USER

OPERATIONS = ("converse", "converse-stream", "invoke", "invoke-with-response-stream")
CLAUDE_OK: dict[str, Any] = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 5, "messages": USER[:0]}


def _post(server: LiveServer, model: str, operation: str, body: Any, raw: bytes | None = None) -> httpx.Response:
    url = f"{server.url}/model/{model}/{operation}"
    if raw is not None:
        return httpx.post(url, content=raw, headers={"content-type": "application/json"}, timeout=30)
    return httpx.post(url, json=body, timeout=30)


def assert_aws_error(response: httpx.Response, status: int, code: str, *words: str) -> str:
    """Check a Bedrock error response exactly; return its message."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-amzn-errortype"].split(":")[0] == code
    assert response.headers["x-amzn-requestid"].startswith("req_")
    body = response.json()
    assert set(body) == {"message"} and body["message"]
    for word in words:
        assert word in body["message"], body["message"]
    return str(body["message"])


@pytest.mark.parametrize("operation", OPERATIONS)
def test_invalid_json_is_a_validation_exception(fast_server: LiveServer, operation: str) -> None:
    response = _post(fast_server, MODEL, operation, None, raw=b"{not json")
    assert_aws_error(response, 400, "ValidationException", "JSON")


@pytest.mark.parametrize("operation", OPERATIONS)
def test_unknown_model_id_is_invalid(fast_server: LiveServer, operation: str) -> None:
    response = _post(fast_server, "acme.nonexistent-v1:0", operation, {"messages": USER})
    assert_aws_error(response, 400, "ValidationException", "model identifier is invalid")


def test_unknown_operation_is_not_found(fast_server: LiveServer) -> None:
    response = _post(fast_server, MODEL, "summon", {"messages": USER})
    assert_aws_error(response, 404, "ResourceNotFoundException", "summon")


def test_get_is_method_not_allowed_in_bedrock_shape(fast_server: LiveServer) -> None:
    response = httpx.get(f"{fast_server.url}/model/{MODEL}/converse", timeout=30)
    assert response.status_code == 405
    assert response.headers["x-amzn-errortype"].startswith("ValidationException")


@pytest.mark.parametrize("operation", ["converse", "converse-stream"])
@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({}, ["messages"]),
        ({"messages": []}, ["at least one message"]),
        ({"messages": [{"role": "assistant", "content": [{"text": "hi"}]}]}, ["start with a user message"]),
        ({"messages": USER + USER}, ["alternate"]),
        ({"messages": [{"role": "tool", "content": [{"text": "hi"}]}]}, ["role"]),
        ({"messages": [{"role": "user", "content": []}]}, ["content"]),
        ({"messages": [{"role": "user", "content": [{"text": "a", "image": {}}]}]}, ["exactly one member"]),
        ({"messages": [{"role": "user", "content": [{"sticker": {}}]}]}, ["unknown member 'sticker'"]),
        ({"messages": [{"role": "user", "content": [{"text": " "}]}]}, ["blank"]),
        ({"messages": USER, "inferenceConfig": {"temperature": 1.5}}, ["temperature"]),
        ({"messages": USER, "inferenceConfig": {"maxTokens": 0}}, ["maxTokens"]),
        ({"messages": USER, "inferenceConfig": {"maxTokens": 10_000_000}}, ["exceeds the model limit"]),
        ({"messages": USER, "inferenceConfig": {"stopSequences": [""]}}, ["stopSequences"]),
        ({"messages": USER, "system": [{"text": ""}]}, ["system"]),
        ({"messages": USER, "toolConfig": {"tools": []}}, ["toolConfig.tools"]),
        (
            {"messages": USER, "toolConfig": {"tools": [{"toolSpec": {"name": "f"}}]}},
            ["inputSchema"],
        ),
        (
            {
                "messages": USER,
                "toolConfig": {
                    "tools": [{"toolSpec": {"name": "f", "inputSchema": {"json": {"type": "object"}}}}],
                    "toolChoice": {"tool": {"name": "g"}},
                },
            },
            ["'g'"],
        ),
    ],
)
def test_converse_bad_bodies(fast_server: LiveServer, operation: str, body: dict[str, Any], words: list[str]) -> None:
    assert_aws_error(_post(fast_server, MODEL, operation, body), 400, "ValidationException", *words)


def test_converse_too_long_input(fast_server: LiveServer) -> None:
    body = {"messages": [{"role": "user", "content": [{"text": "word " * 9000}]}]}
    response = _post(fast_server, "meta.llama3-8b-instruct-v1:0", "converse", body)
    assert_aws_error(response, 400, "ValidationException", "Input is too long")


@pytest.mark.parametrize("operation", ["invoke", "invoke-with-response-stream"])
@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"max_tokens": 5, "messages": USER[:0]}, ["anthropic_version"]),
        ({"anthropic_version": "v9", "max_tokens": 5, "messages": []}, ["anthropic_version"]),
        ({**CLAUDE_OK, "model": "claude"}, ["extraneous key [model]"]),
        ({**CLAUDE_OK, "stream": True}, ["extraneous key [stream]"]),
        ({"anthropic_version": "bedrock-2023-05-31", "messages": [{"role": "user", "content": "hi"}]}, ["max_tokens"]),
    ],
)
def test_invoke_claude_bad_bodies(
    fast_server: LiveServer, operation: str, body: dict[str, Any], words: list[str]
) -> None:
    assert_aws_error(_post(fast_server, MODEL, operation, body), 400, "ValidationException", *words)


@pytest.mark.parametrize("operation", ["invoke", "invoke-with-response-stream"])
@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({}, ["prompt"]),
        ({"prompt": ""}, ["prompt"]),
        ({"prompt": "hi", "max_gen_len": 0}, ["max_gen_len"]),
        ({"prompt": "hi", "max_gen_len": 100_000}, ["max_gen_len"]),
        ({"prompt": "hi", "top_p": 2}, ["top_p"]),
    ],
)
def test_invoke_llama_bad_bodies(
    fast_server: LiveServer, operation: str, body: dict[str, Any], words: list[str]
) -> None:
    assert_aws_error(_post(fast_server, LLAMA, operation, body), 400, "ValidationException", *words)


def test_invoke_of_an_unread_family_points_to_converse(fast_server: LiveServer) -> None:
    response = _post(fast_server, "amazon.nova-lite-v1:0", "invoke", {"inputText": "hi"})
    assert_aws_error(response, 400, "ValidationException", "use Converse")


def test_bad_seed_header_is_a_validation_exception(fast_server: LiveServer) -> None:
    response = httpx.post(
        f"{fast_server.url}/model/{MODEL}/converse",
        json={"messages": USER},
        headers={"x-simulator-seed": "abc"},
        timeout=30,
    )
    assert_aws_error(response, 400, "ValidationException", "x-simulator-seed")


def test_boto3_raises_the_modelled_exception(bedrock: Any) -> None:
    with pytest.raises(bedrock.exceptions.ValidationException) as info:
        bedrock.converse(modelId=MODEL, messages=[{"role": "assistant", "content": [{"text": "hi"}]}])
    assert "start with a user message" in info.value.response["Error"]["Message"]
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        bedrock.invoke_model(modelId=MODEL, body=b'{"max_tokens": 5}')
    assert caught.value.response["Error"]["Code"] == "ValidationException"


def test_a_limit_raising_beta_in_the_body_is_honoured(fast_server: LiveServer) -> None:
    # Bedrock carries Anthropic's betas in the body (``anthropic_beta``), not in a header.
    model = "anthropic.claude-sonnet-4-5-20250929-v1:0"
    long_turn = [{"role": "user", "content": " hello" * 210_000}]
    body: dict[str, Any] = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 5, "messages": long_turn}
    assert_aws_error(_post(fast_server, model, "invoke", body), 400, "ValidationException", "prompt is too long")
    raised = _post(fast_server, model, "invoke", {**body, "anthropic_beta": ["context-1m-2025-08-07"]})
    assert raised.status_code == 200, raised.text
