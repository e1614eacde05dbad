"""Request building and SSE parsing per provider, on hand-written wire bytes (wire-formats.md)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import orjson
import pytest

import llm_simulator.loadgen as loadgen
from llm_simulator.infra.sse import SseDecoder
from llm_simulator.loadgen.client import (
    RequestResult,
    RequestSpec,
    api_key_from_env,
    parse_headers,
    prepare,
    send,
)
from llm_simulator.loadgen.streams import (
    AnthropicStream,
    GeminiStream,
    OllamaStream,
    OpenAIStream,
    StreamState,
    error_kind,
)
from llm_simulator.wire.defaults import LoadProvider as Provider

OPENAI_STREAM = (
    b'data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,'
    b'"delta":{"role":"assistant","content":""},"finish_reason":null}],"usage":null}\n\n'
    b'data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,'
    b'"delta":{"content":"Hel"},"finish_reason":null}],"usage":null}\n\n'
    b'data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,'
    b'"delta":{"content":"lo"},"finish_reason":null}],"usage":null}\n\n'
    b'data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,'
    b'"delta":{"content":" there"},"finish_reason":null}],"usage":null}\n\n'
    b'data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,'
    b'"delta":{},"finish_reason":"stop"}],"usage":null}\n\n'
    b'data: {"id":"c1","object":"chat.completion.chunk","choices":[],'
    b'"usage":{"prompt_tokens":5,"completion_tokens":4,"total_tokens":9}}\n\n'
    b"data: [DONE]\n\n"
)

ANTHROPIC_STREAM = (
    b"event: message_start\n"
    b'data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant",'
    b'"content":[],"stop_reason":null,"usage":{"input_tokens":5,"output_tokens":1}}}\n\n'
    b"event: content_block_start\n"
    b'data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n'
    b"event: ping\n"
    b'data: {"type":"ping"}\n\n'
    b"event: content_block_delta\n"
    b'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}\n\n'
    b"event: content_block_delta\n"
    b'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" you"}}\n\n'
    b"event: content_block_stop\n"
    b'data: {"type":"content_block_stop","index":0}\n\n'
    b"event: message_delta\n"
    b'data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},'
    b'"usage":{"output_tokens":3}}\n\n'
    b"event: message_stop\n"
    b'data: {"type":"message_stop"}\n\n'
)

GEMINI_STREAM = (
    b'data: {"candidates":[{"content":{"parts":[{"text":"Hi"}],"role":"model"},"index":0}],'
    b'"usageMetadata":{"promptTokenCount":4,"totalTokenCount":4}}\n\n'
    b'data: {"candidates":[{"content":{"parts":[{"text":" there"}],"role":"model"},"index":0}],'
    b'"usageMetadata":{"promptTokenCount":4,"totalTokenCount":4}}\n\n'
    b'data: {"candidates":[{"content":{"parts":[{"text":"!"}],"role":"model"},"finishReason":"STOP",'
    b'"index":0}],"usageMetadata":{"promptTokenCount":4,"candidatesTokenCount":3,"thoughtsTokenCount":2,'
    b'"totalTokenCount":9}}\n\n'
)


def feed_all(state: StreamState, raw: bytes) -> StreamState:
    """Decode raw SSE bytes line by line, giving each event a fake arrival time 1 s apart."""
    decoder = SseDecoder()
    clock = 0.0
    for line in raw.decode().splitlines():
        event = decoder.feed(line)
        if event is not None:
            clock += 1.0
            state.on_event(event[0], event[1], clock)
    tail = decoder.flush()
    if tail is not None:
        state.on_event(tail[0], tail[1], clock + 1.0)
    return state


def test_public_api_is_pinned() -> None:
    assert loadgen.__all__ == [
        "PROVIDERS",
        "BenchmarkResult",
        "LoadConfig",
        "Provider",
        "RequestResult",
        "RequestSpec",
        "RunOutcome",
        "Target",
        "UnreachableError",
        "arun_all_benchmarks",
        "build_summary",
        "default_targets",
        "percentile",
        "poisson_arrivals",
        "render",
        "run_all_benchmarks",
        "run_load",
        "run_load_sync",
        "summarize",
    ]


def test_sse_decoder_fields_comments_and_multiline_data() -> None:
    decoder = SseDecoder()
    assert decoder.feed(": keep-alive comment") is None
    assert decoder.feed("event:message_start") is None
    assert decoder.feed("data: one") is None
    assert decoder.feed("data:two") is None
    assert decoder.feed("id: 7") is None
    assert decoder.feed("") == ("message_start", "one\ntwo")
    # A blank line without data dispatches nothing and resets the event name.
    assert decoder.feed("event: ping") is None
    assert decoder.feed("") is None
    assert decoder.feed("data: x") is None
    assert decoder.flush() == ("", "x")
    assert decoder.flush() is None


def test_openai_stream_content_events_and_usage() -> None:
    state = feed_all(OpenAIStream(), OPENAI_STREAM)
    # The role-only opening chunk (content "") is not a content event.
    assert state.content_events == 3
    assert state.first == 2.0
    assert state.itls == [1.0, 1.0]
    assert state.usage_tokens == 4
    assert state.done
    assert state.error is None


def test_openai_stream_in_stream_error_and_missing_done() -> None:
    raw = (
        b'data: {"choices":[{"index":0,"delta":{"content":"a"}}]}\n\n'
        b'data: {"error":{"message":"boom","type":"server_error","code":null}}\n\n'
    )
    state = feed_all(OpenAIStream(), raw)
    assert state.error == "stream:server_error"
    assert "boom" in state.error_detail
    assert not state.done


def test_openai_tool_call_deltas_count_as_content() -> None:
    raw = (
        b'data: {"choices":[{"index":0,"delta":{"role":"assistant","content":null,'
        b'"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"f","arguments":""}}]}}]}\n\n'
        b'data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{}"}}]}}]}\n\n'
        b"data: [DONE]\n\n"
    )
    state = feed_all(OpenAIStream(), raw)
    assert state.content_events == 2
    assert state.usage_tokens is None


def test_anthropic_stream_named_events() -> None:
    state = feed_all(AnthropicStream(), ANTHROPIC_STREAM)
    assert state.content_events == 2
    # message_start, content_block_start and ping come first: the first delta is event 4.
    assert state.first == 4.0
    assert state.itls == [1.0]
    assert state.usage_tokens == 3
    assert state.done


def test_anthropic_error_event() -> None:
    raw = (
        b"event: message_start\n"
        b'data: {"type":"message_start","message":{"content":[],"usage":{"input_tokens":1,"output_tokens":1}}}\n\n'
        b"event: error\n"
        b'data: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n'
    )
    state = feed_all(AnthropicStream(), raw)
    assert state.error == "stream:overloaded_error"
    assert not state.done


def test_anthropic_data_without_event_names_is_ignored() -> None:
    # The SDK dispatches on the event name only; an unnamed stream yields nothing.
    raw = b'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"x"}}\n\n'
    state = feed_all(AnthropicStream(), raw)
    assert state.content_events == 0


def test_gemini_stream_usage_and_finish() -> None:
    state = feed_all(GeminiStream(), GEMINI_STREAM)
    assert state.content_events == 3
    assert state.first == 1.0
    assert state.itls == [1.0, 1.0]
    assert state.usage_tokens == 5  # candidates 3 + thoughts 2
    assert state.done


def test_gemini_stream_without_finish_reason_is_incomplete_and_crlf_works() -> None:
    raw = GEMINI_STREAM.split(b"\n\n")[0].replace(b"\n", b"\r\n") + b"\r\n\r\n"
    state = feed_all(GeminiStream(), raw)
    assert state.content_events == 1
    assert not state.done


def test_gemini_error_frame() -> None:
    raw = b'data: {"error":{"code":503,"message":"busy","status":"UNAVAILABLE"}}\n\n'
    state = feed_all(GeminiStream(), raw)
    assert state.error == "stream:UNAVAILABLE"


@pytest.mark.parametrize(
    ("provider", "stream", "path", "auth"),
    [
        ("openai", True, "/v1/chat/completions", ("authorization", "Bearer k")),
        ("anthropic", False, "/v1/messages", ("x-api-key", "k")),
        ("gemini", True, "/v1beta/models/g-1:streamGenerateContent?alt=sse", ("x-goog-api-key", "k")),
        ("gemini", False, "/v1beta/models/g-1:generateContent", ("x-goog-api-key", "k")),
        ("ollama", True, "/api/chat", ("authorization", "Bearer k")),
    ],
)
def test_prepare_urls_and_auth(provider: Provider, stream: bool, path: str, auth: tuple[str, str]) -> None:
    spec = RequestSpec(
        provider=provider, base_url="http://h:1/", model="g-1", stream=stream, api_key="k", headers=(("X-A", "b"),)
    )
    prepared = prepare(spec)
    assert prepared.url == "http://h:1" + path
    assert prepared.headers[auth[0]] == auth[1]
    assert prepared.headers["x-a"] == "b"
    body = orjson.loads(prepared.body)
    if provider == "anthropic":
        assert prepared.headers["anthropic-version"] == "2023-06-01"
        assert body["max_tokens"] == 64
    if provider == "gemini":
        assert body["generationConfig"]["maxOutputTokens"] == 64
        assert "stream" not in body
    if provider == "ollama":
        assert body["options"] == {"num_predict": 64}
        assert body["stream"] is True
        assert prepared.headers["accept"] == "application/x-ndjson"


def test_openai_body_asks_for_usage_and_sdk_style_base_urls_work() -> None:
    spec = RequestSpec(provider="openai", base_url="http://h:1/v1", model="m", max_tokens_field="max_completion_tokens")
    prepared = prepare(spec)
    assert prepared.url == "http://h:1/v1/chat/completions"
    body = orjson.loads(prepared.body)
    assert body["stream_options"] == {"include_usage": True}
    assert body["max_completion_tokens"] == 64
    gemini = RequestSpec(provider="gemini", base_url="http://h:1/v1beta", model="models/g", stream=False)
    assert prepare(gemini).url == "http://h:1/v1beta/models/g:generateContent"


def test_error_kind_per_provider_body() -> None:
    assert error_kind(500, b'{"error":{"message":"m","type":"server_error","code":"x"}}')[0] == "server_error"
    assert error_kind(529, b'{"type":"error","error":{"type":"overloaded_error","message":"m"}}')[0] == (
        "overloaded_error"
    )
    assert error_kind(429, b'{"error":{"code":429,"message":"m","status":"RESOURCE_EXHAUSTED"}}')[0] == (
        "RESOURCE_EXHAUSTED"
    )
    assert error_kind(502, b"<html>bad gateway</html>") == ("http_502", "<html>bad gateway</html>")


def test_parse_headers_and_api_key_env() -> None:
    assert parse_headers(["A: b", "x-simulator-chaos: error=server_error; p=1"]) == (
        ("A", "b"),
        ("x-simulator-chaos", "error=server_error; p=1"),
    )
    with pytest.raises(ValueError, match="NAME:VALUE"):
        parse_headers(["nocolon"])
    assert api_key_from_env("anthropic", {"ANTHROPIC_API_KEY": "sk-a"}) == "sk-a"
    assert api_key_from_env("gemini", {}) == "sk-llm-simulator-benchmark"


OLLAMA_STREAM = (
    b'{"model":"m","created_at":"2025-01-01T00:00:00Z","message":{"role":"assistant","content":"","thinking":"h"},"done":false}\n'
    b'{"model":"m","created_at":"2025-01-01T00:00:00Z","message":{"role":"assistant","content":"a"},"done":false}\n'
    b'{"model":"m","created_at":"2025-01-01T00:00:00Z","message":{"role":"assistant","content":"b"},"done":false}\n'
    b'{"model":"m","created_at":"2025-01-01T00:00:00Z","message":{"role":"assistant","content":""},"done":true,'
    b'"done_reason":"stop","eval_count":7}\n'
)


def test_ollama_lines_content_usage_error_and_cut() -> None:
    state = OllamaStream()
    for i, line in enumerate(OLLAMA_STREAM.decode().splitlines()):
        state.on_event("", line, float(i + 1))
    assert (state.content_events, state.first, state.itls, state.usage_tokens) == (3, 1.0, [1.0, 1.0], 7)
    assert state.done
    cut = OllamaStream()
    for line in OLLAMA_STREAM.decode().splitlines()[:2]:
        cut.on_event("", line, 1.0)
    assert not cut.done
    failed = OllamaStream()
    failed.on_event("", '{"error":"server busy"}', 1.0)
    failed.on_event("", '{"model":"m","message":{"content":"tr', 2.0)
    assert (failed.error, failed.error_detail) == ("stream:error", "server busy")
    assert error_kind(429, b'{"error":"rate limit exceeded"}') == ("http_429", "rate limit exceeded")


def _send_with(handler: Callable[[httpx.Request], httpx.Response], spec: RequestSpec) -> RequestResult:
    async def go() -> RequestResult:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            return await send(client, prepare(spec), 0.0, 5.0)

    return asyncio.run(go())


@pytest.mark.parametrize(
    ("provider", "raw", "events", "tokens"),
    [
        ("openai", OPENAI_STREAM, 3, 4),
        ("anthropic", ANTHROPIC_STREAM, 2, 3),
        ("gemini", GEMINI_STREAM, 3, 5),
        ("ollama", OLLAMA_STREAM, 3, 7),
    ],
)
def test_send_stream_end_to_end_on_a_fake_transport(provider: Provider, raw: bytes, events: int, tokens: int) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=raw)

    result = _send_with(handler, RequestSpec(provider=provider, base_url="http://h", model="m"))
    assert result.ok, result.error
    assert result.status == 200
    assert result.content_events == events
    assert result.output_tokens == tokens
    assert result.token_source == "usage"
    assert result.ttft is not None
    assert 0 < result.ttft <= result.e2e
    assert len(result.itls) == events - 1
    assert seen[0].method == "POST"


def test_send_counts_events_without_usage_and_flags_incomplete_streams() -> None:
    raw = (
        b'data: {"choices":[{"index":0,"delta":{"content":"a"}}]}\n\n'
        b'data: {"choices":[{"index":0,"delta":{"content":"b"}}]}\n\n'
    )
    result = _send_with(
        lambda _: httpx.Response(200, content=raw), RequestSpec(provider="openai", base_url="http://h", model="m")
    )
    assert result.token_source == "events"
    assert result.output_tokens == 2
    assert result.error == "incomplete_stream"


def test_send_http_error_and_non_stream_usage() -> None:
    spec = RequestSpec(provider="anthropic", base_url="http://h", model="m")
    result = _send_with(
        lambda _: httpx.Response(529, json={"type": "error", "error": {"type": "overloaded_error", "message": "o"}}),
        spec,
    )
    assert (result.status, result.error) == (529, "overloaded_error")
    ok = _send_with(
        lambda _: httpx.Response(200, json={"content": [], "usage": {"input_tokens": 3, "output_tokens": 9}}),
        RequestSpec(provider="anthropic", base_url="http://h", model="m", stream=False),
    )
    assert ok.ok
    assert (ok.output_tokens, ok.token_source, ok.ttft) == (9, "usage", None)


def test_send_transport_error_is_a_result_not_an_exception() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    result = _send_with(handler, RequestSpec(provider="openai", base_url="http://h", model="m"))
    assert (result.status, result.error) == (0, "connect_error")
