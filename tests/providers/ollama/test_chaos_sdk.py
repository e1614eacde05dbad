"""Chaos, rate limits, auth, fixtures and telemetry on the Ollama door, as the ``ollama`` client sees them.

Each stream fault is checked in NDJSON framing: an error object line (the client raises
``ResponseError``), a cut connection, a line cut short, a stream without its ``done`` line,
a stall between lines.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import ollama
import pytest

from tests.live import LiveServer, live_server

CONTROL = "x-simulator-chaos"
USER = [{"role": "user", "content": "Write a long story."}]
KEY = "ollama-key"
CONFIG = """\
rate_limits:
  tiers:
    - name: limited
      api_keys: [ollama-limited]
      requests_per_minute: 1
"""
FIXTURES = """\
rules:
  - name: greeting
    match: {provider: ollama, message: {contains: "hello there"}}
    respond: {text: "General Kenobi."}
  - name: refusal
    match: {provider: ollama, message: {contains: "refuse me"}}
    respond: {error: {status: 503, message: "scripted outage"}}
"""


@pytest.fixture(scope="module")
def chaos_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Rate limits on (one tier for one key), fixtures loaded, chaos off until a header asks."""
    folder: Path = tmp_path_factory.mktemp("ollama-chaos")
    (folder / "config.yaml").write_text(CONFIG)
    (folder / "fixtures.yaml").write_text(FIXTURES)
    args = ["--no-latency", "--rate-limits", "--config", str(folder / "config.yaml")]
    with live_server(*args, "--fixtures", str(folder / "fixtures.yaml")) as live:
        yield live


def _client(server: LiveServer, control: str | None = None, key: str | None = None) -> ollama.Client:
    headers = {CONTROL: control} if control else {}
    if key:
        headers["authorization"] = f"Bearer {key}"
    return ollama.Client(host=server.url, headers=headers)


def _stream(server: LiveServer, control: str, parts: list[Any]) -> None:
    with _client(server, control) as client:
        for part in client.chat(model="llama3.2", messages=USER, stream=True, options={"num_predict": 20}):
            parts.append(part)


def test_error_event_is_an_error_line_the_client_raises(chaos_server: LiveServer) -> None:
    parts: list[Any] = []
    with pytest.raises(ollama.ResponseError) as info:
        _stream(chaos_server, "fault=error_event; after=3; fault_error=overloaded", parts)
    assert len(parts) == 3
    assert info.value.error == "server busy, please try again.  maximum pending requests exceeded"


def test_disconnect_is_a_transport_error(chaos_server: LiveServer) -> None:
    parts: list[Any] = []
    with pytest.raises(httpx.RemoteProtocolError):
        _stream(chaos_server, "fault=disconnect; after=3", parts)
    assert len(parts) == 3


def test_malformed_line_fails_to_parse(chaos_server: LiveServer) -> None:
    parts: list[Any] = []
    with pytest.raises(json.JSONDecodeError):
        _stream(chaos_server, "fault=malformed; after=3", parts)
    assert len(parts) == 3


def test_no_terminator_ends_without_the_done_line(chaos_server: LiveServer) -> None:
    parts: list[Any] = []
    _stream(chaos_server, "fault=no_terminator; after=3", parts)
    assert len(parts) == 3
    assert not any(part.done for part in parts)


def test_stall_is_a_gap_between_lines(chaos_server: LiveServer) -> None:
    arrivals: list[float] = []
    with _client(chaos_server, "fault=stall; after=3; duration_ms=400") as client:
        for part in client.chat(model="llama3.2", messages=USER, stream=True, options={"num_predict": 8}):
            arrivals.append(time.monotonic())
            last = part
    assert last.done
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    assert max(gaps) >= 0.35  # the stall; without latency every other gap is near zero


@pytest.mark.parametrize(
    ("control", "status", "message"),
    [
        ("error=overloaded", 503, "server busy, please try again.  maximum pending requests exceeded"),
        ("error=server_error", 500, None),
        ("error=rate_limit", 429, None),
    ],
)
def test_errors_before_the_stream_are_ollama_shaped(
    chaos_server: LiveServer, control: str, status: int, message: str | None
) -> None:
    with _client(chaos_server, control) as client, pytest.raises(ollama.ResponseError) as info:
        client.chat(model="llama3.2", messages=USER)
    assert info.value.status_code == status
    assert isinstance(info.value.error, str) and info.value.error
    if message is not None:
        assert info.value.error == message


def test_bad_control_header_is_a_400(chaos_server: LiveServer) -> None:
    with _client(chaos_server, "fault=sideways") as client, pytest.raises(ollama.ResponseError) as info:
        client.chat(model="llama3.2", messages=USER)
    assert info.value.status_code == 400
    assert CONTROL in info.value.error


def test_rate_limit_tier_answers_429_with_retry_after(chaos_server: LiveServer) -> None:
    httpx.post(chaos_server.url + "/admin/rate-limits/reset", timeout=5)
    headers = {"authorization": "Bearer ollama-limited"}
    body = {"model": "llama3.2", "messages": USER, "stream": False}
    first = httpx.post(chaos_server.url + "/api/chat", json=body, headers=headers, timeout=10)
    assert first.status_code == 200
    second = httpx.post(chaos_server.url + "/api/chat", json=body, headers=headers, timeout=10)
    assert second.status_code == 429
    assert second.json() == {"error": "rate limit exceeded: 1 requests per minute"}
    assert 55 <= float(second.headers["retry-after"]) <= 60


def test_fixtures_answer_ollama_requests(chaos_server: LiveServer) -> None:
    with _client(chaos_server) as client:
        reply = client.chat(model="llama3.2", messages=[{"role": "user", "content": "hello there"}])
        assert reply.message.content == "General Kenobi."
        streamed = client.generate(model="llama3.2", prompt="hello there", stream=True)
        assert "".join(p.response for p in streamed) == "General Kenobi."
        with pytest.raises(ollama.ResponseError) as info:
            client.chat(model="llama3.2", messages=[{"role": "user", "content": "refuse me"}])
    assert (info.value.status_code, info.value.error) == (503, "scripted outage")


def test_telemetry_counts_the_ollama_door(chaos_server: LiveServer) -> None:
    with _client(chaos_server) as client:
        client.chat(model="llama3.2", messages=USER, options={"num_predict": 4})
        client.embed(model="nomic-embed-text", input="x")
    stats = httpx.get(chaos_server.url + "/admin/stats", timeout=5).json()
    endpoints = {row["endpoint"] for row in stats["requests"] if row["provider"] == "ollama" and row["status"] == 200}
    assert {"chat", "embedding"} <= endpoints
    metrics = httpx.get(chaos_server.url + "/metrics", timeout=5).text
    assert 'provider="ollama"' in metrics


@pytest.fixture(scope="module")
def auth_server() -> Iterator[LiveServer]:
    with live_server("--no-latency", "--require-auth", "--api-key", KEY) as live:
        yield live


def test_require_auth_takes_a_bearer_key(auth_server: LiveServer) -> None:
    with _client(auth_server, key=KEY) as client:
        assert client.chat(model="llama3.2", messages=USER, options={"num_predict": 2}).done
    for key in (None, "wrong"):
        with _client(auth_server, key=key) as client, pytest.raises(ollama.ResponseError) as info:
            client.list()
        assert (info.value.status_code, info.value.error) == (401, "unauthorized")
