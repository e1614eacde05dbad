"""Raw wire checks with httpx: SSE framing, headers, content length and request ids."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.live import LiveServer
from tests.providers.openai.helpers import split_sse, sse_json

CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Say something."}], "max_tokens": 12}
LEGACY = {"model": "gpt-3.5-turbo-instruct", "prompt": "Once upon a time", "max_tokens": 12}


@pytest.fixture(scope="module")
def http(server: LiveServer) -> Iterator[httpx.Client]:
    """A plain httpx client on the OpenAI base URL."""
    with httpx.Client(base_url=server.openai_base, timeout=30) as c:
        yield c


def _stream(
    http: httpx.Client, path: str, body: dict[str, Any], headers: dict[str, str] | None = None
) -> tuple[httpx.Response, bytes]:
    """POST a streaming request; return the response (headers) and the raw, undecoded body."""
    with http.stream("POST", path, json=body, headers=headers) as resp:
        raw = b"".join(resp.iter_raw())
    return resp, raw


@pytest.mark.parametrize(("path", "body"), [("/chat/completions", CHAT), ("/completions", LEGACY)])
def test_stream_framing(http: httpx.Client, path: str, body: dict[str, Any]) -> None:
    resp, raw = _stream(http, path, {**body, "stream": True, "n": 2}, {"Accept-Encoding": "gzip, deflate, br"})
    assert resp.status_code == 200
    media_type = resp.headers["content-type"].split(";")[0].strip()
    assert media_type == "text/event-stream"
    assert "content-encoding" not in resp.headers
    assert "content-length" not in resp.headers
    events = split_sse(raw)
    chunks = sse_json(events)
    assert len(chunks) >= 4
    assert not any("error" in c for c in chunks)
    assert len({c["id"] for c in chunks}) == 1
    assert len({c["created"] for c in chunks}) == 1
    assert len({c["model"] for c in chunks}) == 1
    expected_object = "chat.completion.chunk" if path == "/chat/completions" else "text_completion"
    assert {c["object"] for c in chunks} == {expected_object}
    # Without include_usage there is no usage key at all and no usage-only chunk.
    assert not any("usage" in c for c in chunks)
    assert all(len(c["choices"]) == 1 for c in chunks)
    # Each choice finishes exactly once, in its last chunk.
    for index in (0, 1):
        mine = [c["choices"][0] for c in chunks if c["choices"][0]["index"] == index]
        assert [ch["finish_reason"] is not None for ch in mine] == [False] * (len(mine) - 1) + [True]


@pytest.mark.parametrize(("path", "body"), [("/chat/completions", CHAT), ("/completions", LEGACY)])
def test_stream_include_usage(http: httpx.Client, path: str, body: dict[str, Any]) -> None:
    request = {**body, "stream": True, "stream_options": {"include_usage": True}}
    resp, raw = _stream(http, path, request)
    assert resp.status_code == 200
    chunks = sse_json(split_sse(raw))
    *content, last = chunks
    assert last["choices"] == []
    usage = last["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert all("usage" in c and c["usage"] is None for c in content)
    assert all(c["choices"] for c in content)
    assert not any("error" in c for c in chunks)
    assert len({c["id"] for c in chunks}) == 1


def test_chat_stream_first_delta_has_role_only_once(http: httpx.Client) -> None:
    _, raw = _stream(http, "/chat/completions", {**CHAT, "stream": True})
    chunks = sse_json(split_sse(raw))
    deltas = [c["choices"][0]["delta"] for c in chunks]
    assert deltas[0].get("role") == "assistant"
    assert all("role" not in d for d in deltas[1:])
    assert deltas[-1] == {}


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/chat/completions", CHAT),
        ("/completions", LEGACY),
        ("/embeddings", {"model": "text-embedding-3-small", "input": "hi"}),
    ],
)
def test_json_response_headers(http: httpx.Client, path: str, body: dict[str, Any]) -> None:
    with http.stream("POST", path, json=body, headers={"Accept-Encoding": "gzip"}) as resp:
        raw = b"".join(resp.iter_raw())
    assert resp.status_code == 200
    assert resp.headers["content-type"].split(";")[0].strip() == "application/json"
    assert "content-encoding" not in resp.headers
    assert int(resp.headers["content-length"]) == len(raw)
    assert isinstance(json.loads(raw), dict)


def test_json_content_length_with_non_ascii(http: httpx.Client) -> None:
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "héllo 日本"}], "max_tokens": 2}
    with http.stream("POST", "/chat/completions?x=ü", json=body) as resp:
        raw = b"".join(resp.iter_raw())
    assert int(resp.headers["content-length"]) == len(raw)


def test_error_response_has_content_length(http: httpx.Client) -> None:
    with http.stream("POST", "/chat/completions", content=b"{not json") as resp:
        raw = b"".join(resp.iter_raw())
    assert resp.status_code == 400
    assert resp.headers["content-type"].split(";")[0].strip() == "application/json"
    assert int(resp.headers["content-length"]) == len(raw)


def test_request_id_echoed_on_json(http: httpx.Client) -> None:
    resp = http.post("/chat/completions", json=CHAT, headers={"X-Request-ID": "my-trace-123"})
    assert resp.status_code == 200
    assert resp.headers.get_list("x-request-id") == ["my-trace-123"]


def test_request_id_echoed_on_stream(http: httpx.Client) -> None:
    resp, _ = _stream(http, "/chat/completions", {**CHAT, "stream": True}, {"X-Request-ID": "stream-trace-9"})
    assert resp.headers.get_list("x-request-id") == ["stream-trace-9"]


def test_request_id_echoed_on_error(http: httpx.Client) -> None:
    resp = http.post("/chat/completions", json={"model": "gpt-4o"}, headers={"X-Request-ID": "err-trace-1"})
    assert resp.status_code == 400
    assert resp.headers.get_list("x-request-id") == ["err-trace-1"]


def test_request_id_generated_when_absent(http: httpx.Client) -> None:
    ids = set()
    for body in ({**CHAT}, {**CHAT, "stream": True}):
        resp, _ = _stream(http, "/chat/completions", body)
        values = resp.headers.get_list("x-request-id")
        assert len(values) == 1
        assert values[0].startswith("req_")
        ids.add(values[0])
    assert len(ids) == 2
