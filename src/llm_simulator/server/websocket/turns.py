"""A WebSocket turn served as an HTTP stream through the app itself, read event by event.

A Realtime ``response.create``, a Responses ``response.create`` over WebSocket or a Live
client turn is one streamed request to the provider's own HTTP route
(``InternalDispatch.open``): routing, the gate, admission (breaker, rate limits, chaos),
fixtures, the engine's timing and telemetry are the HTTP path's, not a copy. ``turn_events``
decodes the SSE body as it arrives, so each event reaches the socket at the engine's due
time; a turn refused before its first byte yields its provider-shaped error body instead.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from llm_simulator.infra.sse import SseDecoder
from llm_simulator.providers.internal import InternalDispatch

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


async def turn_data(
    dispatch: InternalDispatch,
    path: str,
    headers: Mapping[str, str],
    body: dict[str, Any],
    endpoint: str,
    outcome: TurnOutcome,
) -> AsyncIterator[str]:
    """The ``data`` of each event of the turn's stream, as the app wrote it, each as it is released.

    ``outcome`` is filled in as the turn goes: a refusal's status and error body (no events
    then), the response headers (rate-limit state), and whether the stream was cut.
    """
    stream = dispatch.open(path, headers, orjson.dumps(body), endpoint=endpoint)
    try:
        status = await stream.start()
        outcome.status, outcome.headers = status, stream.headers
        if status >= 400:
            raw = b"".join([chunk async for chunk in stream.chunks()])
            outcome.error = _error_body(raw)
            return
        decoder = SseDecoder()
        pending = ""
        async for chunk in stream.chunks():
            pending += chunk.decode()
            *lines, pending = pending.split("\n")
            for line in lines:
                event = decoder.feed(line.rstrip("\r"))
                if event is not None and event.data != "[DONE]":
                    yield event.data
        outcome.cut = stream.cut
    finally:
        await stream.close()


async def turn_events(
    dispatch: InternalDispatch,
    path: str,
    headers: Mapping[str, str],
    body: dict[str, Any],
    endpoint: str,
    outcome: TurnOutcome,
) -> AsyncIterator[dict[str, Any]]:
    """The turn's events as JSON objects (``turn_data`` parsed; a malformed chaos frame is skipped)."""
    async for data in turn_data(dispatch, path, headers, body, endpoint, outcome):
        payload = _object(data)
        if payload is not None:
            yield payload


def _object(text: str) -> dict[str, Any] | None:
    """A JSON object from an event's data (None for anything else: a malformed chaos frame)."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def _error_body(raw: bytes) -> dict[str, Any]:
    """A refusal's JSON body (``{}`` when it is not JSON: a cut body)."""
    value = _object(raw.decode(errors="replace")) if raw else None
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
