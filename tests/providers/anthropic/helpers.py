"""Shared assertions for the Anthropic wire tests: error bodies and raw event-stream frames."""

from __future__ import annotations

import json
from typing import Any, Final

import httpx

MODEL: Final = "claude-haiku-4-5"  # an alias the SDK does not flag as deprecated
DATED_MODEL: Final = "claude-haiku-4-5-20251001"  # what the alias answers with
ANTHROPIC_HEADERS: Final = {"anthropic-version": "2023-06-01", "x-api-key": "k"}
USER: Final[list[dict[str, Any]]] = [{"role": "user", "content": "Hello"}]
BODY: Final[dict[str, Any]] = {"model": MODEL, "max_tokens": 8, "messages": USER}


def assert_anthropic_error(response: httpx.Response, status: int, error_type: str) -> dict[str, Any]:
    """Check an Anthropic-shaped error response exactly and return its inner ``error`` object."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].split(";")[0].strip() == "application/json"
    request_id = response.headers.get("request-id")
    assert request_id and request_id.startswith("req_"), response.headers
    body = response.json()
    assert isinstance(body, dict) and set(body) == {"type", "error", "request_id"}, body
    assert body["type"] == "error"
    assert body["request_id"] == request_id
    error = body["error"]
    assert isinstance(error, dict) and set(error) == {"type", "message"}, error
    assert error["type"] == error_type, error
    assert isinstance(error["message"], str) and error["message"]
    return error


def split_events(raw: bytes) -> list[tuple[str, dict[str, Any]]]:
    """Split a raw Messages stream into (event name, JSON payload), checking every frame's bytes.

    Each frame must be exactly ``event: <name>\\ndata: <json>\\n\\n`` with the payload's
    ``type`` equal to the event name.
    """
    assert b"\r" not in raw, "the stream must use LF framing only"
    assert raw.endswith(b"\n\n"), raw[-80:]
    events: list[tuple[str, dict[str, Any]]] = []
    for frame in raw[:-2].split(b"\n\n"):
        lines = frame.split(b"\n")
        assert len(lines) == 2, frame[:200]
        event_line, data_line = lines
        assert event_line.startswith(b"event: "), frame[:200]
        assert data_line.startswith(b"data: "), frame[:200]
        name = event_line[len(b"event: ") :].decode()
        payload = json.loads(data_line[len(b"data: ") :])
        assert isinstance(payload, dict)
        assert payload["type"] == name, frame[:200]
        events.append((name, payload))
    return events
