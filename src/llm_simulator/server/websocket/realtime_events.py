"""One Realtime response: the Responses API's stream events turned into Realtime server events.

A Realtime ``response.create`` is served as a streamed ``POST /v1/responses`` (see
``turns.py``); ``RealtimeResponse.translate`` maps each of its events, as it arrives, to the
Realtime events the openai SDK's ``realtime`` types describe: ``response.created``,
``response.output_item.added`` with ``conversation.item.added``, ``response.content_part.added``,
``response.output_text.delta`` (or, with audio output, ``response.output_audio_transcript.delta``
plus ``response.output_audio.delta``), ``response.function_call_arguments.delta``/``done``,
the ``done`` events and ``response.done`` with usage. Items of other kinds (reasoning) are
not part of a Realtime conversation and are skipped.

Audio is spoken at ``CHARS_PER_SECOND``: a transcript delta of ``n`` characters comes with
``n / CHARS_PER_SECOND`` seconds of PCM16 mono audio at 24 kHz (a quiet hum, base64), and
output audio is counted as ``AUDIO_TOKENS_PER_SECOND`` tokens per second.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Callable
from typing import Any

import orjson

from llm_simulator.infra.media import SAMPLE_RATE, pcm
from llm_simulator.infra.rng import IDS

# Speaking rate of the simulated voice: about 150 words a minute.
CHARS_PER_SECOND = 14.0
# Output audio tokens per second of speech (OpenAI bills audio at about this rate).
AUDIO_TOKENS_PER_SECOND = 20.0

Emit = Callable[[dict[str, Any]], None]

# A plain text delta as the Responses encoder writes it: this prefix, the item's fields, the
# sequence number, then the delta last (``providers/openai/responses_render.py``).
_TEXT_DELTA = b'{"type":"response.output_text.delta",'
_SEQUENCE = b'"sequence_number":'
_DELTA = b',"delta":'
# The fields of a plain text delta (no logprobs): only these may be carried over as bytes.
_PLAIN_DELTA = frozenset({"type", "item_id", "output_index", "content_index", "logprobs", "sequence_number", "delta"})
# A server event's opening up to its fresh id's digits (``event_`` + 24 hex, as ``send`` makes).
EVENT_OPEN = '{"event_id":"event_'
_FIELDS_AT = len(_TEXT_DELTA)
_NUMBER_AT = len(_SEQUENCE)
_STRING_AT = len(_DELTA)


def realtime_response(rid: str, status: str, modalities: list[str], conversation_id: str) -> dict[str, Any]:
    """A ``realtime.response`` object (``output`` and ``usage`` filled in at the end)."""
    return {
        "id": rid,
        "object": "realtime.response",
        "status": status,
        "status_details": None,
        "output": [],
        "conversation_id": conversation_id,
        "output_modalities": modalities,
        "max_output_tokens": "inf",
        "audio": {"output": {"format": {"type": "audio/pcm", "rate": SAMPLE_RATE}, "voice": "alloy"}},
        "usage": None,
        "metadata": None,
    }


class RealtimeResponse:
    """The translation state of one response: its id, items and audio so far."""

    def __init__(self, modalities: list[str], conversation_id: str, emit: Emit, previous_item: str | None) -> None:
        self.audio = "audio" in modalities
        self.modalities = modalities
        self.conversation_id = conversation_id
        self.emit = emit
        self.id = ""
        self.items: list[dict[str, Any]] = []  # completed items, in output order
        self.previous_item = previous_item
        self.body = realtime_response("", "in_progress", modalities, conversation_id)
        self._index: dict[int, int] = {}  # Responses output_index -> Realtime output_index
        self._ids: dict[int, str] = {}
        self._call_ids: dict[str, str] = {}  # item id -> call_id (argument events name only the item)
        self._audio_ms = 0.0
        self._seed = 0
        self.done = False
        # Plain text deltas' item fields as the encoder wrote them -> the Realtime event's
        # text between its id and its delta (made at each item's first delta).
        self._heads: dict[bytes, str] = {}

    def text_delta(self, data: bytes) -> str | None:
        """The whole Realtime frame for a plain text delta, made from its bytes; None for any other event.

        The frame is what ``translate`` + ``RealtimeSession.send`` make of the event (a fresh
        ``event_id``, then ``type``, ``response_id``, ``item_id``, ``output_index``,
        ``content_index``, ``delta``), byte for byte: the delta's JSON string is carried over
        as the encoder escaped it (orjson both ways, so the escaping is the same), and the
        rest is the head made at the item's first delta, which went through ``translate``.
        """
        if not data.startswith(_TEXT_DELTA) or not data.endswith(b'"}'):
            return None
        at = data.find(_SEQUENCE, _FIELDS_AT)
        head = self._heads.get(data[_FIELDS_AT:at])
        if head is None:
            return None
        delta = data.rfind(_DELTA)  # the last field: its string cannot hold an unescaped quote
        if not data[at + _NUMBER_AT : delta].isdigit():  # nothing but the number in between
            return None
        return EVENT_OPEN + IDS.hex(12) + head + data[delta + _STRING_AT :].decode()

    def learn(self, data: bytes, event: dict[str, Any]) -> None:
        """Remember a plain text delta's head (``event`` is ``data`` parsed), so ``text_delta`` makes the next ones."""
        if (
            self.audio
            or event.get("type") != "response.output_text.delta"
            or event.get("logprobs")
            or not event.keys() <= _PLAIN_DELTA
            or int(event.get("output_index", -1)) not in self._index
        ):
            return
        at = data.find(_SEQUENCE, _FIELDS_AT)
        if at < 0 or not data.startswith(_TEXT_DELTA):
            return
        where = self._where(event)
        fields = {"type": "response.output_text.delta", **where, "content_index": int(event.get("content_index", 0))}
        self._heads[data[_FIELDS_AT:at]] = '",' + orjson.dumps(fields)[1:-1].decode() + ',"delta":'

    def translate(self, event: dict[str, Any]) -> None:
        """Emit the Realtime events for one Responses stream event."""
        kind = event.get("type", "")
        if kind == "response.created":
            response = event.get("response") or {}
            self.id = str(response.get("id", ""))
            self._seed = sum(self.id.encode())
            self.body["id"] = self.id
            self.emit({"type": "response.created", "response": dict(self.body)})
        elif kind == "response.output_item.added":
            self._item_added(event)
        elif kind in ("response.completed", "response.incomplete", "response.failed"):
            self._finish(event)
        elif kind == "error":
            self.fail(event.get("error") or event, "failed")
        elif int(event.get("output_index", -1)) in self._index:
            self._item_event(kind, event)

    def _where(self, event: dict[str, Any]) -> dict[str, Any]:
        index = int(event["output_index"])
        return {"response_id": self.id, "item_id": self._ids[index], "output_index": self._index[index]}

    def _item_added(self, event: dict[str, Any]) -> None:
        item = event.get("item") or {}
        if item.get("type") not in ("message", "function_call"):
            return
        index = int(event.get("output_index", 0))
        self._index[index] = len(self._index)
        self._ids[index] = str(item.get("id", ""))
        if item.get("type") == "function_call":
            self._call_ids[self._ids[index]] = str(item.get("call_id", ""))
        shaped = realtime_item(item, self.audio, "in_progress")
        self.emit({"type": "response.output_item.added", **_drop_item_id(self._where(event)), "item": shaped})
        self.emit({"type": "conversation.item.added", "previous_item_id": self.previous_item, "item": shaped})

    def _item_event(self, kind: str, event: dict[str, Any]) -> None:
        where = self._where(event)
        content = {"content_index": int(event.get("content_index", 0))}
        if kind in ("response.content_part.added", "response.content_part.done"):
            text = (event.get("part") or {}).get("text", "")
            part = {"type": "audio", "transcript": text} if self.audio else {"type": "text", "text": text}
            self.emit({"type": kind, **where, **content, "part": part})
        elif kind == "response.output_text.delta":
            delta = str(event.get("delta", ""))
            if not self.audio:
                self.emit({"type": "response.output_text.delta", **where, **content, "delta": delta})
                return
            self.emit({"type": "response.output_audio_transcript.delta", **where, **content, "delta": delta})
            self.emit({"type": "response.output_audio.delta", **where, **content, "delta": self._speech(delta)})
        elif kind == "response.output_text.done":
            text = str(event.get("text", ""))
            if not self.audio:
                self.emit({"type": "response.output_text.done", **where, **content, "text": text})
                return
            self.emit({"type": "response.output_audio.done", **where, **content})
            self.emit({"type": "response.output_audio_transcript.done", **where, **content, "transcript": text})
        elif kind in ("response.function_call_arguments.delta", "response.function_call_arguments.done"):
            self._arguments(kind, event, where)
        elif kind == "response.output_item.done":
            shaped = realtime_item(event.get("item") or {}, self.audio, "completed")
            self.items.append(shaped)
            self.emit({"type": "response.output_item.done", **_drop_item_id(where), "item": shaped})
            self.emit({"type": "conversation.item.done", "previous_item_id": self.previous_item, "item": shaped})
            self.previous_item = shaped["id"]

    def _arguments(self, kind: str, event: dict[str, Any], where: dict[str, Any]) -> None:
        call_id = self._call_ids.get(where["item_id"], "")
        if kind.endswith("delta"):
            self.emit({"type": kind, **where, "call_id": call_id, "delta": event.get("delta", "")})
        else:
            self.emit(
                {
                    "type": kind,
                    **where,
                    "call_id": call_id,
                    "name": event.get("name", ""),
                    "arguments": event.get("arguments", ""),
                }
            )

    def _speech(self, text: str) -> str:
        """Base64 PCM16 of ``text`` spoken at ``CHARS_PER_SECOND``."""
        seconds = max(len(text), 1) / CHARS_PER_SECOND
        self._audio_ms += seconds * 1000
        return base64.b64encode(pcm(seconds, self._seed)).decode()

    def _finish(self, event: dict[str, Any]) -> None:
        response = event.get("response") or {}
        status = {"response.completed": "completed", "response.incomplete": "incomplete"}.get(
            str(event.get("type")), "failed"
        )
        body = self.body
        body["status"] = status
        if status == "incomplete":
            reason = (response.get("incomplete_details") or {}).get("reason", "max_output_tokens")
            body["status_details"] = {"type": "incomplete", "reason": reason}
        elif status == "failed":
            body["status_details"] = {"type": "failed", "error": response.get("error")}
        body["output"] = self.items
        body["usage"] = self._usage(response.get("usage") or {})
        self._end()

    def fail(self, error: dict[str, Any], status: str) -> None:
        """End the response as ``failed`` (an error) or ``cancelled``, if it has not ended."""
        if self.done:
            return
        body = self.body
        body["status"] = status
        details: dict[str, Any] = {"type": status}
        if status == "failed":
            details["error"] = {"type": error.get("type", "server_error"), "code": error.get("code")}
        else:
            details["reason"] = "client_cancelled"
        body["status_details"] = details
        body["output"] = self.items
        self._end()

    def _end(self) -> None:
        self.done = True
        self.emit({"type": "response.done", "response": self.body})

    def _usage(self, usage: dict[str, Any]) -> dict[str, Any]:
        """Realtime usage from the Responses usage: output audio adds its own tokens."""
        inputs = int(usage.get("input_tokens", 0))
        text_out = int(usage.get("output_tokens", 0))
        audio_out = math.ceil(self._audio_ms / 1000 * AUDIO_TOKENS_PER_SECOND) if self.audio else 0
        cached = int((usage.get("input_tokens_details") or {}).get("cached_tokens", 0))
        return {
            "total_tokens": inputs + text_out + audio_out,
            "input_tokens": inputs,
            "output_tokens": text_out + audio_out,
            "input_token_details": {"text_tokens": inputs, "audio_tokens": 0, "cached_tokens": cached},
            "output_token_details": {"text_tokens": text_out, "audio_tokens": audio_out},
        }


def _drop_item_id(where: dict[str, Any]) -> dict[str, Any]:
    """``output_item`` events carry the item itself, not its id."""
    return {"response_id": where["response_id"], "output_index": where["output_index"]}


def realtime_item(item: dict[str, Any], audio: bool, status: str) -> dict[str, Any]:
    """A Responses output item as a Realtime conversation item."""
    base = {"id": str(item.get("id", "")), "object": "realtime.item", "status": status}
    if item.get("type") == "function_call":
        return {
            **base,
            "type": "function_call",
            "call_id": item.get("call_id", ""),
            "name": item.get("name", ""),
            "arguments": item.get("arguments", "") if status == "completed" else "",
        }
    text = "".join(str(part.get("text", "")) for part in item.get("content") or [] if isinstance(part, dict))
    content: list[dict[str, Any]] = []
    if status == "completed":
        content = [{"type": "output_audio", "transcript": text}] if audio else [{"type": "output_text", "text": text}]
    return {**base, "type": "message", "role": "assistant", "content": content}
