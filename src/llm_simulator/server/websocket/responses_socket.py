"""The Responses API over WebSocket (the WebSocket mode of ``/v1/responses``).

The client sends ``{"type": "response.create", ...}`` with the fields of a create request;
each is served as a streamed ``POST /v1/responses`` through the app (``turns.py``), and
every event of its SSE stream (the same encoder's output, its ``data`` bytes as written)
is sent as one text message from inside the turn's own write. One
response at a time, in order; a refused request becomes an ``error`` event with the HTTP
``status`` it would have had; bad frames get an ``error`` event and the socket stays open.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from llm_simulator.providers.internal import InternalDispatch
from llm_simulator.server.websocket.socket import CLOSE_INTERNAL, Disconnected, WebSocket, parse_object
from llm_simulator.server.websocket.turns import TurnOutcome, run_turn

ENDPOINT = "responses_ws"
# Fields of a WebSocket create event that are not part of the HTTP request body.
_SOCKET_ONLY = ("type", "stream", "stream_id", "event_id", "generate")


def ws_error(
    status: int, message: str, code: str | None, param: str | None = None, kind: str = "invalid_request_error"
) -> dict[str, Any]:
    """A Responses WebSocket ``error`` event."""
    return {
        "type": "error",
        "status": status,
        "error": {"type": kind, "code": code, "message": message, "param": param},
    }


class ResponsesSocket:
    """One Responses WebSocket connection."""

    def __init__(self, ws: WebSocket, dispatch: InternalDispatch, headers: Mapping[str, str]) -> None:
        self.ws = ws
        self.dispatch = dispatch
        self.headers = headers

    async def run(self) -> None:
        """Serve create events until the client leaves."""
        try:
            while True:
                frame = await self.ws.receive()
                if frame.problem == "binary":
                    await self.ws.send_json(
                        ws_error(400, "Binary frames are not supported: send JSON text events.", "invalid_event")
                    )
                    continue
                if frame.problem:
                    await self.ws.send_json(
                        ws_error(413, "The event is larger than the maximum message size.", "message_too_large")
                    )
                    continue
                event = parse_object(frame.text)
                if event is None:
                    await self.ws.send_json(
                        ws_error(400, "The server failed to parse the event: it is not a JSON object.", "invalid_json")
                    )
                    continue
                if event.get("type") != "response.create":
                    await self.ws.send_json(
                        ws_error(
                            400,
                            f"Invalid value: {event.get('type')!r}. Supported values are: 'response.create'.",
                            "invalid_value",
                            "type",
                        )
                    )
                    continue
                if not await self.respond(event):
                    return
        except Disconnected:
            pass

    async def respond(self, event: dict[str, Any]) -> bool:
        """Stream one response's events; False when the stream was cut (the socket is closed)."""
        body = {k: v for k, v in event.items() if k not in _SOCKET_ONLY}
        body["stream"] = True
        stream_id = event.get("stream_id")
        outcome = TurnOutcome()

        async def on_data(data: bytes) -> None:
            if stream_id is None:
                await self.ws.send_text(data.decode(errors="replace"))  # the SSE encoder's JSON, as it is
                return
            payload = parse_object(data)
            if payload is not None:
                await self.ws.send_json({**payload, "stream_id": stream_id})

        await run_turn(self.dispatch, "/v1/responses", self.headers, body, ENDPOINT, outcome, on_data)
        if outcome.status >= 400:
            error = outcome.error.get("error")
            error = error if isinstance(error, dict) else {"type": "server_error", "message": "The request failed."}
            await self.ws.send_json({"type": "error", "status": outcome.status, "error": error})
        elif outcome.cut:
            await self.ws.close(CLOSE_INTERNAL, "The response stream was interrupted.")
            return False
        return True
