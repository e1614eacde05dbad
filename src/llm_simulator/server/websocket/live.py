"""Gemini Live (``BidiGenerateContent`` over WebSocket), the Gemini API and Vertex AI forms.

The first message must be ``setup`` (model, generation config, system instruction, tools);
the server answers ``setupComplete``. Then ``clientContent`` (turns; ``turnComplete`` starts
the model's turn), ``realtimeInput`` (text starts a turn; PCM16 audio goes through the energy
VAD of ``vad.py``, or the client's ``activityStart``/``activityEnd``) and ``toolResponse``.
A model turn is a streamed ``streamGenerateContent?alt=sse`` through the app (``turns.py``),
counted under the ``live`` endpoint, relayed as ``serverContent.modelTurn`` parts (text, or
PCM16 ``inlineData`` for AUDIO output), ``toolCall`` for function calls, then
``generationComplete``, ``turnComplete`` and ``usageMetadata``. New speech during a turn
interrupts it (``serverContent.interrupted``).

The Live API reports errors by closing the socket: 1007 for a message it cannot read, 1008
for a refused request (key, model, quota), 1011 for a failure on its side; the close
reason carries the message, which google-genai raises as ``APIError``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import re
from collections.abc import Mapping
from typing import Any

from llm_simulator.infra.media import pcm
from llm_simulator.infra.rng import IDS
from llm_simulator.providers.internal import InternalDispatch
from llm_simulator.server.websocket.live_text import model_turn, plain_text
from llm_simulator.server.websocket.realtime_events import CHARS_PER_SECOND
from llm_simulator.server.websocket.socket import (
    CLOSE_INTERNAL,
    CLOSE_POLICY,
    Disconnected,
    WebSocket,
    parse_object,
    stop,
)
from llm_simulator.server.websocket.turns import TurnOutcome, run_turn
from llm_simulator.server.websocket.vad import EnergyVad, audio_ms

ENDPOINT = "live"
# Close code for a message the server cannot read (RFC 6455: inconsistent data).
CLOSE_INVALID = 1007
# The generation settings a Live setup shares with generateContent (the rest are Live-only).
_SHARED_CONFIG = (
    "temperature",
    "topP",
    "topK",
    "maxOutputTokens",
    "candidateCount",
    "seed",
    "stopSequences",
    "presencePenalty",
    "frequencyPenalty",
)
_RATE = re.compile(r"rate=(\d+)")
# Live input audio is 16 kHz unless its mimeType says otherwise; output is 24 kHz.
INPUT_RATE = 16_000
OUTPUT_MIME = "audio/pcm;rate=24000"
# The close reason of a failure on the server's side (what the Live API says).
INTERNAL_ERROR = "Internal error encountered."


# Fields whose values are the caller's own data (schemas, arguments): their keys stay as sent.
_OPAQUE = frozenset({"args", "response", "parameters", "parametersJsonSchema", "responseSchema", "responseJsonSchema"})


def camel(value: Any) -> Any:
    """``value`` with every field name in lowerCamelCase, as protobuf's JSON parser accepts both.

    google-genai sends some messages with the proto's own names (``client_content``); the
    values of ``_OPAQUE`` fields are the caller's data and keep their keys.
    """
    if isinstance(value, list):
        return [camel(item) for item in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        head, *rest = str(key).split("_")
        name = head + "".join(part[:1].upper() + part[1:] for part in rest)
        out[name] = item if name in _OPAQUE else camel(item)
    return out


class LiveSession:
    """One Live session on one socket."""

    def __init__(self, ws: WebSocket, dispatch: InternalDispatch, headers: Mapping[str, str], vertex: bool) -> None:
        self.ws = ws
        self.dispatch = dispatch
        self.headers = headers
        self.vertex = vertex
        self.model = ""
        self.setup: dict[str, Any] = {}
        self.history: list[dict[str, Any]] = []
        self.vad: EnergyVad | None = None
        self.audio_bytes = 0
        self.active: asyncio.Task[None] | None = None

    async def run(self) -> None:
        """Serve the socket until the client leaves or an error closes it."""
        try:
            if await self._setup():
                while not self.ws.closed:
                    await self.handle(await self._read())
        except Disconnected:
            pass
        finally:
            await stop(self.active)

    async def _read(self) -> dict[str, Any] | None:
        """The next message as an object (field names in camelCase), or None once a bad frame closed the socket."""
        frame = await self.ws.receive()
        if frame.problem:
            oversize = frame.problem == "oversize"
            reason = (
                "The message is larger than the maximum message size."
                if oversize
                else ("Request contains an invalid argument: expected a JSON text message.")
            )
            await self.ws.close(1009 if oversize else CLOSE_INVALID, reason)
            return None
        event = parse_object(frame.text)
        if event is None:
            await self.ws.close(
                CLOSE_INVALID, "Request contains an invalid argument: the message is not a JSON object."
            )
            return None
        return dict(camel(event))

    async def _setup(self) -> bool:
        event = await self._read()
        if event is None:
            return False
        setup = event.get("setup")
        if not isinstance(setup, dict):
            await self.ws.close(
                CLOSE_INVALID, "Request contains an invalid argument: the first message must be 'setup'."
            )
            return False
        model = str(setup.get("model") or "")
        if not model:
            await self.ws.close(CLOSE_POLICY, "setup.model is required.")
            return False
        self.model = model.rsplit("/", 1)[-1]
        self.setup = setup
        realtime = setup.get("realtimeInputConfig") or {}
        if not (realtime.get("automaticActivityDetection") or {}).get("disabled"):
            self.vad = EnergyVad(INPUT_RATE, 0.5, 500, 0)
        payload: dict[str, Any] = {"setupComplete": {} if not self.vertex else {"sessionId": IDS.hex(16)}}
        await self.ws.send_json(payload)
        return True

    async def handle(self, event: dict[str, Any] | None) -> None:
        """Answer one client message (an unknown one closes the socket with 1007, as the API does)."""
        if event is None:
            return  # unreadable: _read has closed the socket
        if len(event) != 1:
            await self.ws.close(
                CLOSE_INVALID, "Request contains an invalid argument: expected one JSON message object."
            )
            return
        ((name, body),) = event.items()
        if not isinstance(body, dict):
            body = {}
        if name == "clientContent":
            turns = [t for t in body.get("turns") or [] if isinstance(t, dict)]
            self.history.extend({"role": t.get("role", "user"), "parts": t.get("parts") or []} for t in turns)
            if body.get("turnComplete"):
                await self._start()
        elif name == "realtimeInput":
            await self._realtime(body)
        elif name == "toolResponse":
            responses = [r for r in body.get("functionResponses") or [] if isinstance(r, dict)]
            parts = [
                {"functionResponse": {"name": r.get("name", ""), "response": r.get("response") or {}}}
                for r in responses
            ]
            self.history.append({"role": "user", "parts": parts})
            await self._start()
        else:
            await self.ws.close(
                CLOSE_INVALID, f'Invalid JSON payload received. Unknown name "{name}": Cannot find field.'
            )

    async def _realtime(self, body: dict[str, Any]) -> None:
        if isinstance(body.get("text"), str):
            self.history.append({"role": "user", "parts": [{"text": body["text"]}]})
            await self._start()
            return
        if "activityStart" in body:
            await self._interrupt()
            self.audio_bytes = 0
        chunks = [body["audio"]] if isinstance(body.get("audio"), dict) else list(body.get("mediaChunks") or [])
        for chunk in chunks:
            await self._audio(chunk)
        if "activityEnd" in body or (body.get("audioStreamEnd") and self.vad is not None and self.vad.speaking):
            await self._speech_turn()

    async def _audio(self, chunk: Any) -> None:
        if not isinstance(chunk, dict):
            return
        try:
            # google-genai encodes bytes URL-safe; protobuf's JSON accepts either alphabet.
            data = base64.b64decode(str(chunk.get("data", "")).replace("-", "+").replace("_", "/"), validate=True)
        except (binascii.Error, ValueError):
            await self.ws.close(CLOSE_INVALID, "Request contains an invalid argument: audio data is not base64.")
            return
        match = _RATE.search(str(chunk.get("mimeType", "")))
        if self.vad is not None and match and int(match.group(1)) != self.vad.rate:
            self.vad = EnergyVad(int(match.group(1)), 0.5, 500, 0)
        self.audio_bytes += len(data)
        for edge in self.vad.feed(data) if self.vad is not None else []:
            if edge.started:
                await self._interrupt()
            else:
                await self._speech_turn()

    async def _speech_turn(self) -> None:
        rate = self.vad.rate if self.vad is not None else INPUT_RATE
        self.history.append({"role": "user", "parts": [{"text": f"[speech: {audio_ms(self.audio_bytes, rate)} ms]"}]})
        self.audio_bytes = 0
        if self.vad is not None:
            self.vad.reset()
        await self._start()

    async def _interrupt(self) -> None:
        if self.active is not None and not self.active.done():
            self.active.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.active
            await self.ws.send_json({"serverContent": {"interrupted": True}})

    async def _start(self) -> None:
        await self._interrupt()
        self.active = asyncio.ensure_future(self._turn())

    def _body(self) -> dict[str, Any]:
        config = self.setup.get("generationConfig") or {}
        body: dict[str, Any] = {"contents": self.history or [{"role": "user", "parts": [{"text": ""}]}]}
        shared = {k: v for k, v in config.items() if k in _SHARED_CONFIG}
        if shared:
            body["generationConfig"] = shared
        for key in ("systemInstruction", "tools"):
            if self.setup.get(key):
                body[key] = self.setup[key]
        return body

    @property
    def _audio_out(self) -> bool:
        modalities = (self.setup.get("generationConfig") or {}).get("responseModalities") or []
        return "AUDIO" in [str(m).upper() for m in modalities]

    async def _turn(self) -> None:
        """One model turn (a task): relay the stream, then close the turn with its usage."""
        path = f"/v1beta/models/{self.model}:streamGenerateContent?alt=sse"
        outcome = TurnOutcome()
        said: list[dict[str, Any]] = []
        usage: dict[str, Any] = {}
        text_out = not self._audio_out
        # Why the stream broke mid-turn ('' while it has not): an unreadable frame or an
        # in-stream error; a stream that ends without a finish reason broke too.
        broken = ""
        finished = False

        def token_frame(data: bytes) -> str | None:
            # The hot path, as Realtime's (``turn_sink``): one token of text becomes its Live
            # frame straight from the encoder's bytes, sent by the sink with no coroutine of
            # ours in between. Anything else (an empty token too) goes to ``on_data``.
            plain = plain_text(data)
            if plain is None or not plain[1]:
                return None
            said.append({"text": plain[1]})
            return model_turn(plain[0])

        async def on_data(data: bytes) -> None:
            nonlocal usage, broken, finished
            plain = plain_text(data) if text_out else None
            if plain is not None:
                said.append({"text": plain[1]})  # an empty token: kept, but says nothing (as the parsing path)
                return
            chunk = parse_object(data)
            if chunk is None or isinstance(chunk.get("error"), dict):
                error = (chunk or {}).get("error") or {}
                broken = str(error.get("message") or INTERNAL_ERROR)
                return
            usage = chunk.get("usageMetadata") or usage
            finished = finished or bool((chunk.get("promptFeedback") or {}).get("blockReason"))
            for candidate in chunk.get("candidates") or []:
                finished = finished or bool(candidate.get("finishReason"))
                parts = [
                    p
                    for p in (candidate.get("content") or {}).get("parts") or []
                    if isinstance(p, dict) and not p.get("thought")
                ]
                said.extend(parts)
                await self._relay(parts)

        try:
            frame_of = token_frame if text_out else None
            await run_turn(
                self.dispatch, path, self.headers, self._body(), ENDPOINT, outcome, on_data, frame_of, self.ws.send_text
            )
            if outcome.status >= 400:
                error = outcome.error.get("error") or {}
                code = CLOSE_POLICY if outcome.status < 500 and outcome.status != 429 else CLOSE_INTERNAL
                await self.ws.close(code, str(error.get("message") or "The request failed."))
                return
            if outcome.cut or broken or not finished:
                # A chaos fault mid-turn (a cut, a malformed frame, an error, no final chunk):
                # the Live API reports a failure on its side by closing with 1011.
                await self.ws.close(CLOSE_INTERNAL, broken or INTERNAL_ERROR)
                return
            if said:  # a turn that showed nothing stays out of the history (an empty part would be refused)
                self.history.append({"role": "model", "parts": said})
            if any("functionCall" in part for part in said):
                return  # the turn goes on once the client's toolResponse arrives
            await self.ws.send_json({"serverContent": {"generationComplete": True}})
            await self.ws.send_json({"serverContent": {"turnComplete": True}, "usageMetadata": self._usage(usage)})
        except Disconnected:
            pass

    async def _relay(self, parts: list[dict[str, Any]]) -> None:
        calls = [p["functionCall"] for p in parts if isinstance(p.get("functionCall"), dict)]
        if calls:
            functions = [
                {"id": "function-call-" + IDS.hex(8), "name": c.get("name", ""), "args": c.get("args") or {}}
                for c in calls
            ]
            await self.ws.send_json({"toolCall": {"functionCalls": functions}})
        text = "".join(str(p.get("text", "")) for p in parts if "text" in p)
        if not text:
            return
        if not self._audio_out:
            await self.ws.send_json({"serverContent": {"modelTurn": {"role": "model", "parts": [{"text": text}]}}})
            return
        audio = base64.b64encode(pcm(len(text) / CHARS_PER_SECOND, len(self.history))).decode()
        content: dict[str, Any] = {
            "modelTurn": {"role": "model", "parts": [{"inlineData": {"mimeType": OUTPUT_MIME, "data": audio}}]}
        }
        if "outputAudioTranscription" in self.setup:
            content["outputTranscription"] = {"text": text}
        await self.ws.send_json({"serverContent": content})

    def _usage(self, usage: dict[str, Any]) -> dict[str, Any]:
        """The turn's usage in Live's words (the Gemini API says ``responseTokenCount``)."""
        prompt = int(usage.get("promptTokenCount", 0))
        out = int(usage.get("candidatesTokenCount", 0))
        total = int(usage.get("totalTokenCount", prompt + out))
        key = "candidatesTokenCount" if self.vertex else "responseTokenCount"
        return {"promptTokenCount": prompt, key: out, "totalTokenCount": total}
