"""The bare benchmark apps (the transport floors in ``bench/``) answer the ASGI lifespan handshake.

``transport.py``, ``ws_transport.py``, ``memory.py`` and the floors of ``streams.py`` and
``throughput.py`` (``_stream_floor.py``, ``_json_floor.py``) each serve a bare ASGI app under
granian; all share ``_common.serve_lifespan`` for the handshake. A server that gets no
``lifespan.startup.complete`` logs a failure (or waits), so each app is driven through the
handshake as a server drives it: startup (possibly more than once), then shutdown.
"""

from __future__ import annotations

import asyncio
import importlib
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
APPS = [
    ("transport", "asgi_app"),
    ("ws_transport", "app"),
    ("memory", "idle_app"),
    ("_stream_floor", "app"),
    ("_json_floor", "app"),
]


@pytest.fixture(scope="module")
def bench_path() -> Iterator[None]:
    """``bench/`` on the import path, as the benchmarks run (granian imports ``module:app`` from it)."""
    sys.path.insert(0, str(BENCH))
    try:
        yield
    finally:
        sys.path.remove(str(BENCH))


def _handshake(app: Any, incoming: list[str]) -> list[str]:
    """The message types ``app`` sends for a lifespan scope receiving ``incoming`` in order."""
    received = iter(incoming)
    sent: list[str] = []

    async def receive() -> dict[str, Any]:
        return {"type": next(received)}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message["type"])

    asyncio.run(asyncio.wait_for(app({"type": "lifespan"}, receive, send), 5))
    return sent


@pytest.mark.usefixtures("bench_path")
@pytest.mark.parametrize(("module", "name"), APPS)
def test_a_bare_app_completes_startup_then_shutdown(module: str, name: str) -> None:
    app = getattr(importlib.import_module(module), name)
    assert _handshake(app, ["lifespan.startup", "lifespan.shutdown"]) == [
        "lifespan.startup.complete",
        "lifespan.shutdown.complete",
    ]
    # Each startup is answered (a server may send one per worker restart) before the shutdown.
    assert _handshake(app, ["lifespan.startup", "lifespan.startup", "lifespan.shutdown"]) == [
        "lifespan.startup.complete",
        "lifespan.startup.complete",
        "lifespan.shutdown.complete",
    ]


def _http_exchange(
    app: Any, body: bytes, *, chunked_body: bool, split: bool = False, received: list[float] | None = None
) -> list[tuple[float, dict[str, Any]]]:
    """Drive one POST through ``app`` as granian does; the messages it sends, each with its time.

    ``split``: the body's data comes in two messages. ``received`` gets the time each
    ``receive`` returned (the app cannot have seen the body before the last of them).
    """
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/chat/completions",
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
    }
    # granian hands the data with more_body set, then an empty last message; or all at once.
    messages = [(body, True), (b"", False)] if chunked_body else [(body, False)]
    if split:
        messages = [(body[:3], True), (body[3:], True), (b"", False)]
    incoming = iter(messages)
    sent: list[tuple[float, dict[str, Any]]] = []

    async def receive() -> dict[str, Any]:
        data, more = next(incoming)
        if received is not None:
            received.append(time.monotonic())
        return {"type": "http.request", "body": data, "more_body": more}

    async def send(message: dict[str, Any]) -> None:
        sent.append((time.monotonic(), message))

    asyncio.run(asyncio.wait_for(app(scope, receive, send), 10))
    return sent


@pytest.mark.usefixtures("bench_path")
@pytest.mark.parametrize("tokens", [1, 2, 7])
def test_the_stream_floor_writes_max_tokens_content_chunks_never_early_then_done(tokens: int) -> None:
    floor = importlib.import_module("_stream_floor")
    received: list[float] = []
    sent = _http_exchange(floor.app, b'{"max_tokens": %d}' % tokens, chunked_body=True, received=received)
    started = received[-1]  # the floor notes its arrival after its last receive: no earlier than this
    assert sent[0][1]["type"] == "http.response.start" and sent[0][1]["status"] == 200
    bodies = [(at, m) for at, m in sent[1:]]
    assert all(m["type"] == "http.response.body" for _, m in bodies)
    assert [m.get("more_body", False) for _, m in bodies] == [True] * (len(bodies) - 1) + [False]
    stream = b"".join(m["body"] for _, m in bodies)
    assert stream.count(b'"delta":{"content":"') == tokens  # what streams.py counts as a token
    assert stream.count(b'"role":"assistant"') == 1 and stream.endswith(b"data: [DONE]\n\n")
    # Token k (its write) never before arrival + TTFT + k x ITL.
    token_writes = [at for at, m in bodies for _ in range(m["body"].count(b'"delta":{"content":"'))]
    for k, at in enumerate(token_writes):
        assert at >= started + floor.TTFT_S + k * floor.ITL_S - 1e-6, k


@pytest.mark.usefixtures("bench_path")
@pytest.mark.parametrize(("chunked_body", "split"), [(True, False), (False, False), (True, True)])
def test_the_json_floor_answers_a_post_with_its_bytes_after_reading_the_body(chunked_body: bool, split: bool) -> None:
    floor = importlib.import_module("_json_floor")
    received: list[float] = []
    sent = _http_exchange(floor.app, b'{"model": "m"}', chunked_body=chunked_body, split=split, received=received)
    assert len(received) == (2 if split else 1)  # the whole declared length, not the empty last message
    assert sent[0][0] >= received[-1]
    assert [m["type"] for _, m in sent] == ["http.response.start", "http.response.body"]
    assert sent[1][1]["body"] == floor.ANSWER
    assert (b"content-length", str(len(floor.ANSWER)).encode()) in sent[0][1]["headers"]


@pytest.mark.usefixtures("bench_path")
def test_mean_itl_by_arrival_quarter_shows_which_arrivals_ran_short() -> None:
    streams = importlib.import_module("streams")
    records = []
    for i in range(8):
        gap = 0.020 if i < 4 else 0.019  # the later half's tokens come closer together
        records.append(streams.StreamRecord(sent=float(i), arrivals=[i + 0.02 + k * gap for k in range(5)]))
    records.append(streams.StreamRecord(sent=99.0, arrivals=[99.1]))  # incomplete: left out
    assert streams.mean_itl_by_arrival_quarter(records, 5) == [20.0, 20.0, 19.0, 19.0]
    assert streams.mean_itl_by_arrival_quarter(records[:2], 5) == [None] * 4  # too few to split
