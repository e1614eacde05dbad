"""A scripted fake server for the SDK's unit tests (``httpx.MockTransport``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import orjson

Reply = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


class Script:
    """Answers requests with the given replies in order (the last one repeats); records them."""

    def __init__(self, *replies: Reply) -> None:
        self.replies = list(replies)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        reply = self.replies[min(len(self.requests), len(self.replies)) - 1]
        if isinstance(reply, Exception):
            raise reply
        if isinstance(reply, httpx.Response):
            return reply
        return reply(request)

    @property
    def transport(self) -> httpx.MockTransport:
        """The sync/async transport serving this script."""
        return httpx.MockTransport(self)

    def body(self, index: int = -1) -> Any:
        """The JSON body of a recorded request."""
        return orjson.loads(self.requests[index].content)


def json_reply(status: int, payload: object, headers: dict[str, str] | None = None) -> httpx.Response:
    """A JSON answer."""
    return httpx.Response(
        status, content=orjson.dumps(payload), headers={"content-type": "application/json", **(headers or {})}
    )


def sse_reply(*frames: str) -> httpx.Response:
    """An event-stream answer made of raw frames (each ending with a blank line)."""
    return httpx.Response(200, content="".join(frames).encode(), headers={"content-type": "text/event-stream"})


def data(payload: object, event: str | None = None) -> str:
    """One SSE frame carrying ``payload`` as JSON."""
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {orjson.dumps(payload).decode()}\n\n"


class Sleeps:
    """A fake ``sleep`` recording the waits (sync and async flavours)."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)

    async def asleep(self, seconds: float) -> None:
        """The async flavour."""
        self.waits.append(seconds)


OPENAI_CHAT = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "model": "gpt-4o-mini",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello!"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
}
ANTHROPIC_MESSAGE = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "claude-haiku-4-5-20251001",
    "content": [{"type": "text", "text": "Hi "}, {"type": "text", "text": "there"}],
    "stop_reason": "end_turn",
    "usage": {"input_tokens": 4, "output_tokens": 2},
}
GEMINI_RESPONSE = {
    "candidates": [
        {
            "content": {"role": "model", "parts": [{"text": "pondering", "thought": True}, {"text": "Bonjour"}]},
            "finishReason": "STOP",
        }
    ],
    "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 1},
    "modelVersion": "gemini-2.5-flash",
}
