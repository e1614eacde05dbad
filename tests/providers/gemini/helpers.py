"""Shared assertions for the Gemini wire tests: Google error bodies and raw stream framing."""

from __future__ import annotations

import json
from typing import Any

import httpx
from google.genai import errors

CONTENTS: list[dict[str, Any]] = [{"role": "user", "parts": [{"text": "Tell me something."}]}]
BODY: dict[str, Any] = {"contents": CONTENTS, "generationConfig": {"maxOutputTokens": 8}}
# A model without thinking: usage and MAX_TOKENS checks count visible tokens only (thinking
# models spend hidden tokens first; see test_thinking.py).
CHAT_MODEL = "gemini-2.0-flash"
EMBED_MODEL = "text-embedding-004"
# Characters that end a line for str.splitlines (the SDK's line reader) but not for JSON.
LINE_BREAKS = ("\u2028", "\u2029", "\u0085")


def check_error_body(body: Any, code: int, status: str | None) -> dict[str, Any]:
    """``{"error": {"code": <code>, "message": str, "status": str}}`` and nothing else."""
    assert isinstance(body, dict) and list(body) == ["error"], body
    error = body["error"]
    assert isinstance(error, dict) and set(error) == {"code", "message", "status"}, error
    assert type(error["code"]) is int and error["code"] == code, error
    assert isinstance(error["message"], str) and error["message"], error
    assert isinstance(error["status"], str) and error["status"].isupper(), error
    if status is not None:
        assert error["status"] == status, error
    return error


def assert_google_error(response: httpx.Response, code: int, status: str | None = None) -> dict[str, Any]:
    """Check a Google-shaped error response (status line, JSON type, exact body) and return ``error``."""
    assert response.status_code == code, response.text
    assert response.headers["content-type"].startswith("application/json")
    return check_error_body(response.json(), code, status)


def assert_sdk_error(exc: errors.APIError, code: int, status: str) -> dict[str, Any]:
    """The SDK exception carries the HTTP status, the canonical status and the whole body."""
    assert exc.code == code
    assert exc.status == status
    assert isinstance(exc.message, str) and exc.message
    return check_error_body(exc.details, code, status)


def split_sse(raw: bytes) -> list[dict[str, Any]]:
    """Parse an ``alt=sse`` body, checking every event is exactly ``data: <json>\\n\\n``.

    LF, not CRLF: load testers (aiperf, inference-perf, vLLM bench) split events on ``\\n\\n``.
    """
    assert raw.endswith(b"\n\n"), raw[-80:]
    chunks: list[dict[str, Any]] = []
    for event in raw[: -len(b"\n\n")].split(b"\n\n"):
        assert event.startswith(b"data: "), event[:80]
        payload = event[len(b"data: ") :]
        assert b"\n" not in payload and b"\r" not in payload, event[:120]
        assert payload != b"[DONE]"
        decoded = payload.decode()
        assert not any(ch in decoded for ch in LINE_BREAKS), "raw line break inside an event"
        chunk = json.loads(decoded)
        assert isinstance(chunk, dict)
        chunks.append(chunk)
    return chunks


def chunk_text(chunk: dict[str, Any], index: int = 0) -> str:
    """The text of candidate ``index`` in one raw response object ("" if absent)."""
    for candidate in chunk.get("candidates", []):
        if candidate.get("index", 0) == index:
            # A candidate that shows nothing has a content without parts, as on the API.
            return "".join(part.get("text", "") for part in candidate["content"].get("parts", []))
    return ""
