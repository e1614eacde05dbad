"""Clients that disconnect mid-stream leave no stream, timer or task behind."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.live import LiveServer, live_server
from tests.providers.openai.helpers import split_sse, sse_json

STREAMS = 20
# Real-time latencies (gpt-4-class inter-token latency of tens of ms) and 4000 forced tokens:
# each stream would run for minutes if the server did not notice the client leaving.
SLOW_CHAT: dict[str, Any] = {
    "model": "gpt-4o",
    "messages": [{"role": "user", "content": "Write a very long story."}],
    "max_tokens": 4000,
    "ignore_eos": True,
    "stream": True,
}
SLOW_LEGACY: dict[str, Any] = {
    "model": "davinci-002",
    "prompt": "Write a very long story.",
    "max_tokens": 4000,
    "ignore_eos": True,
    "stream": True,
    "stream_options": {"include_usage": True},
}


@pytest.fixture(scope="module")
def slow_server() -> Iterator[LiveServer]:
    """A simulator with real-time latencies."""
    with live_server("--latency-multiplier", "1") as live:
        yield live


def _stats(server: LiveServer) -> dict[str, Any]:
    resp = httpx.get(server.url + "/admin/stats", timeout=5)
    assert resp.status_code == 200
    stats: dict[str, Any] = resp.json()
    return stats


def _wait_idle(server: LiveServer, timeout: float = 5.0) -> dict[str, Any]:
    """Poll until no stream is active and no timer is pending (or fail after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while True:
        stats = _stats(server)
        if stats["active_streams"] == 0 and stats["scheduler_pending"] == 0:
            return stats
        if time.monotonic() > deadline:
            pytest.fail(f"server did not release disconnected streams: {stats}")
        time.sleep(0.05)


def _open_and_abandon(server: LiveServer, body: dict[str, Any], path: str) -> None:
    """Open STREAMS streams, read two events from each while all are open, then close them all."""
    limits = httpx.Limits(max_connections=STREAMS + 2, max_keepalive_connections=0)
    with httpx.Client(base_url=server.openai_base, timeout=15, limits=limits) as client:
        responses: list[httpx.Response] = []
        iterators: list[Iterator[bytes]] = []
        try:
            for _ in range(STREAMS):
                resp = client.send(client.build_request("POST", path, json=body), stream=True)
                responses.append(resp)
                assert resp.status_code == 200
                iterators.append(resp.iter_raw())
            for it in iterators:
                received = b""
                while received.count(b"\n\n") < 2:
                    received += next(it)
                assert received.startswith(b"data: {")
            assert _stats(server)["active_streams"] == STREAMS
        finally:
            for resp in responses:
                resp.close()


@pytest.mark.parametrize(("path", "body"), [("/chat/completions", SLOW_CHAT), ("/completions", SLOW_LEGACY)])
def test_abandoned_streams_are_released(slow_server: LiveServer, path: str, body: dict[str, Any]) -> None:
    _wait_idle(slow_server)
    _open_and_abandon(slow_server, body, path)
    _wait_idle(slow_server)
    # The server is still healthy and serves a complete stream.
    quick = {**body, "max_tokens": 3}
    with httpx.stream("POST", slow_server.openai_base + path, json=quick, timeout=15) as resp:
        raw = resp.read()
    assert resp.status_code == 200
    chunks = sse_json(split_sse(raw))
    assert chunks
    stats = _wait_idle(slow_server)
    assert stats["active_requests"] == 1  # only the stats request itself


def test_disconnect_before_first_token(slow_server: LiveServer) -> None:
    """Closing right after the response headers (while waiting for the first token) is fine too."""
    _wait_idle(slow_server)
    limits = httpx.Limits(max_connections=STREAMS + 2, max_keepalive_connections=0)
    with httpx.Client(base_url=slow_server.openai_base, timeout=15, limits=limits) as client:
        responses = [
            client.send(client.build_request("POST", "/chat/completions", json=SLOW_CHAT), stream=True)
            for _ in range(STREAMS)
        ]
        for resp in responses:
            assert resp.status_code == 200
            resp.close()
    _wait_idle(slow_server)
    resp2 = httpx.post(
        slow_server.openai_base + "/chat/completions",
        json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2},
        timeout=15,
    )
    assert resp2.status_code == 200


def test_frames_are_flushed_one_by_one(slow_server: LiveServer) -> None:
    """With real inter-token gaps, frames reach the client separately (no buffering or gzip)."""
    body = {**SLOW_CHAT, "max_tokens": 8}
    with httpx.stream("POST", slow_server.openai_base + "/chat/completions", json=body, timeout=15) as resp:
        pieces = list(resp.iter_raw())
    assert len(pieces) >= 3
    assert len(sse_json(split_sse(b"".join(pieces)))) == 1 + 8 + 1
