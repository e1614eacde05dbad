"""Bad requests get Anthropic-shaped 4xx errors, exactly; never a 500.

Malformed bodies go through raw httpx (the SDK cannot send them). Each error response is
checked whole: status, ``{"type": "error", "error": {"type", "message"}, "request_id"}`` and
the ``request-id`` header that matches it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.live import LiveServer, live_server
from tests.providers.anthropic.helpers import ANTHROPIC_HEADERS, BODY, MODEL, USER, assert_anthropic_error

INVALID = "invalid_request_error"


def messages(http: httpx.Client, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return http.post("/v1/messages", json=body, headers=headers)


# -- Bodies that are not a JSON object -------------------------------------------------------


@pytest.mark.parametrize("raw", [b"{", b'{"model": "x",}', b"not json", b"\xff\xfe\x00", b""])
def test_invalid_json(http: httpx.Client, raw: bytes) -> None:
    resp = http.post("/v1/messages", content=raw, headers={"content-type": "application/json"})
    assert_anthropic_error(resp, 400, INVALID)
    assert resp.headers["x-should-retry"] == "false"


@pytest.mark.parametrize("body", [[BODY], "a string", 42, None, True])
def test_body_not_an_object(http: httpx.Client, body: Any) -> None:
    resp = http.post("/v1/messages", content=json.dumps(body), headers={"content-type": "application/json"})
    error = assert_anthropic_error(resp, 400, INVALID)
    assert "object" in error["message"]


# -- Required fields -------------------------------------------------------------------------


@pytest.mark.parametrize("model", [None, ""])
def test_missing_or_empty_model(http: httpx.Client, model: str | None) -> None:
    body = {k: v for k, v in BODY.items() if k != "model"}
    if model is not None:
        body["model"] = model
    error = assert_anthropic_error(messages(http, body), 400, INVALID)
    assert "model" in error["message"]


def test_model_of_wrong_type(http: httpx.Client) -> None:
    error = assert_anthropic_error(messages(http, {**BODY, "model": 4}), 400, INVALID)
    assert "model" in error["message"]


def test_missing_max_tokens(http: httpx.Client) -> None:
    error = assert_anthropic_error(messages(http, {"model": MODEL, "messages": USER}), 400, INVALID)
    assert "max_tokens" in error["message"]


@pytest.mark.parametrize("value", [None, 0, -1, 1.5, "5", True, False, [5], {"n": 5}])
def test_bad_max_tokens(http: httpx.Client, value: Any) -> None:
    error = assert_anthropic_error(messages(http, {**BODY, "max_tokens": value}), 400, INVALID)
    assert "max_tokens" in error["message"]


def test_max_tokens_above_model_limit(http: httpx.Client) -> None:
    error = assert_anthropic_error(messages(http, {**BODY, "max_tokens": 64_001}), 400, INVALID)
    assert error["message"].startswith("max_tokens: 64001 > 64000")


def test_max_tokens_at_model_limit_is_fine(http: httpx.Client) -> None:
    # 64000 is the output limit; the prompt is tiny, so the 200k window is not exceeded.
    resp = messages(http, {**BODY, "max_tokens": 64_000, "stream": True})
    assert resp.status_code == 200


@pytest.mark.parametrize("value", [None, "Hello", {"role": "user", "content": "Hello"}, 5])
def test_messages_missing_or_not_a_list(http: httpx.Client, value: Any) -> None:
    body = {k: v for k, v in BODY.items() if k != "messages"}
    if value is not None:
        body["messages"] = value
    error = assert_anthropic_error(messages(http, body), 400, INVALID)
    assert "messages" in error["message"]


def test_empty_messages(http: httpx.Client) -> None:
    error = assert_anthropic_error(messages(http, {**BODY, "messages": []}), 400, INVALID)
    assert error["message"] == "messages: at least one message is required"


# -- Malformed messages ----------------------------------------------------------------------


@pytest.mark.parametrize("role", ["system", "tool", "wizard", 3])
def test_bad_role(http: httpx.Client, role: Any) -> None:
    body = {**BODY, "messages": [*USER, {"role": role, "content": "x"}]}
    error = assert_anthropic_error(messages(http, body), 400, INVALID)
    assert error["message"].startswith("messages.1.role: Input should be 'user' or 'assistant'")
    if role == "system":
        assert "top-level `system` parameter" in error["message"]


def test_message_missing_role(http: httpx.Client) -> None:
    error = assert_anthropic_error(messages(http, {**BODY, "messages": [{"content": "x"}]}), 400, INVALID)
    assert "messages.0.role" in error["message"]


def test_message_not_an_object(http: httpx.Client) -> None:
    error = assert_anthropic_error(messages(http, {**BODY, "messages": ["Hello"]}), 400, INVALID)
    assert "messages.0" in error["message"]


def test_message_missing_content(http: httpx.Client) -> None:
    error = assert_anthropic_error(messages(http, {**BODY, "messages": [{"role": "user"}]}), 400, INVALID)
    assert "messages.0.content" in error["message"]


@pytest.mark.parametrize("content", ["", []])
def test_empty_user_content(http: httpx.Client, content: Any) -> None:
    resp = messages(http, {**BODY, "messages": [{"role": "user", "content": content}]})
    error = assert_anthropic_error(resp, 400, INVALID)
    assert error["message"] == "messages.0: user messages must have non-empty content"


def test_empty_assistant_turn_in_the_middle(http: httpx.Client) -> None:
    turns = [*USER, {"role": "assistant", "content": ""}, *USER]
    error = assert_anthropic_error(messages(http, {**BODY, "messages": turns}), 400, INVALID)
    assert "messages.1" in error["message"]


def test_empty_final_assistant_turn_is_a_prefill(http: httpx.Client) -> None:
    resp = messages(http, {**BODY, "messages": [*USER, {"role": "assistant", "content": ""}]})
    assert resp.status_code == 200, resp.text


@pytest.mark.parametrize("content", [42, {"type": "text", "text": "x"}, True, [42], ["text"]])
def test_content_of_wrong_type(http: httpx.Client, content: Any) -> None:
    resp = messages(http, {**BODY, "messages": [{"role": "user", "content": content}]})
    error = assert_anthropic_error(resp, 400, INVALID)
    assert "messages.0.content" in error["message"]


def test_unknown_content_block_type(http: httpx.Client) -> None:
    content = [{"type": "text", "text": "hi"}, {"type": "video", "url": "x"}]
    resp = messages(http, {**BODY, "messages": [{"role": "user", "content": content}]})
    error = assert_anthropic_error(resp, 400, INVALID)
    assert error["message"].startswith("messages.0.content.1.type: Input tag 'video'")
    assert "'text'" in error["message"] and "'image'" in error["message"]


@pytest.mark.parametrize("block", [{"text": "no type"}, {"type": 5}, {"type": "text"}, {"type": "text", "text": 5}])
def test_malformed_content_block(http: httpx.Client, block: dict[str, Any]) -> None:
    resp = messages(http, {**BODY, "messages": [{"role": "user", "content": [block]}]})
    error = assert_anthropic_error(resp, 400, INVALID)
    assert "messages.0.content.0" in error["message"]


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({**BODY, "messages": [{"role": "user", "content": [{"type": "text", "text": ""}]}]}, "messages.0.content.0"),
        ({**BODY, "system": [{"type": "text", "text": ""}]}, "system.0"),
    ],
)
def test_empty_text_block(http: httpx.Client, body: dict[str, Any], where: str) -> None:
    error = assert_anthropic_error(messages(http, body), 400, INVALID)
    assert error["message"] == f"{where}.text: text content blocks must be non-empty"


# -- Sampling parameters and stop sequences --------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("temperature", 1.5),
        ("temperature", -0.1),
        ("temperature", "0.5"),
        ("temperature", True),
        ("top_p", 1.01),
        ("top_k", -1),
        ("top_k", 1.5),
        ("stream", "true"),
        ("metadata", "user-1"),
        ("metadata", {"user_id": 5}),
    ],
)
def test_bad_parameter(http: httpx.Client, field: str, value: Any) -> None:
    error = assert_anthropic_error(messages(http, {**BODY, field: value}), 400, INVALID)
    assert field in error["message"]


@pytest.mark.parametrize(("field", "value"), [("temperature", 0), ("temperature", 1), ("top_p", 0.5), ("top_k", 0)])
def test_parameter_at_its_bounds_is_fine(http: httpx.Client, field: str, value: float) -> None:
    assert messages(http, {**BODY, field: value}).status_code == 200


@pytest.mark.parametrize("value", ["stop", 5, {"a": "b"}, [5], ["ok", None]])
def test_stop_sequences_of_wrong_type(http: httpx.Client, value: Any) -> None:
    error = assert_anthropic_error(messages(http, {**BODY, "stop_sequences": value}), 400, INVALID)
    assert "stop_sequences" in error["message"]


@pytest.mark.parametrize("value", [[" "], ["ok", "\n\t"], [""]])
def test_stop_sequences_whitespace_only(http: httpx.Client, value: list[str]) -> None:
    error = assert_anthropic_error(messages(http, {**BODY, "stop_sequences": value}), 400, INVALID)
    assert "non-whitespace" in error["message"]


@pytest.mark.parametrize(
    "system",
    [42, True, {"type": "text", "text": "x"}, [{"type": "image", "source": {}}], ["be terse"], [{"type": "text"}]],
)
def test_system_of_wrong_type(http: httpx.Client, system: Any) -> None:
    error = assert_anthropic_error(messages(http, {**BODY, "system": system}), 400, INVALID)
    assert "system" in error["message"]


@pytest.mark.parametrize("system", ["Be terse.", [{"type": "text", "text": "Be terse."}], "", []])
def test_system_forms_accepted(http: httpx.Client, system: Any) -> None:
    assert messages(http, {**BODY, "system": system}).status_code == 200


# -- Models ----------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
def test_unknown_model(http: httpx.Client, stream: bool) -> None:
    resp = messages(http, {**BODY, "model": "claude-nonexistent-9", "stream": stream})
    error = assert_anthropic_error(resp, 404, "not_found_error")
    assert error["message"] == "model: claude-nonexistent-9"


@pytest.mark.parametrize("path", ["/v1/messages", "/v1/messages/count_tokens"])
def test_embedding_model(http: httpx.Client, path: str) -> None:
    body = {**BODY, "model": "text-embedding-3-small"}
    if path.endswith("count_tokens"):
        del body["max_tokens"]  # not a count field (below)
    assert_anthropic_error(http.post(path, json=body), 404, "not_found_error")


@pytest.mark.parametrize("model", ["gpt-4o", "text-embedding-3-small", "nope"])
def test_retrieve_non_claude_model(http: httpx.Client, model: str) -> None:
    assert_anthropic_error(http.get(f"/v1/models/{model}"), 404, "not_found_error")


# -- count_tokens ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"model": MODEL}, "messages"),
        ({"messages": USER}, "model"),
        ({"model": MODEL, "messages": []}, "messages"),
        ({"model": MODEL, "messages": USER, "system": 5}, "system"),
        ({"model": "claude-nonexistent-9", "messages": USER}, "model"),
    ],
)
def test_count_tokens_bad_input(http: httpx.Client, body: dict[str, Any], field: str) -> None:
    resp = http.post("/v1/messages/count_tokens", json=body)
    status, kind = (404, "not_found_error") if body.get("model") == "claude-nonexistent-9" else (400, INVALID)
    error = assert_anthropic_error(resp, status, kind)
    assert field in error["message"]


@pytest.mark.parametrize(("field", "value"), [("max_tokens", 10), ("stream", True), ("temperature", 0.5)])
def test_count_tokens_refuses_the_messages_only_fields(http: httpx.Client, field: str, value: Any) -> None:
    # A proxy that counts by resending its Messages body gets the API's refusal.
    resp = http.post("/v1/messages/count_tokens", json={"model": MODEL, "messages": USER, field: value})
    error = assert_anthropic_error(resp, 400, INVALID)
    assert error["message"] == f"{field}: Extra inputs are not permitted"


def test_count_tokens_invalid_json(http: httpx.Client) -> None:
    resp = http.post("/v1/messages/count_tokens", content=b"{", headers={"content-type": "application/json"})
    assert_anthropic_error(resp, 400, INVALID)


# -- Headers, routes and methods -------------------------------------------------------------


@pytest.mark.parametrize("seed", ["seven", "1.5", ""])
def test_seed_header_not_an_integer(http: httpx.Client, seed: str) -> None:
    resp = messages(http, BODY, headers={"x-simulator-seed": seed})
    error = assert_anthropic_error(resp, 400, INVALID)
    assert "x-simulator-seed" in error["message"]


@pytest.mark.parametrize(("method", "path"), [("POST", "/v1/nothing-here"), ("GET", "/v1/messages/batches/x")])
def test_unknown_route_with_version_header(http: httpx.Client, method: str, path: str) -> None:
    assert_anthropic_error(http.request(method, path, json=BODY), 404, "not_found_error")


def test_unknown_route_through_sdk(fast_server: LiveServer) -> None:
    with (
        anthropic.Anthropic(base_url=fast_server.url, api_key="k", max_retries=0) as client,
        pytest.raises(anthropic.NotFoundError) as info,
    ):
        client.post("/v1/does-not-exist", cast_to=object, body={})
    body = info.value.body
    assert isinstance(body, dict) and body["type"] == "error"
    assert body["error"]["type"] == "not_found_error"


def test_wrong_method_with_version_header(http: httpx.Client) -> None:
    error = assert_anthropic_error(http.get("/v1/messages"), 405, INVALID)
    assert "GET" in error["message"]


# -- Context window, on a model with a tiny one ----------------------------------------------


@pytest.fixture(scope="module")
def tiny_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A simulator with an extra Claude model of a 64-token window and 32 output tokens."""
    config: Path = tmp_path_factory.mktemp("anthropic") / "config.yaml"
    config.write_text(
        "models:\n"
        "  add:\n"
        "    - id: claude-tiny-test\n"
        "      provider: anthropic\n"
        "      context_window: 64\n"
        "      max_output_tokens: 32\n"
    )
    with live_server("--no-latency", "--config", str(config)) as live:
        yield live


def _tiny(tiny_server: LiveServer, content: str, max_tokens: int) -> httpx.Response:
    body = {"model": "claude-tiny-test", "max_tokens": max_tokens, "messages": [{"role": "user", "content": content}]}
    return httpx.post(tiny_server.url + "/v1/messages", json=body, headers=ANTHROPIC_HEADERS, timeout=10)


def test_tiny_model_within_limits(tiny_server: LiveServer) -> None:
    resp = _tiny(tiny_server, "Hello", 32)
    assert resp.status_code == 200, resp.text
    assert resp.json()["model"] == "claude-tiny-test"


def test_prompt_over_context_window(tiny_server: LiveServer) -> None:
    error = assert_anthropic_error(_tiny(tiny_server, "hello " * 100, 1), 400, INVALID)
    assert error["message"].startswith("prompt is too long:")
    assert "64 maximum" in error["message"]


def test_prompt_plus_max_tokens_over_context_window(tiny_server: LiveServer) -> None:
    # About 45 prompt tokens fit the window alone, but not with 32 more for the reply.
    error = assert_anthropic_error(_tiny(tiny_server, "hello " * 38, 32), 400, INVALID)
    assert "max_tokens" in error["message"]
    assert "> 64" in error["message"]


def test_max_tokens_over_tiny_output_limit(tiny_server: LiveServer) -> None:
    error = assert_anthropic_error(_tiny(tiny_server, "Hello", 33), 400, INVALID)
    assert error["message"].startswith("max_tokens: 33 > 32")


def test_context_errors_through_sdk(tiny_server: LiveServer) -> None:
    with anthropic.Anthropic(base_url=tiny_server.url, api_key="k", max_retries=0) as client:
        with pytest.raises(anthropic.BadRequestError) as info:
            client.messages.create(
                model="claude-tiny-test", max_tokens=1, messages=[{"role": "user", "content": "hello " * 100}]
            )
        assert "prompt is too long" in info.value.message
        listed = [m.id for m in client.models.list(limit=1000)]
        assert "claude-tiny-test" in listed


# -- Any value in any field: 200 or an Anthropic-shaped 4xx, never a 5xx ---------------------

JSON_VALUES: st.SearchStrategy[Any] = st.sampled_from(
    [
        None,
        True,
        False,
        0,
        -1,
        1,
        3,
        0.5,
        2.5,
        -0.5,
        10**6,
        10**30,
        "",
        " ",
        "x",
        MODEL,
        "user",
        [],
        [1, 2],
        ["x"],
        [" "],
        [[]],
        {},
        {"a": 1},
        [{}],
        [{"role": "user", "content": "hi"}],
        [{"role": "assistant", "content": []}],
        [{"role": "user", "content": [{"type": "text", "text": "hi"}, {"type": "image", "source": {}}]}],
        [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": [{"type": "x"}]}]}],
        [{"type": "text", "text": "sys"}],
        {"type": "enabled", "budget_tokens": 1024},
    ]
)
FIELDS = sorted(
    {
        "model",
        "max_tokens",
        "messages",
        "system",
        "temperature",
        "top_p",
        "top_k",
        "stop_sequences",
        "stream",
        "metadata",
        "tools",
        "tool_choice",
        "thinking",
    }
)
PATHS = ["/v1/messages", "/v1/messages/count_tokens"]


def _check_any_response(resp: httpx.Response, sent: Any) -> None:
    assert resp.status_code < 500, (sent, resp.text)
    if resp.status_code != 200:
        assert_anthropic_error(resp, resp.status_code, "not_found_error" if resp.status_code == 404 else INVALID)


@pytest.fixture(scope="module")
def pooled(fast_server: LiveServer) -> Iterator[httpx.Client]:
    """One keep-alive connection for the property tests (hypothesis forbids per-test fixtures)."""
    with httpx.Client(base_url=fast_server.url, headers=ANTHROPIC_HEADERS, timeout=30) as client:
        yield client


@settings(max_examples=150, deadline=None, database=None)
@given(
    path=st.sampled_from(PATHS),
    changes=st.dictionaries(st.sampled_from(FIELDS), JSON_VALUES, min_size=1, max_size=3),
)
def test_any_field_value_never_gives_5xx(pooled: httpx.Client, path: str, changes: dict[str, Any]) -> None:
    body = {**BODY, **changes}
    _check_any_response(pooled.post(path, json=body), body)


JSON: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=60, deadline=None, database=None)
@given(body=JSON | st.dictionaries(st.sampled_from(FIELDS), JSON, max_size=5))
def test_random_json_body_never_gives_5xx(pooled: httpx.Client, body: Any) -> None:
    resp = pooled.post("/v1/messages", content=json.dumps(body), headers={"content-type": "application/json"})
    _check_any_response(resp, body)


# -- Values that are valid JSON but pathological ---------------------------------------------


def _nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize("path", ["/v1/messages", "/v1/messages/count_tokens"])
def test_deeply_nested_tool_input_is_a_400_not_a_crash(http: httpx.Client, path: str) -> None:
    tool_use = {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"a": _nested(300)}}
    body = {**BODY, "messages": [*USER, {"role": "assistant", "content": [tool_use]}, *USER]}
    if path.endswith("count_tokens"):
        del body["max_tokens"]  # not a count field
    error = assert_anthropic_error(http.post(path, json=body), 400, INVALID)
    assert "nested too deeply" in error["message"]


def test_tool_results_nested_in_tool_results_are_refused(http: httpx.Client) -> None:
    inner: dict[str, Any] = {"type": "text", "text": "done"}
    for _ in range(3):
        inner = {"type": "tool_result", "tool_use_id": "toolu_1", "content": [inner]}
    body = {**BODY, "messages": [{"role": "user", "content": [inner]}]}
    error = assert_anthropic_error(messages(http, body), 400, INVALID)
    assert "messages.0.content.0.content.0.type" in error["message"]


def test_tool_result_with_text_and_image_blocks_is_fine(http: httpx.Client) -> None:
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "x"}}
    blocks = [{"type": "text", "text": "72F"}, image]
    result = {"type": "tool_result", "tool_use_id": "toolu_1", "content": blocks}
    # The result answers the turn before it (the API refuses a result without its tool_use).
    use = {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {}}
    turns = [{"role": "user", "content": "Weather?"}, {"role": "assistant", "content": [use]}]
    body = {**BODY, "messages": [*turns, {"role": "user", "content": [result]}]}
    assert messages(http, body).status_code == 200


# -- tool_use and tool_result pair up -------------------------------------------------------


def _uses(*ids: str) -> dict[str, Any]:
    """An assistant turn that called ``weather`` once per id."""
    return {
        "role": "assistant",
        "content": [{"type": "tool_use", "id": i, "name": "weather", "input": {}} for i in ids],
    }


def _results(*ids: str) -> dict[str, Any]:
    """A user turn with a ``tool_result`` per id."""
    return {"role": "user", "content": [{"type": "tool_result", "tool_use_id": i, "content": "21 C"} for i in ids]}


ASK_TURN = {"role": "user", "content": "Weather in Paris and Oslo?"}
WITHOUT_RESULT = "`tool_use` ids were found without `tool_result` blocks immediately after"
UNEXPECTED = "unexpected `tool_use_id` found in `tool_result` blocks"


@pytest.mark.parametrize(
    ("turns", "message"),
    [
        (
            [ASK_TURN, _uses("toolu_a"), {"role": "user", "content": "never mind"}],
            f"messages.1: {WITHOUT_RESULT}: toolu_a.",
        ),
        ([ASK_TURN, _uses("toolu_a", "toolu_b"), _results("toolu_b")], f"messages.1: {WITHOUT_RESULT}: toolu_a."),
        ([_results("toolu_a")], f"messages.0.content.0: {UNEXPECTED}: toolu_a."),
        (
            [
                ASK_TURN,
                _uses("toolu_a"),
                {"role": "user", "content": [{"type": "text", "text": "Here:"}, *_results("toolu_a")["content"]]},
            ],
            f"messages.1: {WITHOUT_RESULT}: toolu_a.",
        ),
        ([ASK_TURN, _uses("toolu_a"), _results("toolu_a", "toolu_x")], f"messages.2.content.1: {UNEXPECTED}: toolu_x."),
        (
            [
                ASK_TURN,
                _uses("toolu_a"),
                _results("toolu_a"),
                {"role": "assistant", "content": "Mild."},
                _results("toolu_a"),
            ],
            f"messages.4.content.0: {UNEXPECTED}: toolu_a.",
        ),
    ],
)
def test_tool_uses_and_tool_results_must_pair_up(http: httpx.Client, turns: list[Any], message: str) -> None:
    # The API's rule: each tool_use is answered in the very next turn, and a tool_result
    # answers a tool_use of the turn just before it.
    error = assert_anthropic_error(messages(http, {**BODY, "messages": turns}), 400, INVALID)
    assert error["message"].startswith(message), error


def test_answered_tool_uses_let_the_conversation_go_on(http: httpx.Client) -> None:
    turns = [
        ASK_TURN,
        _uses("toolu_a", "toolu_b"),
        _results("toolu_b", "toolu_a"),
        {"role": "assistant", "content": "Mild."},
    ]
    assert messages(http, {**BODY, "messages": [*turns, ASK_TURN]}).status_code == 200


@pytest.mark.parametrize(
    ("block", "param"),
    [
        ({"type": "tool_use", "name": "weather", "input": {}}, "messages.1.content.0.id"),
        ({"type": "tool_use", "id": "toolu_a", "name": "weather", "input": "{}"}, "messages.1.content.0.input"),
    ],
)
def test_a_tool_use_needs_its_id_and_an_object_input(http: httpx.Client, block: dict[str, Any], param: str) -> None:
    turns = [ASK_TURN, {"role": "assistant", "content": [block]}, _results("toolu_a")]
    error = assert_anthropic_error(messages(http, {**BODY, "messages": turns}), 400, INVALID)
    assert param in error["message"], error


def test_a_tool_result_needs_its_tool_use_id(http: httpx.Client) -> None:
    turns = [ASK_TURN, _uses("toolu_a"), {"role": "user", "content": [{"type": "tool_result", "content": "21 C"}]}]
    error = assert_anthropic_error(messages(http, {**BODY, "messages": turns}), 400, INVALID)
    assert "messages.2.content.0.tool_use_id" in error["message"], error


# -- image, document and thinking blocks carry what the API requires ---------------------------

PNG = {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}


@pytest.mark.parametrize(
    ("block", "fragment"),
    [
        ({"type": "image"}, "'messages.0.content.1.source'"),
        ({"type": "image", "source": "x"}, "messages.0.content.1.source"),
        (
            {"type": "image", "source": {"type": "svg", "data": "x"}},
            "messages.0.content.1.source.type: Input tag 'svg'",
        ),
        ({"type": "image", "source": {"type": "base64", "data": "x"}}, "'messages.0.content.1.source.media_type'"),
        (
            {"type": "image", "source": {"type": "base64", "media_type": "image/bmp", "data": "x"}},
            "messages.0.content.1.source.media_type: Input should be 'image/jpeg', 'image/png', 'image/gif' or "
            "'image/webp'",
        ),
        (
            {"type": "image", "source": {"type": "base64", "media_type": "image/png"}},
            "'messages.0.content.1.source.data'",
        ),
        ({"type": "image", "source": {"type": "url"}}, "'messages.0.content.1.source.url'"),
        ({"type": "document"}, "'messages.0.content.1.source'"),
        (
            {"type": "document", "source": {"type": "base64", "media_type": "image/png", "data": "x"}},
            "Input should be 'application/pdf'",
        ),
        ({"type": "document", "source": {"type": "file"}}, "'messages.0.content.1.source.file_id'"),
    ],
)
def test_media_blocks_carry_what_the_api_requires(http: httpx.Client, block: dict[str, Any], fragment: str) -> None:
    turn = {"role": "user", "content": [{"type": "text", "text": "Look:"}, block]}
    error = assert_anthropic_error(messages(http, {**BODY, "messages": [turn]}), 400, INVALID)
    assert fragment in error["message"], error


def test_well_formed_media_blocks_are_charged(http: httpx.Client) -> None:
    blocks = [
        {"type": "text", "text": "Look:"},
        {"type": "image", "source": PNG},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}},
        {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "A short note."}},
        {"type": "document", "source": {"type": "file", "file_id": "file_011"}},
    ]
    body = {**BODY, "messages": [{"role": "user", "content": blocks}]}
    assert messages(http, body).status_code == 200


@pytest.mark.parametrize(
    ("block", "fragment"),
    [
        ({"type": "thinking", "thinking": "Hmm."}, "'messages.1.content.0.signature'"),
        ({"type": "redacted_thinking"}, "'messages.1.content.0.data'"),
    ],
)
def test_earlier_thinking_blocks_carry_what_the_api_requires(
    http: httpx.Client, block: dict[str, Any], fragment: str
) -> None:
    turns = [ASK_TURN, {"role": "assistant", "content": [block, {"type": "text", "text": "Mild."}]}, ASK_TURN]
    error = assert_anthropic_error(messages(http, {**BODY, "messages": turns}), 400, INVALID)
    assert fragment in error["message"], error


def test_metadata_has_only_user_id(http: httpx.Client) -> None:
    error = assert_anthropic_error(messages(http, {**BODY, "metadata": {"user_id": "u1", "team": "x"}}), 400, INVALID)
    assert error["message"] == "metadata.team: Extra inputs are not permitted"
    assert messages(http, {**BODY, "metadata": {"user_id": "u1"}}).status_code == 200


def test_text_may_follow_the_tool_results(http: httpx.Client) -> None:
    answer = {"role": "user", "content": [*_results("toolu_a")["content"], {"type": "text", "text": "Anything else?"}]}
    assert messages(http, {**BODY, "messages": [ASK_TURN, _uses("toolu_a"), answer]}).status_code == 200
