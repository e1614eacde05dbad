"""The WebSocket bench client (``bench/ws_sessions.py``) counts what a real session sends.

The client reads frames by their headers and recognises a text delta by its type string,
without a WebSocket library: these tests hold it to the server's actual frames (against a
real socket) and to reads that split a frame or carry an extended length.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from llm_simulator.testing import SimulatorHandle

BENCH = Path(__file__).resolve().parents[3] / "bench"


@pytest.fixture(scope="module")
def bench() -> Iterator[ModuleType]:
    """``bench/ws_sessions.py`` imported as the benchmark runs it (its directory on the path)."""
    sys.path.insert(0, str(BENCH))
    try:
        yield importlib.import_module("ws_sessions")
    finally:
        sys.path.remove(str(BENCH))


class _Transport:
    """What the client writes, and whether it closed."""

    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True


def _same(protocol: asyncio.Protocol) -> asyncio.Protocol:
    return protocol


def _server_frame(text: str) -> bytes:
    data = text.encode()
    if len(data) < 126:
        return bytes([0x81, len(data)]) + data
    return bytes([0x81, 126]) + len(data).to_bytes(2, "big") + data


async def test_every_delta_of_a_real_session_is_counted(bench: ModuleType, sim: SimulatorHandle) -> None:
    port = int(sim.server.url.rsplit(":", 1)[1])
    loop = asyncio.get_running_loop()
    records = []
    for tokens in (16, 40):
        record: Any = bench.s.StreamRecord()
        finished: asyncio.Future[None] = loop.create_future()
        request = bench.upgrade_request(port, "/v1/realtime?model=gpt-realtime").replace(b"sk-bench", b"sk-test")
        client: asyncio.Protocol = bench.SessionClient(request, bench.session_script(tokens), record, finished)
        transport, _ = await loop.create_connection(functools.partial(_same, client), "127.0.0.1", port)
        try:
            await asyncio.wait_for(finished, 30)
        finally:
            transport.close()
        records.append(record)
    assert [(len(r.arrivals), r.done, r.error) for r in records] == [(16, True, None), (40, True, None)]


async def test_every_model_turn_of_a_real_live_session_is_counted(
    bench: ModuleType, sim: SimulatorHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bench.s, "MODEL", "gemini-2.0-flash")  # the setup's model
    port = int(sim.server.url.rsplit(":", 1)[1])
    loop = asyncio.get_running_loop()
    record: Any = bench.s.StreamRecord()
    finished: asyncio.Future[None] = loop.create_future()
    api = bench.APIS["live"]
    request = bench.upgrade_request(port, api.path)
    client: asyncio.Protocol = bench.SessionClient(request, api.script(12), record, finished, api)
    transport, _ = await loop.create_connection(functools.partial(_same, client), "127.0.0.1", port)
    try:
        await asyncio.wait_for(finished, 30)
    finally:
        transport.close()
    assert (len(record.arrivals), record.done, record.error) == (12, True, None)


def test_frames_split_across_reads_and_long_frames_are_read_whole(bench: ModuleType) -> None:
    record: Any = bench.s.StreamRecord()
    loop = asyncio.new_event_loop()
    try:
        finished: asyncio.Future[None] = loop.create_future()
        client = bench.SessionClient(b"GET", bench.session_script(16), record, finished)
        transport = _Transport()
        client.connection_made(transport)
        setup = b"".join(_server_frame('{"type":"x"}') for _ in range(4))  # created, updated, added, done
        delta = '{"event_id":"e","type":"response.output_text.delta","delta":"' + "y" * 200 + '"}'
        stream = setup + _server_frame(delta) * 3 + _server_frame('{"type":"response.done"}') + b"\x81\x00"
        data = b"HTTP/1.1 101 Switching Protocols\r\n\r\n" + stream
        for at in range(0, len(data), 7):  # reads that cut headers, lengths and payloads
            client.data_received(data[at : at + 7])
        assert len(record.arrivals) == 3 and record.done and record.error is None
        assert transport.closed and transport.written[-1] == bench.CLOSE_FRAME
        assert len(transport.written) == 5  # the upgrade request and the three scripted frames, then close
    finally:
        loop.close()
