"""In-stream error shapes (``alt=sse`` frames, the JSON-array stream) and the line-break escape."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any, cast

import httpx
import orjson
import pytest
from google import genai
from google.genai import errors, types

from llm_simulator.core.errors import ErrorKind, SimulatorError
from llm_simulator.providers.gemini.chunks import ArrayStream
from llm_simulator.providers.gemini.common import escape_line_breaks
from llm_simulator.providers.gemini.errors import sse_error_frame
from tests.providers.gemini.helpers import check_error_body

KINDS = [
    (ErrorKind.OVERLOADED, 503, "UNAVAILABLE"),
    (ErrorKind.RATE_LIMIT, 429, "RESOURCE_EXHAUSTED"),
    (ErrorKind.SERVER_ERROR, 500, "INTERNAL"),
    (ErrorKind.TIMEOUT, 504, "DEADLINE_EXCEEDED"),
    (ErrorKind.INVALID_REQUEST, 400, "INVALID_ARGUMENT"),
]
CHUNKS = [
    orjson.dumps({"candidates": [{"content": {"parts": [{"text": t}], "role": "model"}, "index": 0}]}) for t in "abc"
]


@pytest.mark.parametrize(("kind", "code", "status"), KINDS)
def test_sse_error_frame(kind: ErrorKind, code: int, status: str) -> None:
    frame = sse_error_frame(SimulatorError(kind, "it broke"))
    assert frame.startswith(b'data: {"error":')  # the SDK checks for exactly this prefix
    assert frame.endswith(b"\n\n") and frame.count(b"\n") == 2 and b"\r" not in frame
    error = check_error_body(json.loads(frame[len(b"data: ") : -2]), code, status)
    assert error["message"] == "it broke"


def test_sse_error_frame_with_explicit_status() -> None:
    frame = sse_error_frame(SimulatorError(ErrorKind.SERVER_ERROR, "bad gateway", status=502))
    check_error_body(json.loads(frame[len(b"data: ") :]), 502, "INTERNAL")


@pytest.mark.parametrize(
    ("kind", "code", "exc_type"),
    [(ErrorKind.OVERLOADED, 503, errors.ServerError), (ErrorKind.RATE_LIMIT, 429, errors.ClientError)],
)
def test_sdk_raises_the_sse_error_after_the_chunks_before_it(
    kind: ErrorKind, code: int, exc_type: type[errors.APIError]
) -> None:
    error = SimulatorError(kind, "mid-stream")
    body = b"".join(b"data: " + c + b"\n\n" for c in CHUNKS[:2]) + sse_error_frame(error)

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.params.get("alt") == "sse"
        return httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})

    options = types.HttpOptions(
        base_url="http://gemini.test", httpx_client=httpx.Client(transport=httpx.MockTransport(handler))
    )
    with genai.Client(api_key="k", http_options=options) as client:
        stream = client.models.generate_content_stream(model="gemini-2.5-flash", contents="Hi")
        assert next(stream).text == "a"
        assert next(stream).text == "b"
        with pytest.raises(exc_type) as info:
            next(stream)
    assert info.value.code == code
    assert info.value.message == "mid-stream"
    check_error_body(info.value.details, code, None)


async def _source(chunks: list[bytes], fail_after: int | None) -> AsyncIterator[bytes]:
    for i, chunk in enumerate(chunks):
        if fail_after == i:
            raise SimulatorError(ErrorKind.OVERLOADED, "overloaded")
        yield chunk
    if fail_after == len(chunks):
        raise SimulatorError(ErrorKind.OVERLOADED, "overloaded")


async def _serve(array: ArrayStream) -> bytes:
    """What the server sends: every frame, then the in-stream error if the frames raise one."""
    out: list[bytes] = []
    try:
        async for frame in array.frames():
            out.append(frame)
    except SimulatorError as exc:
        out.append(array.error(exc))
    return b"".join(out)


@pytest.mark.parametrize("fail_after", [0, 1, 3])
async def test_array_stream_error_closes_the_array(fail_after: int) -> None:
    body = await _serve(ArrayStream(_source(CHUNKS, fail_after)))
    elements: list[Any] = json.loads(body)
    assert elements[:-1] == [json.loads(c) for c in CHUNKS[:fail_after]]
    assert list(elements[-1]) == ["error"]
    check_error_body(elements[-1], 503, "UNAVAILABLE")


@pytest.mark.parametrize("count", [0, 1, 3])
async def test_array_stream_without_error(count: int) -> None:
    body = await _serve(ArrayStream(_source(CHUNKS[:count], None)))
    assert json.loads(body) == [json.loads(c) for c in CHUNKS[:count]]


@pytest.mark.parametrize("sent", [1, 2])
async def test_array_stream_error_while_a_frame_is_being_sent(sent: int) -> None:
    # The server may be stopped (drain deadline) while it sends a frame, before the frames
    # generator resumes; the error must still continue the array that was sent.
    array = ArrayStream(_source(CHUNKS, None))
    frames = cast(AsyncGenerator[bytes, None], array.frames())
    out = [await frames.__anext__() for _ in range(sent)]
    out.append(array.error(SimulatorError(ErrorKind.UNAVAILABLE, "shutting down")))
    await frames.aclose()
    elements: list[Any] = json.loads(b"".join(out))
    assert elements[:-1] == [json.loads(c) for c in CHUNKS[:sent]]
    check_error_body(elements[-1], 503, "UNAVAILABLE")


async def test_array_stream_error_after_the_array_closed_adds_nothing() -> None:
    array = ArrayStream(_source(CHUNKS[:1], None))
    body = b"".join([frame async for frame in array.frames()])
    assert array.error(SimulatorError(ErrorKind.UNAVAILABLE, "shutting down")) == b""
    assert json.loads(body) == [json.loads(CHUNKS[0])]


@pytest.mark.parametrize("text", ["a\u2028b", "\u2029", "x\u0085y", "\u2028\u2029\u0085" * 3, "plain ascii", "é漢字"])
def test_escape_line_breaks(text: str) -> None:
    raw = orjson.dumps({"text": text})
    escaped = escape_line_breaks(raw)
    assert json.loads(escaped) == {"text": text}
    decoded = escaped.decode()
    assert decoded.splitlines() == [decoded]  # one line for str.splitlines, as the SDK reads it
    if text.isascii() or not any(ch in text for ch in "\u2028\u2029\u0085"):
        assert escaped == raw


def test_an_overload_with_a_chosen_429_is_resource_exhausted() -> None:
    """A deployment whose overload_status is 429: Google pairs 429 with RESOURCE_EXHAUSTED, never UNAVAILABLE."""
    frame = sse_error_frame(SimulatorError(ErrorKind.OVERLOADED, "queue full", status=429))
    check_error_body(json.loads(frame[len(b"data: ") : -2]), 429, "RESOURCE_EXHAUSTED")
