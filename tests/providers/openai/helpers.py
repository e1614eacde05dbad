"""Shared assertions for the OpenAI wire tests: error bodies and raw SSE framing."""

from __future__ import annotations

import json
from typing import Any, Final

import httpx

ANY_PARAM: Final = "<any>"


def assert_openai_error(
    response: httpx.Response,
    status: int,
    *,
    param: str | None = ANY_PARAM,
    code: str | None = None,
    error_type: str = "invalid_request_error",
) -> dict[str, Any]:
    """Check an OpenAI-shaped error response and return its inner ``error`` object.

    ``param`` is compared exactly (``None`` included) unless left at ``ANY_PARAM``.
    """
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert isinstance(body, dict) and set(body) == {"error"}, body
    error = body["error"]
    assert isinstance(error, dict)
    assert set(error) == {"message", "type", "param", "code"}, error
    assert isinstance(error["message"], str) and error["message"]
    assert error["type"] == error_type, error
    if param != ANY_PARAM:
        assert error["param"] == param, error
    if code is not None:
        assert error["code"] == code, error
    return error


def split_sse(raw: bytes) -> list[bytes]:
    """Split a raw OpenAI event stream into its events, checking the framing on the way."""
    assert b"\r" not in raw, "OpenAI streams must use LF framing only"
    assert raw.endswith(b"\n\n"), raw[-80:]
    events = raw[:-2].split(b"\n\n")
    for event in events:
        assert event.startswith(b"data: "), event[:80]
        assert b"\n" not in event, f"multi-line event: {event[:120]!r}"
    return events


def sse_json(events: list[bytes]) -> list[dict[str, Any]]:
    """The JSON payloads of every event before ``data: [DONE]`` (which must be last)."""
    assert events[-1] == b"data: [DONE]"
    chunks: list[dict[str, Any]] = []
    for event in events[:-1]:
        payload = json.loads(event[len(b"data: ") :])
        assert isinstance(payload, dict)
        chunks.append(payload)
    return chunks
