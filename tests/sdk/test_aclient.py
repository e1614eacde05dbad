"""The async client against a scripted transport: the same wire, retries and streams as the sync one."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from llm_simulator.sdk import (
    APIConnectionError,
    APITimeoutError,
    AsyncClient,
    BadRequestError,
    OverloadedError,
    RateLimitError,
    StreamEvent,
)
from tests.sdk.fakes import ANTHROPIC_MESSAGE, GEMINI_RESPONSE, OPENAI_CHAT, Script, Sleeps, data, json_reply, sse_reply

BASE = "http://sim.test"


def make(script: Script, sleeps: Sleeps | None = None, **kwargs: object) -> AsyncClient:
    sleep = (sleeps if sleeps is not None else Sleeps()).asleep
    return AsyncClient(BASE, transport=script.transport, sleep=sleep, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("provider", "payload", "text"),
    [
        ("openai", OPENAI_CHAT, "Hello!"),
        ("anthropic", ANTHROPIC_MESSAGE, "Hi there"),
        ("gemini", GEMINI_RESPONSE, "Bonjour"),
    ],
)
async def test_chat_each_provider(provider: str, payload: dict[str, object], text: str) -> None:
    script = Script(json_reply(200, payload))
    async with make(script, provider=provider) as client:
        assert (await client.chat("Hi")).text == text


async def test_retry_honours_retry_after_with_the_async_sleep() -> None:
    sleeps = Sleeps()
    script = Script(
        json_reply(429, {"error": {"message": "slow", "type": "requests"}}, {"retry-after-ms": "1200"}),
        json_reply(200, OPENAI_CHAT),
    )
    async with make(script, sleeps) as client:
        assert (await client.chat("Hi")).text == "Hello!"
    assert sleeps.waits == [1.2]


async def test_no_retry_on_400_and_typed_timeouts() -> None:
    script = Script(json_reply(400, {"error": {"message": "bad", "type": "invalid_request_error"}}))
    async with make(script) as client:
        with pytest.raises(BadRequestError):
            await client.chat("Hi")
    assert len(script.requests) == 1
    script = Script(httpx.ReadTimeout("slow"))
    async with make(script, retry=None) as client:
        with pytest.raises(APITimeoutError):
            await client.chat("Hi")


async def test_stream_with_a_retry_before_the_first_byte() -> None:
    sleeps = Sleeps()
    script = Script(
        json_reply(503, {"error": {"message": "busy", "type": "server_error"}}, {"retry-after": "0.5"}),
        sse_reply(
            data({"choices": [{"delta": {"content": "Hi"}, "finish_reason": None}]}),
            data({"choices": [{"delta": {}, "finish_reason": "stop"}]}),
            "data: [DONE]\n\n",
        ),
    )
    async with make(script, sleeps) as client, client.stream("Hi") as stream:
        events = [event async for event in stream]
    assert events == [StreamEvent("Hi"), StreamEvent("", "stop")]
    assert (stream.text, stream.finish_reason) == ("Hi", "stop")
    assert sleeps.waits == [0.5]


async def test_stream_errors_and_cuts() -> None:
    frame = data({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}, "error")
    script = Script(sse_reply(frame))
    async with make(script, provider="anthropic") as client:
        with pytest.raises(OverloadedError):
            await client.stream("Hi").until_done()
    assert len(script.requests) == 1

    class Cut(httpx.AsyncByteStream):
        async def __aiter__(self) -> AsyncIterator[bytes]:
            yield data({"candidates": [{"content": {"parts": [{"text": "Bon"}]}}]}).encode()
            raise httpx.ReadError("connection reset")

    script = Script(lambda request: httpx.Response(200, stream=Cut()))
    async with make(script, provider="gemini") as client:
        stream = client.stream("Hi")
        with pytest.raises(APIConnectionError, match="reset"):
            async for _ in stream:
                pass
        assert stream.text == "Bon"
        early = client.stream("Hi")
        await early.aclose()
        assert [e async for e in early] == []


async def test_gemini_rate_limit_stream_open_is_typed() -> None:
    body = {"error": {"code": 429, "message": "exhausted", "status": "RESOURCE_EXHAUSTED"}}
    script = Script(json_reply(429, body))
    async with make(script, provider="gemini", retry=None) as client:
        with pytest.raises(RateLimitError):
            await client.stream("Hi").until_done()


async def test_embed() -> None:
    script = Script(json_reply(200, {"data": [{"index": 0, "embedding": [1.0]}]}))
    async with make(script) as client:
        assert await client.embed(["a"]) == [[1.0]]
