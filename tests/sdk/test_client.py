"""The sync client against a scripted transport: wire formats, retries, streams, errors."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from llm_simulator.infra import RetryPolicy
from llm_simulator.sdk import (
    APIConnectionError,
    APITimeoutError,
    BadRequestError,
    ChatResult,
    Client,
    OverloadedError,
    RateLimitError,
    ServerError,
    StreamEvent,
)
from tests.sdk.fakes import (
    ANTHROPIC_MESSAGE,
    GEMINI_RESPONSE,
    OPENAI_CHAT,
    Script,
    Sleeps,
    data,
    json_reply,
    sse_reply,
)

BASE = "http://sim.test"


def make(script: Script, sleeps: Sleeps | None = None, **kwargs: object) -> Client:
    return Client(BASE, transport=script.transport, sleep=sleeps if sleeps is not None else Sleeps(), **kwargs)  # type: ignore[arg-type]


# -- wire formats ------------------------------------------------------------------------------


def test_openai_chat_request_and_result() -> None:
    script = Script(json_reply(200, OPENAI_CHAT))
    with make(script, api_key="sk-1") as client:
        result = client.chat("Hi", max_tokens=5, seed=7, temperature=0.2)
    assert result == ChatResult("Hello!", "gpt-4o-mini", "stop", 3, 2, OPENAI_CHAT)
    request = script.requests[0]
    assert (request.method, request.url.path) == ("POST", "/v1/chat/completions")
    assert request.headers["authorization"] == "Bearer sk-1"
    assert request.headers["user-agent"].startswith("llm-simulator-sdk/")
    assert script.body() == {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "Hi"}],
        "max_completion_tokens": 5,
        "seed": 7,
        "temperature": 0.2,
    }


def test_anthropic_chat_request_and_result() -> None:
    script = Script(json_reply(200, ANTHROPIC_MESSAGE))
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    with make(script, api_key="ak", provider="anthropic") as client:
        result = client.chat(messages, seed=3)
    assert (result.text, result.finish_reason, result.input_tokens, result.output_tokens) == (
        "Hi there",
        "end_turn",
        4,
        2,
    )
    assert result.model == "claude-haiku-4-5-20251001"
    request = script.requests[0]
    assert request.url.path == "/v1/messages"
    assert (request.headers["x-api-key"], request.headers["anthropic-version"]) == ("ak", "2023-06-01")
    assert request.headers["x-simulator-seed"] == "3"
    assert "authorization" not in request.headers
    assert script.body() == {
        "model": "claude-haiku-4-5",
        "max_tokens": 1024,
        "messages": [{"role": "user", "content": "Hi"}],
        "system": "Be brief.",
    }


def test_gemini_chat_request_and_result() -> None:
    script = Script(json_reply(200, GEMINI_RESPONSE))
    messages = [
        {"role": "system", "content": "Answer in French."},
        {"role": "user", "content": "Hello"},
        {"role": "assistant", "content": "Bonjour"},
        {"role": "user", "content": "Again"},
    ]
    with make(script, api_key="gk") as client:
        result = client.chat(messages, provider="gemini", max_tokens=9, seed=1, generationConfig={"temperature": 0})
    assert (result.text, result.finish_reason, result.input_tokens, result.output_tokens) == ("Bonjour", "STOP", 5, 1)
    request = script.requests[0]
    assert request.url.path == "/v1beta/models/gemini-2.5-flash-lite:generateContent"
    assert request.headers["x-goog-api-key"] == "gk"
    assert script.body() == {
        "contents": [
            {"role": "user", "parts": [{"text": "Hello"}]},
            {"role": "model", "parts": [{"text": "Bonjour"}]},
            {"role": "user", "parts": [{"text": "Again"}]},
        ],
        "systemInstruction": {"parts": [{"text": "Answer in French."}]},
        "generationConfig": {"maxOutputTokens": 9, "seed": 1, "temperature": 0},
    }


def test_per_call_headers_and_no_key_no_auth_header() -> None:
    script = Script(json_reply(200, OPENAI_CHAT))
    with make(script) as client:
        client.chat("Hi", headers={"x-simulator-chaos": "error=rate_limit"})
    assert "authorization" not in script.requests[0].headers
    assert script.requests[0].headers["x-simulator-chaos"] == "error=rate_limit"


def test_unknown_provider_is_refused() -> None:
    with pytest.raises(ValueError, match="provider must be one of"):
        Client(BASE, provider="cohere")
    with make(Script(json_reply(200, {}))) as client, pytest.raises(ValueError, match="provider must be one of"):
        client.chat("x", provider="mistral")


def test_embeddings() -> None:
    openai = Script(json_reply(200, {"data": [{"index": 1, "embedding": [0.5]}, {"index": 0, "embedding": [1, 2]}]}))
    with make(openai) as client:
        assert client.embed(["a", "b"]) == [[1.0, 2.0], [0.5]]
    assert openai.requests[0].url.path == "/v1/embeddings"
    assert openai.body() == {"model": "text-embedding-3-small", "input": ["a", "b"]}
    gemini = Script(json_reply(200, {"embeddings": [{"values": [0.1]}, {"values": [0.2]}]}))
    with make(gemini) as client:
        assert client.embed(["a", "b"], provider="gemini", model="text-embedding-004") == [[0.1], [0.2]]
    assert gemini.requests[0].url.path == "/v1beta/models/text-embedding-004:batchEmbedContents"
    assert gemini.body() == {
        "requests": [{"content": {"parts": [{"text": "a"}]}}, {"content": {"parts": [{"text": "b"}]}}]
    }
    with make(Script()) as client:
        with pytest.raises(ValueError, match="Anthropic has no embeddings API"):
            client.embed(["a"], provider="anthropic")
        with pytest.raises(TypeError, match="list of strings"):
            client.embed("a")


# -- retries -----------------------------------------------------------------------------------


def test_retry_honours_retry_after() -> None:
    sleeps = Sleeps()
    script = Script(
        json_reply(429, {"error": {"message": "slow down", "type": "requests"}}, {"retry-after": "2"}),
        json_reply(
            503, {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}, {"retry-after-ms": "250"}
        ),
        json_reply(200, OPENAI_CHAT),
    )
    with make(script, sleeps) as client:
        assert client.chat("Hi").text == "Hello!"
    assert len(script.requests) == 3
    assert sleeps.waits == [2.0, 0.25]  # each hint is longer than the backoff (~0.1 s, ~0.2 s)


def test_gemini_retry_info_is_a_hint() -> None:
    sleeps = Sleeps()
    gemini_429 = {
        "error": {
            "code": 429,
            "message": "exhausted",
            "status": "RESOURCE_EXHAUSTED",
            "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1.5s"}],
        }
    }
    script = Script(json_reply(429, gemini_429), json_reply(200, GEMINI_RESPONSE))
    with make(script, sleeps, provider="gemini") as client:
        assert client.chat("Hi").text == "Bonjour"
    assert sleeps.waits == [1.5]


def test_no_retry_on_400() -> None:
    sleeps = Sleeps()
    script = Script(json_reply(400, {"error": {"message": "bad", "type": "invalid_request_error", "param": "model"}}))
    with make(script, sleeps) as client, pytest.raises(BadRequestError) as caught:
        client.chat("Hi")
    assert len(script.requests) == 1 and sleeps.waits == []
    assert caught.value.message == "bad"


def test_no_retry_when_the_server_says_so() -> None:
    script = Script(
        json_reply(429, {"error": {"message": "quota", "type": "insufficient_quota"}}, {"x-should-retry": "false"})
    )
    with make(script) as client, pytest.raises(RateLimitError):
        client.chat("Hi")
    assert len(script.requests) == 1


def test_giving_up_raises_the_last_error() -> None:
    sleeps = Sleeps()
    script = Script(json_reply(500, {"error": {"message": "boom", "type": "server_error"}}))
    policy = RetryPolicy(max_retries=2, strategy="constant", base_delay_s=0.5)
    with make(script, sleeps, retry=policy) as client, pytest.raises(ServerError) as caught:
        client.chat("Hi")
    assert len(script.requests) == 3 and sleeps.waits == [0.5, 0.5]
    assert caught.value.__notes__ == ["retry: gave up after 3 attempts (2 retries)"]


def test_retry_none_and_a_narrowing_policy() -> None:
    script = Script(json_reply(503, {"error": {"message": "busy", "type": "server_error"}}))
    with make(script, retry=None) as client, pytest.raises(OverloadedError):
        client.chat("Hi")
    assert len(script.requests) == 1
    # A policy's own retry_if narrows what is retried; it cannot widen it to a 400.
    only_429 = RetryPolicy(retry_if=lambda exc: isinstance(exc, RateLimitError))
    script = Script(json_reply(503, {"error": {"message": "busy", "type": "server_error"}}))
    with make(script, retry=only_429) as client, pytest.raises(OverloadedError):
        client.chat("Hi")
    assert len(script.requests) == 1
    script = Script(json_reply(400, {"error": {"message": "bad", "type": "invalid_request_error"}}))
    with make(script, retry=RetryPolicy(retry_if=lambda exc: True)) as client, pytest.raises(BadRequestError):
        client.chat("Hi")
    assert len(script.requests) == 1


def test_timeouts_and_connection_errors() -> None:
    script = Script(httpx.ReadTimeout("slow"))
    with make(script, retry=None) as client, pytest.raises(APITimeoutError):
        client.chat("Hi")
    sleeps = Sleeps()
    script = Script(httpx.ConnectError("refused"), httpx.ConnectTimeout("slow"), json_reply(200, OPENAI_CHAT))
    with make(script, sleeps) as client:
        assert client.chat("Hi").text == "Hello!"  # both are retried
    assert len(script.requests) == 3 and len(sleeps.waits) == 2
    script = Script(httpx.ConnectError("refused"))
    with make(script, retry=None) as client, pytest.raises(APIConnectionError) as caught:
        client.chat("Hi")
    assert not isinstance(caught.value, APITimeoutError)
    assert caught.value.status is None


def test_a_real_timeout_against_a_silent_server() -> None:
    """The client-side timeout against a socket that accepts and never answers."""
    import socket

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        url = f"http://127.0.0.1:{server.getsockname()[1]}"
        with Client(url, timeout=0.2, retry=None) as client, pytest.raises(APITimeoutError):
            client.chat("Hi")


# -- streams -----------------------------------------------------------------------------------


def openai_chunk(content: str | None = None, finish: str | None = None) -> dict[str, object]:
    delta = {"content": content} if content is not None else {}
    return {"model": "gpt-4o-mini", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


def test_openai_stream() -> None:
    usage = {"model": "gpt-4o-mini", "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2}}
    script = Script(
        sse_reply(
            ": keep-alive\n\n",
            data(openai_chunk("Hel")),
            data(openai_chunk("lo")),
            data(openai_chunk(finish="stop")),
            data(usage),
            "data: [DONE]\n\n",
        )
    )
    with make(script) as client, client.stream("Hi") as stream:
        events = list(stream)
    assert events == [StreamEvent("Hel"), StreamEvent("lo"), StreamEvent("", "stop")]
    assert (stream.text, stream.finish_reason, stream.input_tokens, stream.output_tokens) == ("Hello", "stop", 3, 2)
    assert script.body()["stream"] is True
    assert script.body()["stream_options"] == {"include_usage": True}
    assert script.requests[0].headers["accept"] == "text/event-stream"


def test_anthropic_stream() -> None:
    script = Script(
        sse_reply(
            data(
                {"type": "message_start", "message": {"model": "claude-x", "usage": {"input_tokens": 7}}},
                "message_start",
            ),
            data({"type": "ping"}, "ping"),
            data(
                {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}},
                "content_block_delta",
            ),
            data(
                {"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": "{"}}
            ),
            data({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 1}}),
            data({"type": "message_stop"}, "message_stop"),
        )
    )
    with make(script, provider="anthropic") as client:
        stream = client.stream("Hi")
        assert list(stream) == [StreamEvent("Hi"), StreamEvent("", "end_turn")]
    assert (stream.model, stream.input_tokens, stream.output_tokens) == ("claude-x", 7, 1)


def test_gemini_stream() -> None:
    chunk = {"candidates": [{"content": {"parts": [{"text": "Bon"}]}}], "modelVersion": "gemini-2.5-flash"}
    last = {
        "candidates": [{"content": {"parts": [{"text": "jour"}]}, "finishReason": "STOP"}],
        "usageMetadata": {"promptTokenCount": 2, "candidatesTokenCount": 2},
    }
    # The last frame lacks its blank line: it is still read at the end of the stream.
    script = Script(sse_reply(data(chunk), data(last).rstrip("\n") + "\n"))
    with make(script, provider="gemini") as client:
        stream = client.stream("Hi", model="gemini-2.0-flash")
        assert [e.text for e in stream] == ["Bon", "jour", ""]
    assert stream.finish_reason == "STOP" and stream.output_tokens == 2
    request = script.requests[0]
    assert request.url.path == "/v1beta/models/gemini-2.0-flash:streamGenerateContent"
    assert request.url.params["alt"] == "sse"


@pytest.mark.parametrize(
    ("provider", "frame", "cls"),
    [
        ("openai", data({"error": {"message": "boom", "type": "server_error", "code": "server_error"}}), ServerError),
        (
            "anthropic",
            data({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}, "error"),
            OverloadedError,
        ),
        (
            "gemini",
            data({"error": {"code": 429, "message": "exhausted", "status": "RESOURCE_EXHAUSTED"}}),
            RateLimitError,
        ),
    ],
)
def test_an_error_inside_a_stream_is_typed_and_not_retried(provider: str, frame: str, cls: type[Exception]) -> None:
    first = {
        "openai": data(openai_chunk("partial")),
        "anthropic": data({"type": "content_block_delta", "delta": {"type": "text_delta", "text": "partial"}}),
        "gemini": data({"candidates": [{"content": {"parts": [{"text": "partial"}]}}]}),
    }[provider]
    script = Script(sse_reply(first, frame))
    with make(script, provider=provider) as client:
        stream = client.stream("Hi")
        with pytest.raises(cls):
            for _ in stream:
                pass
    assert stream.text == "partial"
    assert len(script.requests) == 1


def test_a_stream_is_retried_before_its_first_byte() -> None:
    sleeps = Sleeps()
    script = Script(
        json_reply(
            529, {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}, {"retry-after": "1"}
        ),
        sse_reply(data({"type": "message_stop"}, "message_stop")),
    )
    with make(script, sleeps, provider="anthropic") as client:
        assert list(client.stream("Hi")) == []
    assert len(script.requests) == 2 and sleeps.waits == [1.0]


def test_a_stream_cut_midway_is_a_connection_error() -> None:
    class Cut(httpx.SyncByteStream):
        def __iter__(self) -> Iterator[bytes]:
            yield data(openai_chunk("par")).encode()
            raise httpx.RemoteProtocolError("peer closed connection")

    script = Script(lambda request: httpx.Response(200, stream=Cut(), headers={"content-type": "text/event-stream"}))
    with make(script) as client:
        stream = client.stream("Hi")
        with pytest.raises(APIConnectionError, match="peer closed"):
            list(stream)
    assert stream.text == "par" and len(script.requests) == 1


def test_a_stream_closed_early_and_until_done() -> None:
    script = Script(sse_reply(data(openai_chunk("a")), data(openai_chunk("b")), "data: [DONE]\n\n"))
    with make(script) as client:
        stream = client.stream("Hi")
        assert next(stream) == StreamEvent("a")
        stream.close()
        with pytest.raises(StopIteration):
            next(stream)
        assert client.stream("Hi").until_done().text == "ab"
        stream = client.stream("never sent")
        stream.close()  # closing a stream never started sends nothing
    assert len(script.requests) == 2
