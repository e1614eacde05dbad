"""Bad requests get OpenAI-shaped 4xx errors naming the field; never a 500.

Malformed bodies go through raw httpx (the SDK cannot send them); a few cases also go
through the SDK to check it maps the response to the right exception class.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openai.types.chat import ChatCompletionMessageParam

from tests.live import LiveServer, live_server
from tests.providers.openai.helpers import assert_openai_error, split_sse, sse_json

USER: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Hello"}]
CHAT: dict[str, Any] = {"model": "gpt-4o", "messages": USER, "max_tokens": 3}


@pytest.fixture(scope="module")
def http(server: LiveServer) -> Iterator[httpx.Client]:
    """A plain httpx client on the OpenAI base URL (one per module: a client costs ~30 ms of CPU)."""
    with httpx.Client(base_url=server.openai_base, timeout=30) as c:
        yield c


def chat(http: httpx.Client, body: Any) -> httpx.Response:
    return http.post("/chat/completions", json=body)


# -- Bodies that are not a JSON object -----------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [b"{", b'{"model": "gpt-4o",}', b"not json at all", b"\xff\xfe\x00", b'{"model": "gpt-4o"'],
)
def test_malformed_json(http: httpx.Client, raw: bytes) -> None:
    resp = http.post("/chat/completions", content=raw, headers={"content-type": "application/json"})
    assert_openai_error(resp, 400, param=None, code="invalid_json")


def test_empty_body(http: httpx.Client) -> None:
    resp = http.post("/chat/completions", content=b"", headers={"content-type": "application/json"})
    assert_openai_error(resp, 400, param=None)


@pytest.mark.parametrize("body", [[CHAT], "a string", 42, None, True])
def test_non_object_body(http: httpx.Client, body: Any) -> None:
    resp = http.post("/chat/completions", content=json.dumps(body), headers={"content-type": "application/json"})
    assert_openai_error(resp, 400, param=None, code="invalid_type")


@pytest.mark.parametrize("path", ["/completions", "/embeddings"])
def test_non_object_body_other_endpoints(http: httpx.Client, path: str) -> None:
    assert_openai_error(http.post(path, json=["x"]), 400, param=None)


# -- Fields of the wrong JSON type -----------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("messages", "Hello"),
        ("messages", {"role": "user", "content": "Hello"}),
        ("max_tokens", "10"),
        ("max_tokens", 1.5),
        ("max_completion_tokens", "10"),
        ("n", True),
        ("n", "2"),
        ("temperature", "0.5"),
        ("temperature", True),
        ("top_p", "1"),
        ("stream", "true"),
        ("stream", 1),
        ("stop", 5),
        ("stop", {"seq": "."}),
        ("seed", "7"),
        ("logprobs", "yes"),
        ("stream_options", "include_usage"),
        ("model", 4),
    ],
)
def test_wrong_field_type(http: httpx.Client, field: str, value: Any) -> None:
    resp = chat(http, {**CHAT, field: value})
    error = assert_openai_error(resp, 400, param=field)
    assert field in error["message"]


def test_stop_list_with_non_string(http: httpx.Client) -> None:
    assert_openai_error(chat(http, {**CHAT, "stop": [".", 3]}), 400, param="stop[1]")


def test_stop_list_too_long(http: httpx.Client) -> None:
    assert_openai_error(chat(http, {**CHAT, "stop": ["a", "b", "c", "d", "e"]}), 400, param="stop")


def test_wrong_type_through_sdk(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="gpt-4o", messages=USER, extra_body={"max_tokens": "ten"})
    assert info.value.status_code == 400
    assert info.value.param == "max_tokens"
    assert info.value.type == "invalid_request_error"


# -- Missing or empty required fields ------------------------------------------------------


def test_missing_model(http: httpx.Client) -> None:
    resp = chat(http, {"messages": USER})
    assert_openai_error(resp, 400, param="model", code="missing_required_parameter")


def test_empty_model(http: httpx.Client) -> None:
    assert_openai_error(chat(http, {"model": "", "messages": USER}), 400, param="model")


def test_missing_messages(http: httpx.Client) -> None:
    resp = chat(http, {"model": "gpt-4o"})
    assert_openai_error(resp, 400, param="messages", code="missing_required_parameter")


def test_null_messages(http: httpx.Client) -> None:
    assert_openai_error(chat(http, {"model": "gpt-4o", "messages": None}), 400, param="messages")


def test_empty_messages(http: httpx.Client) -> None:
    assert_openai_error(chat(http, {"model": "gpt-4o", "messages": []}), 400, param="messages")


def test_empty_messages_through_sdk(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="gpt-4o", messages=[])
    assert info.value.param == "messages"


def test_missing_prompt(http: httpx.Client) -> None:
    resp = http.post("/completions", json={"model": "gpt-4o"})
    assert_openai_error(resp, 400, param="prompt", code="missing_required_parameter")


# -- Malformed messages ----------------------------------------------------------------------


def test_message_not_an_object(http: httpx.Client) -> None:
    assert_openai_error(chat(http, {**CHAT, "messages": ["Hello"]}), 400, param="messages[0]")


def test_message_without_role(http: httpx.Client) -> None:
    resp = chat(http, {**CHAT, "messages": [{"content": "Hello"}]})
    assert_openai_error(resp, 400, param="messages[0].role")


def test_message_with_unknown_role(http: httpx.Client) -> None:
    messages = [{"role": "user", "content": "a"}, {"role": "wizard", "content": "b"}]
    resp = chat(http, {**CHAT, "messages": messages})
    error = assert_openai_error(resp, 400, param="messages[1].role")
    assert "wizard" in error["message"]


@pytest.mark.parametrize("content", [42, {"text": "hi"}, True, [42], [{"type": "video", "url": "x"}]])
def test_message_content_of_wrong_type(http: httpx.Client, content: Any) -> None:
    resp = chat(http, {**CHAT, "messages": [{"role": "user", "content": content}]})
    error = assert_openai_error(resp, 400)
    assert error["param"].startswith("messages[0].content"), error


def test_user_message_without_content(http: httpx.Client) -> None:
    resp = chat(http, {**CHAT, "messages": [{"role": "user"}]})
    assert_openai_error(resp, 400, param="messages[0].content")


def test_tool_message_without_tool_call_id(http: httpx.Client) -> None:
    resp = chat(http, {**CHAT, "messages": [{"role": "tool", "content": "42"}]})
    assert_openai_error(resp, 400, param="messages[0].tool_call_id")


# -- Unknown and unsuitable models -----------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/chat/completions", {"model": "gpt-7-ultra", "messages": USER}),
        ("/completions", {"model": "gpt-7-ultra", "prompt": "x"}),
        ("/embeddings", {"model": "gpt-7-ultra", "input": "x"}),
    ],
)
def test_unknown_model(http: httpx.Client, path: str, body: dict[str, Any]) -> None:
    error = assert_openai_error(http.post(path, json=body), 404, param="model", code="model_not_found")
    assert "gpt-7-ultra" in error["message"]


def test_unknown_model_through_sdk(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        client.completions.create(model="gpt-7-ultra", prompt="x")
    assert info.value.code == "model_not_found"


def test_unknown_model_on_stream_is_plain_http_error(http: httpx.Client) -> None:
    with http.stream("POST", "/chat/completions", json={**CHAT, "model": "gpt-7-ultra", "stream": True}) as resp:
        resp.read()
    assert_openai_error(resp, 404, param="model", code="model_not_found")


def test_chat_with_embedding_model(http: httpx.Client, client: openai.OpenAI) -> None:
    resp = chat(http, {**CHAT, "model": "text-embedding-3-small"})
    assert_openai_error(resp, 404, param="model")
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="text-embedding-3-small", messages=USER)


def test_embeddings_with_chat_model(http: httpx.Client, client: openai.OpenAI) -> None:
    resp = http.post("/embeddings", json={"model": "gpt-4o", "input": "x"})
    assert_openai_error(resp, 400, param="model")
    with pytest.raises(openai.BadRequestError):
        client.embeddings.create(model="gpt-4o", input="x", encoding_format="float")


# -- Limits ----------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["max_tokens", "max_completion_tokens"])
@pytest.mark.parametrize("value", [0, -1, -1000])
def test_max_tokens_below_one(http: httpx.Client, field: str, value: int) -> None:
    body = {"model": "gpt-4o", "messages": USER, field: value}
    assert_openai_error(chat(http, body), 400, param=field, code="integer_below_min_value")


@pytest.mark.parametrize("field", ["max_tokens", "max_completion_tokens"])
def test_max_tokens_above_model_limit(http: httpx.Client, field: str) -> None:
    body = {"model": "gpt-4", "messages": USER, field: 4097}
    error = assert_openai_error(chat(http, body), 400, param=field)
    assert "4096" in error["message"]


def test_max_tokens_at_model_limit_is_fine(http: httpx.Client) -> None:
    # 4096 is the limit for gpt-4; the prompt is tiny, so the context window is not exceeded.
    resp = chat(http, {"model": "gpt-4", "messages": USER, "max_tokens": 4096})
    assert resp.status_code == 200


def test_legacy_max_tokens_limits(http: httpx.Client) -> None:
    base = {"model": "gpt-3.5-turbo-instruct", "prompt": "x"}
    assert_openai_error(http.post("/completions", json={**base, "max_tokens": 0}), 400, param="max_tokens")
    assert_openai_error(http.post("/completions", json={**base, "max_tokens": 5000}), 400, param="max_tokens")


def test_prompt_over_context_window(http: httpx.Client, client: openai.OpenAI) -> None:
    long_text = "hello " * 9000  # about 9000 tokens; gpt-4's window is 8192
    body = {"model": "gpt-4", "messages": [{"role": "user", "content": long_text}]}
    error = assert_openai_error(chat(http, body), 400, param="messages", code="context_length_exceeded")
    assert "8192" in error["message"]
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="gpt-4", messages=[{"role": "user", "content": long_text}])
    assert info.value.code == "context_length_exceeded"


def test_prompt_plus_max_tokens_over_context_window(http: httpx.Client) -> None:
    body = {"model": "gpt-4", "messages": [{"role": "user", "content": "hello " * 6000}], "max_tokens": 4000}
    assert_openai_error(chat(http, body), 400, param="messages", code="context_length_exceeded")


def test_legacy_prompt_over_context_window(http: httpx.Client) -> None:
    resp = http.post("/completions", json={"model": "gpt-3.5-turbo-instruct", "prompt": "hello " * 9000})
    assert_openai_error(resp, 400, param="prompt", code="context_length_exceeded")
    resp = http.post("/completions", json={"model": "gpt-3.5-turbo-instruct", "prompt": ["short", "hello " * 9000]})
    assert_openai_error(resp, 400, param="prompt", code="context_length_exceeded")


def test_embedding_input_over_context_window(http: httpx.Client) -> None:
    resp = http.post("/embeddings", json={"model": "text-embedding-3-small", "input": "hello " * 9000})
    assert_openai_error(resp, 400, param="input", code="context_length_exceeded")


@pytest.mark.parametrize(("n", "code"), [(0, "integer_below_min_value"), (129, "integer_above_max_value")])
def test_n_out_of_range(http: httpx.Client, n: int, code: str) -> None:
    assert_openai_error(chat(http, {**CHAT, "n": n}), 400, param="n", code=code)


def test_n_out_of_range_legacy(http: httpx.Client) -> None:
    base = {"model": "gpt-3.5-turbo-instruct", "prompt": "x", "max_tokens": 1}
    assert_openai_error(http.post("/completions", json={**base, "n": 0}), 400, param="n")
    assert_openai_error(http.post("/completions", json={**base, "n": 129}), 400, param="n")


@pytest.mark.parametrize(("field", "value"), [("temperature", 2.5), ("temperature", -0.1), ("top_p", 1.5)])
def test_sampling_parameters_out_of_range(http: httpx.Client, field: str, value: float) -> None:
    assert_openai_error(chat(http, {**CHAT, field: value}), 400, param=field)


def test_top_logprobs_out_of_range(http: httpx.Client) -> None:
    body = {**CHAT, "logprobs": True, "top_logprobs": 21}
    assert_openai_error(chat(http, body), 400, param="top_logprobs")


def test_stream_options_without_stream(http: httpx.Client) -> None:
    body = {**CHAT, "stream_options": {"include_usage": True}}
    assert_openai_error(chat(http, body), 400, param="stream_options")


# -- Embedding inputs ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "param"),
    [("", "input"), ([], "input"), (["ok", ""], "input[1]"), ([[]], "input[0]"), (None, "input")],
)
def test_empty_embedding_input(http: httpx.Client, value: Any, param: str) -> None:
    resp = http.post("/embeddings", json={"model": "text-embedding-3-small", "input": value})
    assert_openai_error(resp, 400, param=param)


def test_embedding_input_of_wrong_type(http: httpx.Client) -> None:
    resp = http.post("/embeddings", json={"model": "text-embedding-3-small", "input": 42})
    assert_openai_error(resp, 400, param="input", code="invalid_type")


def test_empty_embedding_input_through_sdk(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.embeddings.create(model="text-embedding-3-small", input="", encoding_format="float")
    assert info.value.param == "input"


def test_token_ids_out_of_vocabulary(http: httpx.Client) -> None:
    resp = http.post("/completions", json={"model": "gpt-3.5-turbo-instruct", "prompt": [1, 2, 10**9]})
    assert_openai_error(resp, 400, param="prompt")
    resp = http.post("/embeddings", json={"model": "text-embedding-3-small", "input": [-1]})
    assert_openai_error(resp, 400, param="input")


# -- Body size, routes and methods -----------------------------------------------------------


@pytest.fixture(scope="module")
def small_body_server() -> Iterator[LiveServer]:
    """A simulator that accepts request bodies of at most 2048 bytes."""
    with live_server("--no-latency", "--max-body-bytes", "2048") as live:
        yield live


def test_body_over_limit(small_body_server: LiveServer) -> None:
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "x" * 4000}]}
    resp = httpx.post(small_body_server.openai_base + "/chat/completions", json=body, timeout=10)
    error = assert_openai_error(resp, 413, param=None)
    assert "2048" in error["message"]


def test_chunked_body_over_limit(small_body_server: LiveServer) -> None:
    """Without a content-length the limit is enforced while reading."""

    def chunks() -> Iterator[bytes]:
        yield b'{"model": "gpt-4o", "messages": [{"role": "user", "content": "'
        for _ in range(10):
            yield b"x" * 500
        yield b'"}]}'

    resp = httpx.post(small_body_server.openai_base + "/chat/completions", content=chunks(), timeout=10)
    assert_openai_error(resp, 413, param=None)


def test_body_under_limit_is_served(small_body_server: LiveServer) -> None:
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "x" * 1000}], "max_tokens": 2}
    resp = httpx.post(small_body_server.openai_base + "/chat/completions", json=body, timeout=10)
    assert resp.status_code == 200


def test_body_over_limit_through_sdk(small_body_server: LiveServer) -> None:
    with (
        openai.OpenAI(base_url=small_body_server.openai_base, api_key="sk-test", max_retries=0) as c,
        pytest.raises(openai.APIStatusError) as info,
    ):
        c.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x" * 4000}])
    assert info.value.status_code == 413


# (``/`` is Ollama's liveness route: tests/providers/ollama.)
@pytest.mark.parametrize("path", ["/v1/nothing-here", "/v1/chat/completion", "/v2/chat/completions", "/v1"])
def test_unknown_route(server: LiveServer, path: str) -> None:
    resp = httpx.post(server.url + path, json=CHAT, timeout=10)
    assert_openai_error(resp, 404, param=None)


def test_unknown_route_through_sdk(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError):
        client.post("/does-not-exist", cast_to=object, body={})


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/v1/chat/completions"), ("PUT", "/v1/completions"), ("DELETE", "/v1/embeddings"), ("POST", "/v1/models")],
)
def test_wrong_method(server: LiveServer, method: str, path: str) -> None:
    resp = httpx.request(method, server.url + path, timeout=10)
    error = assert_openai_error(resp, 405, param=None)
    assert method in error["message"]


# -- Unknown fields and query parameters are accepted ----------------------------------------


def test_unknown_fields_are_ignored(http: httpx.Client) -> None:
    body = {
        **CHAT,
        "min_tokens": 2,
        "repetition_penalty": 1.1,
        "add_special_tokens": False,
        "top_k": 40,
        "stop": None,
        "logprobs": None,
        "some_future_field": {"nested": [1, 2, 3]},
    }
    resp = chat(http, body)
    assert resp.status_code == 200, resp.text
    assert resp.json()["object"] == "chat.completion"


def test_unknown_fields_are_ignored_on_stream(http: httpx.Client) -> None:
    body = {
        **CHAT,
        "stream": True,
        "stream_options": {"include_usage": True, "continuous_usage_stats": True},
        "ignore_eos": True,
        "min_tokens": 3,
        "stop": None,
        "logprobs": None,
    }
    with http.stream("POST", "/chat/completions", json=body) as resp:
        raw = resp.read()
    assert resp.status_code == 200
    chunks = sse_json(split_sse(raw))
    assert chunks[-1]["usage"]["completion_tokens"] == 3


def test_unknown_fields_are_ignored_on_legacy_and_embeddings(http: httpx.Client) -> None:
    resp = http.post(
        "/completions",
        json={"model": "gpt-3.5-turbo-instruct", "prompt": "x", "max_tokens": 2, "min_tokens": 1, "stop": None},
    )
    assert resp.status_code == 200, resp.text
    resp = http.post("/embeddings", json={"model": "text-embedding-3-small", "input": "x", "truncate_prompt": True})
    assert resp.status_code == 200, resp.text


def test_unknown_query_parameters_are_ignored(http: httpx.Client) -> None:
    resp = http.post("/chat/completions?api-version=2024-10-21&beta=true&%24alt=json", json=CHAT)
    assert resp.status_code == 200, resp.text
    resp = http.get("/models?limit=5&after=x")
    assert resp.status_code == 200


def test_unknown_fields_through_sdk(client: openai.OpenAI) -> None:
    resp = client.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "Hi"}],
        max_tokens=4,
        extra_body={"ignore_eos": True, "min_tokens": 4, "repetition_penalty": 1.0},
        extra_query={"api-version": "2024-10-21"},
    )
    assert resp.usage is not None and resp.usage.completion_tokens == 4


def test_errors_are_never_retryable(http: httpx.Client) -> None:
    resp = chat(http, {**CHAT, "n": 0})
    assert resp.headers.get("x-should-retry") == "false"


# -- Any value in any field: a 2xx or an OpenAI-shaped 4xx, never a 5xx ----------------------

JSON_VALUES: st.SearchStrategy[Any] = st.sampled_from(
    [None, True, False, 0, -1, 1, 3, 2.5, -0.5, 10**6, "", "x", "gpt-4o", [], [1, 2], ["x"], [[]], {}, {"a": 1}, [{}]]
)
ENDPOINTS: dict[str, dict[str, Any]] = {
    "/chat/completions": {**CHAT, "stream": False},
    "/completions": {"model": "gpt-3.5-turbo-instruct", "prompt": "Hello", "max_tokens": 3},
    "/embeddings": {"model": "text-embedding-3-small", "input": "Hello"},
}
FIELDS = sorted(
    {
        "model",
        "messages",
        "prompt",
        "input",
        "max_tokens",
        "max_completion_tokens",
        "n",
        "temperature",
        "top_p",
        "stop",
        "seed",
        "logprobs",
        "top_logprobs",
        "echo",
        "best_of",
        "suffix",
        "dimensions",
        "encoding_format",
        "stream_options",
        "ignore_eos",
        "user",
        "metadata",
        "presence_penalty",
        "frequency_penalty",
    }
)


@pytest.fixture(scope="module")
def pooled(fast_server: LiveServer) -> Iterator[httpx.Client]:
    """One keep-alive client for the property test (a new client per example cost more than the request)."""
    with httpx.Client(base_url=fast_server.openai_base, timeout=30) as client:
        yield client


@settings(max_examples=150, deadline=None, database=None)
@given(
    path=st.sampled_from(sorted(ENDPOINTS)),
    changes=st.dictionaries(st.sampled_from(FIELDS), JSON_VALUES, min_size=1, max_size=3),
)
def test_any_field_value_never_gives_5xx(pooled: httpx.Client, path: str, changes: dict[str, Any]) -> None:
    body = {**ENDPOINTS[path], **changes}
    resp = pooled.post(path, json=body)
    assert resp.status_code < 500, (body, resp.text)
    if resp.status_code != 200:
        assert_openai_error(resp, resp.status_code)
