"""The OpenAI Realtime API over WebSocket (``/v1/realtime?model=…``).

One ``RealtimeSession`` per socket: it announces ``session.created``, then answers client
events in order (``session.update``, ``conversation.item.*``, ``input_audio_buffer.*``,
``response.create``/``cancel``). A response runs as a task, so audio and a cancel are read
while it streams; it is a streamed ``POST /v1/responses`` through the app (``turns.py``), so
it meets the gate, rate limits, chaos and the engine's timing of any HTTP request, and is
counted under the ``realtime`` endpoint. Each of its events is written to the socket inside
the turn's own write (``run_turn``); a plain text delta, the hot path, straight from the
encoder's bytes (``RealtimeResponse.text_delta``). Bad input gets an ``error`` event, never a dropped
socket; a chaos disconnect mid-response closes the socket with 1011.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import time
from collections.abc import Mapping
from typing import Any

from llm_simulator.infra.rng import IDS
from llm_simulator.providers.internal import InternalDispatch
from llm_simulator.server.websocket.realtime_events import RealtimeResponse, realtime_response
from llm_simulator.server.websocket.realtime_input import default_session, merge, responses_body
from llm_simulator.server.websocket.socket import CLOSE_INTERNAL, Disconnected, Frame, WebSocket, parse_object, stop
from llm_simulator.server.websocket.turns import TurnOutcome, go_seconds, run_turn
from llm_simulator.server.websocket.vad import EnergyVad, audio_ms

ENDPOINT = "realtime"
# A Realtime session lasts at most 60 minutes (reported in session.created's expires_at).
SESSION_S = 3600
# The least audio a manual commit accepts.
MIN_COMMIT_MS = 100
CLIENT_EVENTS = (
    "session.update",
    "conversation.item.create",
    "conversation.item.delete",
    "conversation.item.retrieve",
    "conversation.item.truncate",
    "input_audio_buffer.append",
    "input_audio_buffer.commit",
    "input_audio_buffer.clear",
    "output_audio_buffer.clear",
    "response.create",
    "response.cancel",
)


def error_event(
    message: str, code: str, param: str | None = None, event_id: str | None = None, kind: str = "invalid_request_error"
) -> dict[str, Any]:
    """A Realtime ``error`` event."""
    return {
        "type": "error",
        "error": {"type": kind, "code": code, "message": message, "param": param, "event_id": event_id},
    }


def frame_problem(problem: str) -> dict[str, Any]:
    """The ``error`` event for an unreadable frame (binary, or over the size limit)."""
    if problem == "binary":
        return error_event("Binary frames are not supported: send each event as a JSON text frame.", "invalid_event")
    return error_event("The event is larger than the maximum message size.", "message_too_large")


class RealtimeSession:
    """One Realtime conversation on one socket."""

    def __init__(
        self,
        ws: WebSocket,
        dispatch: InternalDispatch,
        model: str,
        headers: Mapping[str, str],
        settings: dict[str, Any] | None = None,
    ) -> None:
        """A session of ``model``; ``settings`` (an ephemeral key's session) are laid over the defaults."""
        self.ws = ws
        self.dispatch = dispatch
        self.headers = headers
        session = default_session(model, "sess_" + IDS.hex(12), int(time.time()) + SESSION_S)
        self.session = merge(session, settings or {})
        self.conversation_id = "conv_" + IDS.hex(12)
        self.items: list[dict[str, Any]] = []
        self.audio = bytearray()
        self.vad: EnergyVad | None = None
        self.speech_item: str | None = None
        self.active: asyncio.Task[None] | None = None
        self._reset_vad()

    async def send(self, event: dict[str, Any]) -> None:
        """Send a server event with a fresh ``event_id``."""
        await self.ws.send_json({"event_id": "event_" + IDS.hex(12), **event})

    async def run(self) -> None:
        """Serve the socket until the client leaves."""
        try:
            await self.send({"type": "session.created", "session": self.session})
            while True:
                await self.handle(await self.ws.receive())
        except Disconnected:
            pass
        finally:
            await stop(self.active)

    async def handle(self, frame: Frame) -> None:
        """Answer one client message."""
        if frame.problem:
            await self.send(frame_problem(frame.problem))
            return
        event = parse_object(frame.text)
        if event is None:
            await self.send(
                error_event("The server failed to parse the event: it is not a JSON object.", "invalid_json")
            )
            return
        kind, event_id = event.get("type"), event.get("event_id")
        if kind not in CLIENT_EVENTS:
            supported = ", ".join(f"'{name}'" for name in CLIENT_EVENTS)
            await self.send(
                error_event(
                    f"Invalid value: {kind!r}. Supported values are: {supported}.", "invalid_value", "type", event_id
                )
            )
            return
        handler = getattr(self, "on_" + str(kind).replace(".", "_"))
        await handler(event, event_id)

    # -- session and conversation --------------------------------------------------------

    async def on_session_update(self, event: dict[str, Any], event_id: str | None) -> None:
        """Merge a session update and report the whole session."""
        update = event.get("session")
        if not isinstance(update, dict) or update.get("type", "realtime") != "realtime":
            await self.send(
                error_event(
                    "Invalid 'session': expected a realtime session object.", "invalid_value", "session", event_id
                )
            )
            return
        update.pop("model", None)  # the model is fixed by the connection
        self.session = merge(self.session, update)
        self._reset_vad()
        await self.send({"type": "session.updated", "session": self.session})

    async def on_conversation_item_create(self, event: dict[str, Any], event_id: str | None) -> None:
        """Add a client item to the conversation."""
        item = event.get("item")
        if not isinstance(item, dict) or item.get("type") not in ("message", "function_call", "function_call_output"):
            await self.send(
                error_event(
                    "Invalid 'item.type': expected one of 'message', 'function_call', 'function_call_output'.",
                    "invalid_value",
                    "item.type",
                    event_id,
                )
            )
            return
        await self._add_item(
            {**item, "id": item.get("id") or "item_" + IDS.hex(12), "object": "realtime.item", "status": "completed"}
        )

    async def _add_item(self, item: dict[str, Any]) -> None:
        previous = self.items[-1]["id"] if self.items else None
        self.items.append(item)
        await self.send({"type": "conversation.item.added", "previous_item_id": previous, "item": item})
        await self.send({"type": "conversation.item.done", "previous_item_id": previous, "item": item})

    def _find(self, item_id: object) -> dict[str, Any] | None:
        return next((item for item in self.items if item.get("id") == item_id), None)

    async def _missing(self, item_id: object, event_id: str | None) -> None:
        await self.send(error_event(f"Item with item_id not found: {item_id}", "item_not_found", "item_id", event_id))

    async def on_conversation_item_delete(self, event: dict[str, Any], event_id: str | None) -> None:
        """Remove an item."""
        item = self._find(event.get("item_id"))
        if item is None:
            await self._missing(event.get("item_id"), event_id)
            return
        self.items.remove(item)
        await self.send({"type": "conversation.item.deleted", "item_id": item["id"]})

    async def on_conversation_item_retrieve(self, event: dict[str, Any], event_id: str | None) -> None:
        """Report an item."""
        item = self._find(event.get("item_id"))
        if item is None:
            await self._missing(event.get("item_id"), event_id)
            return
        await self.send({"type": "conversation.item.retrieved", "item": item})

    async def on_conversation_item_truncate(self, event: dict[str, Any], event_id: str | None) -> None:
        """Truncate an assistant item's audio (its transcript is dropped, as the API does)."""
        item = self._find(event.get("item_id"))
        if item is None:
            await self._missing(event.get("item_id"), event_id)
            return
        for part in item.get("content") or []:
            if isinstance(part, dict) and "transcript" in part:
                part["transcript"] = ""
        await self.send(
            {
                "type": "conversation.item.truncated",
                "item_id": item["id"],
                "content_index": event.get("content_index", 0),
                "audio_end_ms": event.get("audio_end_ms", 0),
            }
        )

    # -- input audio -------------------------------------------------------------------------

    def _reset_vad(self) -> None:
        audio_in = (self.session.get("audio") or {}).get("input") or {}
        detection = audio_in.get("turn_detection")
        rate = int((audio_in.get("format") or {}).get("rate", 24_000))
        if isinstance(detection, dict) and detection.get("type") in ("server_vad", "semantic_vad"):
            self.vad = EnergyVad(
                rate,
                float(detection.get("threshold") or 0.5),
                int(detection.get("silence_duration_ms") or 500),
                int(detection.get("prefix_padding_ms") or 300),
            )
        else:
            self.vad = None

    @property
    def _rate(self) -> int:
        return int(((self.session.get("audio") or {}).get("input") or {}).get("format", {}).get("rate", 24_000))

    async def on_input_audio_buffer_append(self, event: dict[str, Any], event_id: str | None) -> None:
        """Buffer base64 PCM16 audio; with server VAD, report speech edges and commit at its end."""
        try:
            chunk = base64.b64decode(str(event.get("audio", "")), validate=True)
        except (binascii.Error, ValueError):
            await self.send(
                error_event("Invalid 'audio': expected base64-encoded PCM16 audio.", "invalid_value", "audio", event_id)
            )
            return
        self.audio += chunk
        if self.vad is None:
            return
        for edge in self.vad.feed(chunk):
            if edge.started:
                self.speech_item = "item_" + IDS.hex(12)
                await self.send(
                    {
                        "type": "input_audio_buffer.speech_started",
                        "audio_start_ms": edge.at_ms,
                        "item_id": self.speech_item,
                    }
                )
                detection = self.session["audio"]["input"]["turn_detection"]
                if detection.get("interrupt_response") and self.active is not None and not self.active.done():
                    self.active.cancel()
            else:
                item_id = self.speech_item or "item_" + IDS.hex(12)
                await self.send(
                    {"type": "input_audio_buffer.speech_stopped", "audio_end_ms": edge.at_ms, "item_id": item_id}
                )
                await self._commit(item_id)
                if self.session["audio"]["input"]["turn_detection"].get("create_response", True):
                    await self._start({}, None)

    async def on_input_audio_buffer_commit(self, event: dict[str, Any], event_id: str | None) -> None:
        """Commit the buffer as a user message."""
        if audio_ms(len(self.audio), self._rate) < MIN_COMMIT_MS:
            await self.send(
                error_event(
                    "Error committing input audio buffer: buffer too small. Expected at least "
                    f"{MIN_COMMIT_MS}ms of audio, but buffer only has "
                    f"{audio_ms(len(self.audio), self._rate):.2f}ms of audio.",
                    "input_audio_buffer_commit_empty",
                    None,
                    event_id,
                )
            )
            return
        await self._commit("item_" + IDS.hex(12))

    async def _commit(self, item_id: str) -> None:
        duration = audio_ms(len(self.audio), self._rate)
        self.audio = bytearray()
        if self.vad is not None:
            self.vad.reset()
        previous = self.items[-1]["id"] if self.items else None
        await self.send({"type": "input_audio_buffer.committed", "previous_item_id": previous, "item_id": item_id})
        part = {"type": "input_audio", "transcript": None, "duration_ms": duration}
        await self._add_item(
            {
                "id": item_id,
                "object": "realtime.item",
                "type": "message",
                "role": "user",
                "status": "completed",
                "content": [part],
            }
        )

    async def on_input_audio_buffer_clear(self, event: dict[str, Any], event_id: str | None) -> None:
        """Drop the buffered audio."""
        self.audio = bytearray()
        if self.vad is not None:
            self.vad.reset()
        await self.send({"type": "input_audio_buffer.cleared"})

    async def on_output_audio_buffer_clear(self, event: dict[str, Any], event_id: str | None) -> None:
        """Acknowledge (audio is sent as it is made: there is no server-side buffer to clear)."""
        await self.send({"type": "output_audio_buffer.cleared", "response_id": ""})

    # -- responses -----------------------------------------------------------------------------

    async def on_response_create(self, event: dict[str, Any], event_id: str | None) -> None:
        """Start a response, one at a time."""
        options = event.get("response") or {}
        if not isinstance(options, dict):
            await self.send(
                error_event("Invalid 'response': expected an object.", "invalid_value", "response", event_id)
            )
            return
        await self._start(options, event_id)

    async def _start(self, options: dict[str, Any], event_id: str | None) -> None:
        if self.active is not None and not self.active.done():
            await self.send(
                error_event(
                    "Conversation already has an active response in progress. "
                    "Wait until the response is finished before creating a new one.",
                    "conversation_already_has_active_response",
                    None,
                    event_id,
                )
            )
            return
        self.active = asyncio.ensure_future(self._respond(options))

    async def on_response_cancel(self, event: dict[str, Any], event_id: str | None) -> None:
        """Cancel the response in progress."""
        if self.active is None or self.active.done():
            await self.send(
                error_event(
                    "Cancellation failed: no active response found", "response_cancel_not_active", None, event_id
                )
            )
            return
        self.active.cancel()

    async def _respond(self, options: dict[str, Any]) -> None:
        """Stream one response (a task): translate its events, then report the rate limits."""
        modalities = options.get("output_modalities") or self.session.get("output_modalities") or ["audio"]
        own = options.get("conversation") == "none"
        items = [i for i in options.get("input") or [] if isinstance(i, dict)] if own else self.items
        body = responses_body(self.session, options, items)
        outbox: list[dict[str, Any]] = []
        previous = self.items[-1]["id"] if self.items else None
        response = RealtimeResponse(list(modalities), self.conversation_id, outbox.append, previous)
        outcome = TurnOutcome()

        async def on_data(data: bytes) -> None:
            # In the turn's write, an event that is not a plain text delta (those are made
            # straight from their bytes by ``text_delta``): translated. An item's first delta
            # comes here too, and teaches ``text_delta`` the item's head.
            event = parse_object(data)
            if event is None:
                return  # a malformed chaos frame: nothing a Realtime client could read
            response.translate(event)
            response.learn(data, event)
            await self._drain(outbox)

        try:
            try:
                await run_turn(
                    self.dispatch,
                    "/v1/responses",
                    self.headers,
                    body,
                    ENDPOINT,
                    outcome,
                    on_data,
                    response.text_delta,
                    self.ws.send_text,
                )
            except asyncio.CancelledError:
                response.fail({}, "cancelled")
                await self._drain(outbox)
                return
            if outcome.status >= 400:
                await self._refused(outcome, response)
            elif outcome.cut or not response.done:
                await self.ws.close(CLOSE_INTERNAL, "The response stream was interrupted.")
                return
            await self._drain(outbox)
            if not own:
                self.items.extend(response.items)
            await self._rate_limits(outcome.headers)
        except Disconnected:
            pass

    async def _drain(self, outbox: list[dict[str, Any]]) -> None:
        for event in outbox:
            await self.send(event)
        outbox.clear()

    async def _refused(self, outcome: TurnOutcome, response: RealtimeResponse) -> None:
        """A response refused before it began (rate limit, chaos, a bad option): error, then a failed response."""
        error = outcome.error.get("error") if isinstance(outcome.error.get("error"), dict) else {}
        assert isinstance(error, dict)
        await self.send(
            error_event(
                str(error.get("message", "The response failed.")),
                str(error.get("code") or error.get("type") or "server_error"),
                error.get("param"),
                None,
                str(error.get("type") or "server_error"),
            )
        )
        rid = "resp_" + IDS.hex(12)
        response.id = rid
        response.body = realtime_response(rid, "in_progress", response.modalities, self.conversation_id)
        await self.send({"type": "response.created", "response": dict(response.body)})
        response.fail(error, "failed")

    async def _rate_limits(self, headers: Mapping[str, str]) -> None:
        """``rate_limits.updated`` from the turn's ``x-ratelimit-*`` headers (what a real session reports)."""
        limits = []
        for name in ("requests", "tokens"):
            limit = headers.get(f"x-ratelimit-limit-{name}")
            if limit is None:
                continue
            limits.append(
                {
                    "name": name,
                    "limit": int(limit),
                    "remaining": int(headers.get(f"x-ratelimit-remaining-{name}", limit)),
                    "reset_seconds": go_seconds(headers.get(f"x-ratelimit-reset-{name}", "0s")),
                }
            )
        await self.send({"type": "rate_limits.updated", "rate_limits": limits})
