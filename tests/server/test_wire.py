"""The stream write policy both stream loops share (``server.wire.StreamWire``)."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from llm_simulator.server.connection import StreamWatch
from llm_simulator.server.wire import StreamWire


def recording_wire() -> tuple[StreamWire, list[tuple[MutableMapping[str, Any], bool]]]:
    """A wire whose writes are recorded with whether the sweep saw them in progress."""
    watch = StreamWatch()
    writes: list[tuple[MutableMapping[str, Any], bool]] = []

    async def send(message: MutableMapping[str, Any]) -> None:
        writes.append((message, watch.sending))

    return StreamWire(send, watch), writes


async def test_last_frames_end_the_body_once_some_of_it_was_written() -> None:
    wire, writes = recording_wire()
    await wire.write({"type": "http.response.start", "status": 200, "headers": []})
    await wire.frames([b"a", b"b"])
    await wire.last([b"c", b"d", b"e"])
    assert [m.get("body") for m, _ in writes] == [None, b"ab", b"cde"]
    assert writes[1][0]["more_body"] is True and "more_body" not in writes[2][0]
    assert wire.ended
    assert all(sending for _, sending in writes)  # every write is watched
    assert not wire.watch.sending
    assert wire.watch.sent - wire.framing == 5  # the chunk count: events, not writes


async def test_last_frames_in_the_bodys_first_write_leave_the_end_to_the_caller() -> None:
    """Granian would frame a one-write body with a content-length: the body stays open."""
    wire, writes = recording_wire()
    await wire.write({"type": "http.response.start", "status": 200, "headers": []})
    await wire.last_body(b"only", 1)
    assert writes[1][0] == {"type": "http.response.body", "body": b"only", "more_body": True}
    assert not wire.ended
    await wire.write({"type": "http.response.body", "body": b""})
    assert wire.framing == 2 and wire.watch.sent - wire.framing == 1
