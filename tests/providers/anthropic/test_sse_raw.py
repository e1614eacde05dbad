"""Raw wire checks with httpx: the Messages event stream byte for byte, headers and request ids."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.live import LiveServer
from tests.providers.anthropic.helpers import ANTHROPIC_HEADERS, BODY, DATED_MODEL, split_events


def _stream(
    http: httpx.Client, body: dict[str, Any], headers: dict[str, str] | None = None
) -> tuple[httpx.Response, bytes]:
    """POST a streaming Messages request; the response (headers) and the raw, undecoded body."""
    with http.stream("POST", "/v1/messages", json={**body, "stream": True}, headers=headers) as resp:
        raw = b"".join(resp.iter_raw())
    return resp, raw


@pytest.mark.parametrize("max_tokens", [1, 7, 40])
def test_stream_frames_and_order(http: httpx.Client, max_tokens: int) -> None:
    resp, raw = _stream(http, {**BODY, "max_tokens": max_tokens}, {"Accept-Encoding": "gzip, deflate, br"})
    assert resp.status_code == 200
    assert resp.headers["content-type"].split(";")[0].strip() == "text/event-stream"
    assert "content-encoding" not in resp.headers
    assert "content-length" not in resp.headers
    events = split_events(raw)
    names = [name for name, _ in events]
    deltas = [payload for name, payload in events if name == "content_block_delta"]
    assert names == (
        ["message_start", "content_block_start", "ping"]
        + ["content_block_delta"] * len(deltas)
        + ["content_block_stop", "message_delta", "message_stop"]
    )
    assert 1 <= len(deltas) <= max_tokens

    start = events[0][1]
    assert set(start) == {"type", "message"}
    message = start["message"]
    assert message["id"].startswith("msg_")
    assert message["type"] == "message" and message["role"] == "assistant"
    assert message["model"] == DATED_MODEL
    assert message["content"] == []
    assert message["stop_reason"] is None and message["stop_sequence"] is None
    assert message["usage"]["input_tokens"] > 0
    assert isinstance(message["usage"]["output_tokens"], int)

    assert events[1][1] == {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
    assert events[2][1] == {"type": "ping"}
    for delta in deltas:
        assert set(delta) == {"type", "index", "delta"}
        assert delta["index"] == 0
        assert delta["delta"]["type"] == "text_delta"
        assert isinstance(delta["delta"]["text"], str) and delta["delta"]["text"]
    assert events[-3][1] == {"type": "content_block_stop", "index": 0}

    final = events[-2][1]
    assert set(final) == {"type", "delta", "usage"}
    assert final["delta"]["stop_reason"] in ("end_turn", "max_tokens")
    assert final["delta"]["stop_sequence"] is None
    assert final["usage"]["output_tokens"] == len(deltas), "one token per delta"
    assert final["usage"]["input_tokens"] == message["usage"]["input_tokens"]
    if final["delta"]["stop_reason"] == "max_tokens":
        assert len(deltas) == max_tokens
    assert events[-1][1] == {"type": "message_stop"}


def test_stream_text_equals_json_text(http: httpx.Client) -> None:
    seeded = {"x-simulator-seed": "99"}
    body = {**BODY, "max_tokens": 30}
    _, raw = _stream(http, body, seeded)
    events = split_events(raw)
    text = "".join(p["delta"]["text"] for name, p in events if name == "content_block_delta")
    plain = http.post("/v1/messages", json=body, headers=seeded).json()
    assert plain["content"] == [{"type": "text", "text": text}]
    assert plain["usage"]["output_tokens"] == events[-2][1]["usage"]["output_tokens"]
    assert plain["stop_reason"] == events[-2][1]["delta"]["stop_reason"]


def test_stream_with_stop_sequence(http: httpx.Client) -> None:
    body = {**BODY, "max_tokens": 300, "stop_sequences": ["."]}
    _, raw = _stream(http, body, {"x-simulator-seed": "5"})
    events = split_events(raw)
    final = events[-2][1]
    assert final["delta"] == {"stop_reason": "stop_sequence", "stop_sequence": "."}
    text = "".join(p["delta"]["text"] for name, p in events if name == "content_block_delta")
    assert "." not in text


def test_json_response(http: httpx.Client) -> None:
    with http.stream("POST", "/v1/messages", json=BODY, headers={"Accept-Encoding": "gzip"}) as resp:
        raw = b"".join(resp.iter_raw())
    assert resp.status_code == 200
    assert resp.headers["content-type"].split(";")[0].strip() == "application/json"
    assert "content-encoding" not in resp.headers
    assert int(resp.headers["content-length"]) == len(raw)
    body = json.loads(raw)
    assert set(body) == {"id", "type", "role", "model", "content", "stop_reason", "stop_sequence", "usage"}
    assert body["usage"] == {
        "input_tokens": body["usage"]["input_tokens"],
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
        "output_tokens": 8,
        "service_tier": "standard",
    }


@pytest.mark.parametrize("stream", [False, True])
def test_request_id_headers(http: httpx.Client, stream: bool) -> None:
    ids = set()
    for _ in range(2):
        with http.stream("POST", "/v1/messages", json={**BODY, "stream": stream}) as resp:
            resp.read()
        assert resp.status_code == 200
        values = resp.headers.get_list("request-id")
        assert len(values) == 1 and values[0].startswith("req_")
        assert resp.headers.get_list("x-request-id") == values
        ids.add(values[0])
    assert len(ids) == 2


def test_request_id_on_other_routes(http: httpx.Client) -> None:
    counted = http.post("/v1/messages/count_tokens", json={"model": BODY["model"], "messages": BODY["messages"]})
    for resp in (counted, http.get("/v1/models"), http.get(f"/v1/models/{DATED_MODEL}")):
        assert resp.status_code == 200
        assert resp.headers["request-id"].startswith("req_")
        assert resp.headers.get_list("x-request-id") == resp.headers.get_list("request-id")


def test_client_request_id_is_echoed(http: httpx.Client) -> None:
    resp = http.post("/v1/messages", json=BODY, headers={"X-Request-ID": "trace-42"})
    assert resp.headers.get_list("request-id") == ["trace-42"]
    error = http.post("/v1/messages", json={"model": BODY["model"]}, headers={"X-Request-ID": "trace-43"})
    assert error.headers.get_list("request-id") == ["trace-43"]
    assert error.json()["request_id"] == "trace-43"


def test_beta_query_on_the_wire(fast_server: LiveServer) -> None:
    headers = {**ANTHROPIC_HEADERS, "anthropic-beta": "context-1m-2025-08-07"}
    resp = httpx.post(fast_server.url + "/v1/messages?beta=true", json=BODY, headers=headers, timeout=10)
    assert resp.status_code == 200 and resp.json()["type"] == "message"
    body = {"model": BODY["model"], "messages": BODY["messages"]}
    resp = httpx.post(fast_server.url + "/v1/messages/count_tokens?beta=true", json=body, headers=headers, timeout=10)
    assert resp.status_code == 200 and set(resp.json()) == {"input_tokens"}
