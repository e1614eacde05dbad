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


WEATHER_TOOLS: dict[str, Any] = {
    "tools": [{"toolSpec": {"name": "get_weather", "inputSchema": {"json": {"type": "object"}}}}]
}


def _use(*ids: str) -> dict[str, Any]:
    """An assistant turn calling ``get_weather`` once per id."""
    return {
        "role": "assistant",
        "content": [{"toolUse": {"toolUseId": i, "name": "get_weather", "input": {}}} for i in ids],
    }


def _results(*ids: str, text: str | None = None) -> dict[str, Any]:
    """A user turn answering each id (and saying ``text`` after the results, if given)."""
    content: list[dict[str, Any]] = [{"toolResult": {"toolUseId": i, "content": [{"text": "21 C"}]}} for i in ids]
    return {"role": "user", "content": content + ([{"text": text}] if text else [])}


@pytest.mark.parametrize("operation", ["converse", "converse-stream"])
@pytest.mark.parametrize(
    ("messages", "words"),
    [
        # A call the next user turn does not answer (Bedrock names the ids it expected).
        ([*USER, _use("t1"), {"role": "user", "content": [{"text": "hi"}]}], ["Expected toolResult", "t1"]),
        ([*USER, _use("t1", "t2"), _results("t1")], ["messages.2.content", "following Ids: t2"]),
        ([*USER, _use("t1"), _results("t9")], ["following Ids: t1"]),
        # More results than the previous turn's calls, or results with no call before them.
        ([*USER, _use("t1"), _results("t1", "t2")], ["exceeds the number of toolUse blocks"]),
        ([_results("t1")], ["messages.0.content", "exceeds"]),
        ([*USER, {"role": "assistant", "content": [{"text": "ok"}]}, _results("t1")], ["exceeds"]),
    ],
)
def test_converse_tool_results_must_answer_the_previous_calls(
    fast_server: LiveServer, operation: str, messages: list[dict[str, Any]], words: list[str]
) -> None:
    body = {"messages": messages, "toolConfig": WEATHER_TOOLS}
    assert_aws_error(_post(fast_server, MODEL, operation, body), 400, "ValidationException", *words)


def test_converse_answered_calls_pass_and_tool_blocks_need_tool_config(fast_server: LiveServer) -> None:
    answered = [*USER, _use("t1", "t2"), _results("t2", "t1", text="and tomorrow?")]
    response = _post(fast_server, MODEL, "converse", {"messages": answered, "toolConfig": WEATHER_TOOLS})
    assert response.status_code == 200, response.text
    without = _post(fast_server, MODEL, "converse", {"messages": answered})
    assert_aws_error(without, 400, "ValidationException", "toolConfig field must be defined")


@pytest.mark.parametrize(
    ("block", "words"),
    [
        (
            {"toolResult": {"toolUseId": "t1", "content": [{"text": "x"}], "status": "weird"}},
            ["Value 'weird'", "[success, error]"],
        ),
        ({"toolResult": {"toolUseId": "a b!", "content": []}}, ["Value 'a b!'", "toolUseId", "pattern"]),
        ({"toolResult": {"toolUseId": "t" * 65, "content": []}}, ["between 1 and 64"]),
        ({"image": {"format": "bmp", "source": {"bytes": "AA=="}}}, ["image.format", "[png, jpeg, gif, webp]"]),
        ({"document": {"format": "exe", "name": "d", "source": {"bytes": "AA=="}}}, ["document.format", "pdf"]),
        ({"cachePoint": {"type": "bogus"}}, ["Value 'bogus'", "cachePoint.type", "[default]"]),
        ({"cachePoint": {}}, ["cachePoint.type"]),
    ],
)
def test_converse_modelled_enums_and_patterns(fast_server: LiveServer, block: dict[str, Any], words: list[str]) -> None:
    messages = [{"role": "user", "content": [{"text": "look"}, block]}]
    body = {"messages": messages, "toolConfig": WEATHER_TOOLS}
    assert_aws_error(_post(fast_server, MODEL, "converse", body), 400, "ValidationException", *words)


def test_converse_tool_names_follow_the_pattern(fast_server: LiveServer) -> None:
    tools = {"tools": [{"toolSpec": {"name": "bad name!", "inputSchema": {"json": {"type": "object"}}}}]}
    response = _post(fast_server, MODEL, "converse", {"messages": USER, "toolConfig": tools})
    assert_aws_error(response, 400, "ValidationException", "toolSpec.name", "[a-zA-Z0-9_-]+")
    calls = [*USER, {"role": "assistant", "content": [{"toolUse": {"toolUseId": "t1", "name": "a b", "input": {}}}]}]
    response = _post(fast_server, MODEL, "converse", {"messages": calls, "toolConfig": WEATHER_TOOLS})
    assert_aws_error(response, 400, "ValidationException", "toolUse.name")


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
