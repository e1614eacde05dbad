"""A WebSocket turn served as an HTTP stream through the app itself, event by event.

A Realtime ``response.create``, a Responses ``response.create`` over WebSocket or a Live
client turn is one streamed request to the provider's own HTTP route
(``InternalDispatch.open``): routing, the gate, admission (breaker, rate limits, chaos),
fixtures, the engine's timing and telemetry are the HTTP path's, not a copy. ``run_turn``
hands each event's data to the session inside the app's own write (a sink, not a queue),
so each event reaches the socket in the write the engine released it with; a turn refused
before its first byte fills in its provider-shaped error body instead.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from llm_simulator.infra.sse import SseDecoder
from llm_simulator.providers.internal import InternalDispatch, ReaderGone, Sink
from llm_simulator.server.websocket.socket import Disconnected, parse_object

# Request headers a turn inherits from the socket's handshake: credentials, seeds, chaos,
# tracing (hop-by-hop and WebSocket headers stay behind).
_INHERITED = frozenset(
    {
        "authorization",
        "api-key",
        "x-api-key",
        "x-goog-api-key",
        "openai-organization",
        "openai-project",
        "traceparent",
        "x-request-id",
    }
)


def turn_headers(handshake: Mapping[str, str]) -> dict[str, str]:
    """The headers a turn's request carries: the handshake's credentials and simulator controls."""
    headers = {name: value for name, value in handshake.items() if name in _INHERITED or name.startswith("x-simulator")}
    headers["content-type"] = "application/json"
    headers.pop("x-request-id", None)  # one id per turn, not one for the whole socket
    return headers


@dataclass(slots=True)
class TurnOutcome:
    """How a turn ended: refused (``status`` >= 400 with its ``error`` body), cut, or complete."""

    status: int = 200
    error: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    cut: bool = False


class DataSplitter:
    r"""The ``data`` of each server-sent event in a body, as bytes, chunk by chunk.

    The app's encoders write whole frames (``event:`` and one ``data:`` line, a blank line),
    most often one per chunk: those shapes are cut out of the bytes directly. Any other
    frame (comments, several ``data`` lines, other fields, CR line ends) is read by the
    clients' own decoder (``infra/sse.py``, one set of event-stream rules for both), and an
    event cut across chunks waits for its end.
    """

    __slots__ = ("_pending",)

    def __init__(self) -> None:
        self._pending = b""

    def feed(self, chunk: bytes) -> list[bytes]:
        """The data of every event ``chunk`` completes (a trailing partial event is kept)."""
        if not self._pending and chunk.startswith(b"event: ") and chunk.endswith(b"\n\n"):
            # The token path: one event line, one data line, the blank line, nothing else.
            at = chunk.find(b"\n")
            alone = chunk.startswith(b"\ndata: ", at) and chunk.find(b"\n", at + 1) == len(chunk) - 2
            if alone and b"\r" not in chunk:
                return [chunk[at + 7 : -2]]
        if self._pending:
            chunk = self._pending + chunk
        if b"\r" in chunk:
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        *frames, self._pending = chunk.split(b"\n\n")
        out = []
        for frame in frames:
            # The encoders' own shapes first: a lone data line, or one event line and one data line.
            if frame.startswith(b"data: ") and b"\n" not in frame:
                out.append(frame[6:])
                continue
            at = frame.find(b"\ndata: ")
            if at >= 0 and frame.count(b"\n") == 1 and frame.startswith(b"event: "):
                out.append(frame[at + 7 :])
                continue
            data = _decoded(frame)
            if data is not None:
                out.append(data)
        return out


def _decoded(frame: bytes) -> bytes | None:
    """The data of one event frame (its lines, no blank line) as ``SseDecoder`` reads it; None without data."""
    decoder = SseDecoder()
    for line in frame.decode("utf-8", "surrogateescape").split("\n"):
        decoder.feed(line)
    event = decoder.flush()
    return None if event is None else event.data.encode("utf-8", "surrogateescape")


OnData = Callable[[bytes], Awaitable[None]]
# A protocol's hot path: the whole frame to send for an event's data, or None (then ``OnData``).
FrameOf = Callable[[bytes], str | None]
SendText = Callable[[str], Awaitable[None]]


def turn_sink(on_data: OnData, frame_of: FrameOf | None = None, send_text: SendText | None = None) -> Sink:
    """The sink a turn's app writes into: each event's data to ``frame_of`` + ``send_text``, else ``on_data``.

    The hot path (a text token: Realtime's ``RealtimeResponse.text_delta``, Live's token
    frame) costs one call and one awaited write here, no coroutine of the session's in
    between; a ``Disconnected`` from either hangs the request up as a client's leaving.
    """
    splitter = DataSplitter()

    async def sink(chunk: bytes) -> None:
        try:
            for data in splitter.feed(chunk):
                if frame_of is not None and send_text is not None and (frame := frame_of(data)) is not None:
                    await send_text(frame)
                elif data != b"[DONE]":
                    await on_data(data)
        except Disconnected:
            raise ReaderGone from None

    return sink


async def run_turn(
    dispatch: InternalDispatch,
    path: str,
    headers: Mapping[str, str],
    body: dict[str, Any],
    endpoint: str,
    outcome: TurnOutcome,
    on_data: OnData,
    frame_of: FrameOf | None = None,
    send_text: SendText | None = None,
) -> None:
    """Serve the turn; each event's ``data`` (bytes, as the app encoded it) goes to ``on_data`` when released.

    ``on_data`` runs inside the app's own write (``InternalDispatch.open`` with a sink), so
    each event reaches the socket in the write the engine released it with: no queue, no
    task hop, no SSE decoder per token. With ``frame_of`` and ``send_text``, an event
    ``frame_of`` makes a frame of is sent as that frame instead (see ``turn_sink``). A
    ``Disconnected`` hangs the request up as a client's leaving. ``outcome`` is filled in as
    the turn goes: a refusal's status and error body (no events then), the response headers
    (rate-limit state), whether it was cut.
    """
    sink = turn_sink(on_data, frame_of, send_text)
    stream = dispatch.open(path, headers, orjson.dumps(body), endpoint=endpoint, sink=sink)
    try:
        status = await stream.start()
        outcome.status, outcome.headers = status, stream.headers
        if status >= 400:
            raw = b"".join([chunk async for chunk in stream.chunks()])
            outcome.error = _error_body(raw)
            return
        await stream.finished()
        outcome.cut = stream.cut
    finally:
        await stream.close()


def _error_body(raw: bytes) -> dict[str, Any]:
    """A refusal's JSON body (``{}`` when it is not JSON: a cut body)."""
    value = parse_object(raw) if raw else None
    return value or {}


def go_seconds(text: str) -> float:
    """Seconds in a Go duration such as ``1m30s``, ``250ms`` or ``6.5s`` (OpenAI's reset headers); 0 if unreadable."""
    total, number = 0.0, ""
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isdigit() or ch == ".":
            number += ch
            i += 1
            continue
        unit = "ms" if text.startswith("ms", i) else ch
        i += len(unit)
        try:
            total += float(number) * units.get(unit, 0.0)
        except ValueError:
            return 0.0
        number = ""
    return total
