"""``/v1/audio``: speech (text to a valid audio file), transcriptions and translations.

Speech lasts as long as the text takes to say at about 150 words a minute (divided by
``speed``): ``wav`` (RIFF, 16-bit mono, 24 kHz) and ``pcm`` (the same samples, raw) hold a
quiet hum; ``mp3`` (the default) is silent MPEG-1 Layer III frames; ``flac``, ``opus`` (in
Ogg) and ``aac`` (ADTS) are silence too (``infra/audio_containers.py``). ``stream_format: "sse"`` (gpt-4o-mini-tts)
sends ``speech.audio.delta`` events and a ``speech.audio.done`` with usage.

Transcriptions and translations take a multipart upload and answer text drawn from a hash
of the file, as long as the audio (read from a WAV header, otherwise estimated from the
size): ``json``, ``text``, ``srt``, ``vtt`` and ``verbose_json`` (with ``segments``, and
``words`` when ``timestamp_granularities[]`` asks for them).
"""

from __future__ import annotations

import base64
import hashlib
import random
import struct
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson

from llm_simulator.core.errors import invalid
from llm_simulator.core.http import Headers, HttpRequest, JsonResponse, Response, StreamResponse
from llm_simulator.engine.simulator import Simulator
from llm_simulator.infra.audio_containers import aac, flac, ogg_opus
from llm_simulator.infra.media import SAMPLE_RATE, mp3, pcm, wav
from llm_simulator.providers.openai.common import response_headers
from llm_simulator.providers.openai.media import (
    bounded_text,
    form_files,
    form_text,
    media_model,
    parse_form,
    pass_through,
)
from llm_simulator.providers.validation import get_number, get_str, parse_object

VOICES = (
    "alloy", "ash", "ballad", "coral", "echo", "fable", "onyx", "nova", "sage", "shimmer", "verse", "marin", "cedar"
)  # fmt: skip
# Each speech format, its content type and how its file is made from (seconds, seed).
SPEECH_FORMATS: dict[str, tuple[bytes, Callable[[float, int], bytes]]] = {
    "mp3": (b"audio/mpeg", lambda seconds, seed: mp3(seconds)),
    "opus": (b"audio/opus", lambda seconds, seed: ogg_opus(seconds)),
    "aac": (b"audio/aac", lambda seconds, seed: aac(seconds)),
    "flac": (b"audio/flac", lambda seconds, seed: flac(seconds)),
    "wav": (b"audio/wav", wav),
    "pcm": (b"audio/pcm", pcm),
}
MAX_SPEECH_INPUT = 4096
WORDS_PER_SECOND = 2.5
TRANSCRIPT_FORMATS = ("json", "text", "srt", "verbose_json", "vtt")
# The gpt-4o transcription models answer json or text only.
GPT4O_TRANSCRIPT_FORMATS = ("json", "text")
_TEXT = (
    "the quick brown fox jumps over a lazy dog while we talk about the weather and plans for "
    "tomorrow morning then everyone agrees that the meeting went well and the project is on "
    "track so we can ship it next week after one more review of the numbers"
)
_WORDS = tuple(_TEXT.split(" "))
_CHUNK = 32 * 1024


def seconds_for(text: str, speed: float) -> float:
    """How long saying ``text`` takes at ``speed``."""
    return max(0.5, len(text.split()) / WORDS_PER_SECOND / speed)


async def speech(sim: Simulator, request: HttpRequest) -> Response:
    """Serve ``POST /v1/audio/speech``."""
    started = time.monotonic()
    body = parse_object(request.body)
    model_id = get_str(body, "model", required=True) or ""
    spec = media_model(sim, model_id, "speech", "audio/speech")
    text = bounded_text(get_str(body, "input", required=True) or "", "input", MAX_SPEECH_INPUT)
    voice = get_str(body, "voice", required=True)
    if voice not in VOICES:
        quoted = ", ".join(f"'{v}'" for v in VOICES)
        raise invalid(f"Invalid value: '{voice}'. Supported values are: {quoted}.", param="voice", code="invalid_value")
    fmt = get_str(body, "response_format") or "mp3"
    if fmt not in SPEECH_FORMATS:
        quoted = ", ".join(f"'{v}'" for v in SPEECH_FORMATS)
        raise invalid(
            f"Invalid value: '{fmt}'. Supported values are: {quoted}.", param="response_format", code="invalid_value"
        )
    speed = get_number(body, "speed", minimum=0.25, maximum=4.0)
    gpt4o = spec.id.startswith("gpt-4o")
    if get_str(body, "instructions") and not gpt4o:
        raise invalid(
            f"Instructions are not supported with {model_id}.", param="instructions", code="unsupported_value"
        )
    stream_format = get_str(body, "stream_format") or "audio"
    if stream_format not in ("audio", "sse"):
        raise invalid(
            f"Invalid value: '{stream_format}'. Supported values are: 'sse' and 'audio'.",
            param="stream_format",
            code="invalid_value",
        )
    if stream_format == "sse" and not gpt4o:
        raise invalid(f"stream_format 'sse' is not supported with {model_id}.", param="stream_format")
    tokens = sim.count_tokens(text)
    await pass_through(sim, request, model_id, spec, tokens, [text])
    seconds = seconds_for(text, speed or 1.0)
    seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=4).digest(), "big")
    content_type, make = SPEECH_FORMATS[fmt]
    audio = make(seconds, seed)
    if stream_format == "sse":
        output_tokens = max(1, round(seconds * 20))
        return StreamResponse(_speech_events(audio, tokens, output_tokens), malformed=MALFORMED_SPEECH_EVENT)
    headers: Headers = [(b"content-type", content_type)]
    headers += [h for h in response_headers(request, started, model_id) if h[0] != b"content-type"]
    return JsonResponse(200, audio, headers)


# What a chaos ``malformed`` fault sends on a speech stream: a speech.audio.delta cut short.
MALFORMED_SPEECH_EVENT = b'data: {"type":"speech.audio.delta","audio":"UklG\n\n'


async def _speech_events(audio: bytes, input_tokens: int, output_tokens: int) -> AsyncIterator[bytes]:
    for start in range(0, len(audio), _CHUNK):
        delta = {"type": "speech.audio.delta", "audio": base64.b64encode(audio[start : start + _CHUNK]).decode()}
        yield b"data: " + orjson.dumps(delta) + b"\n\n"
    usage = {"input_tokens": input_tokens, "output_tokens": output_tokens, "total_tokens": input_tokens + output_tokens}
    yield b"data: " + orjson.dumps({"type": "speech.audio.done", "usage": usage}) + b"\n\n"


def audio_seconds(data: bytes) -> float:
    """The duration of a WAV file from its header; otherwise estimated as 128 kbit/s audio."""
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        pos = 12
        byte_rate = 0
        while pos + 8 <= len(data):
            kind, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
            if kind == b"fmt " and size >= 16:
                byte_rate = struct.unpack("<I", data[pos + 16 : pos + 20])[0]
            elif kind == b"data" and byte_rate:
                return float(min(size, len(data) - pos - 8) / byte_rate)
            pos += 8 + size + (size & 1)
    return len(data) / 16_000


def _timestamp(seconds: float, sep: str) -> str:
    ms = round(seconds * 1000)
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


async def transcriptions(sim: Simulator, request: HttpRequest) -> Response:
    """Serve ``POST /v1/audio/transcriptions``."""
    return await _transcribe(sim, request, "audio/transcriptions", translate=False)


async def translations(sim: Simulator, request: HttpRequest) -> Response:
    """Serve ``POST /v1/audio/translations`` (into English; whisper-1 only)."""
    return await _transcribe(sim, request, "audio/translations", translate=True)


async def _transcribe(sim: Simulator, request: HttpRequest, endpoint: str, translate: bool) -> Response:
    started = time.monotonic()
    fields = parse_form(request)
    model_id = form_text(fields, "model")
    if not model_id:
        raise invalid("Missing required parameter: 'model'.", param="model", code="missing_required_parameter")
    spec = media_model(sim, model_id, "transcription", endpoint)
    whisper = spec.id.startswith("whisper")
    if translate and not whisper:
        raise invalid(f"Invalid value for 'model' = {model_id}: translations support whisper-1 only.", param="model")
    files = form_files(fields, "file")
    if not files:
        raise invalid("Missing required parameter: 'file'.", param="file", code="missing_required_parameter")
    data = files[0]
    if not data:
        raise invalid("The audio file is empty.", param="file", code="invalid_value")
    fmt = form_text(fields, "response_format") or "json"
    allowed = TRANSCRIPT_FORMATS if whisper else GPT4O_TRANSCRIPT_FORMATS
    if fmt not in allowed:
        quoted = ", ".join(f"'{v}'" for v in allowed)
        raise invalid(
            f"Invalid value: '{fmt}'. Supported values for {model_id} are: {quoted}.",
            param="response_format",
            code="invalid_value",
        )
    granularities = {value.decode() for name in ("timestamp_granularities[]", "timestamp_granularities")
                     for _, value in fields.get(name, [])}  # fmt: skip
    unknown = granularities - {"word", "segment"}
    if unknown:
        raise invalid(f"Invalid value: '{sorted(unknown)[0]}'. Supported values are: 'word' and 'segment'.",
                      param="timestamp_granularities", code="invalid_value")  # fmt: skip
    if granularities and fmt != "verbose_json":
        raise invalid("timestamp_granularities requires response_format 'verbose_json'.",
                      param="timestamp_granularities")  # fmt: skip
    language = "english" if translate else (form_text(fields, "language") or "english")
    seconds = audio_seconds(data)
    rng = random.Random(hashlib.blake2b(data, digest_size=8).digest())
    count = max(1, round(seconds * WORDS_PER_SECOND))
    words = [rng.choice(_WORDS) for _ in range(count)]
    text = " ".join(words).capitalize() + "."
    await pass_through(sim, request, model_id, spec, max(1, round(seconds * 10)))
    headers = response_headers(request, started, model_id)
    if fmt == "json":
        payload: dict[str, Any] = {"text": text}
        if not whisper:
            tokens = sim.count_tokens(text)
            audio_tokens = max(1, round(seconds * 10))
            payload["usage"] = {"type": "tokens", "input_tokens": audio_tokens, "output_tokens": tokens,
                                "total_tokens": audio_tokens + tokens,
                                "input_token_details": {"audio_tokens": audio_tokens, "text_tokens": 0}}  # fmt: skip
        else:
            payload["usage"] = {"type": "duration", "seconds": max(1, round(seconds))}
        return JsonResponse(200, orjson.dumps(payload), headers)
    plain = [(b"content-type", b"text/plain; charset=utf-8"), *headers[1:]]
    if fmt == "text":
        return JsonResponse(200, (text + "\n").encode(), plain)
    per_word = seconds / count
    segments: list[dict[str, Any]] = []
    for index, start in enumerate(range(0, count, 12)):
        chunk = words[start : start + 12]
        seg_text = " " + " ".join(chunk)
        segments.append({
            "id": index, "seek": 0, "start": round(start * per_word, 2),
            "end": round(min(seconds, (start + len(chunk)) * per_word), 2), "text": seg_text,
            "tokens": sim.tokenizer.encode(seg_text), "temperature": 0.0, "avg_logprob": -0.25,
            "compression_ratio": 1.4, "no_speech_prob": 0.01,
        })  # fmt: skip
    if fmt == "verbose_json":
        verbose: dict[str, Any] = {"task": "translate" if translate else "transcribe", "language": language,
                                   "duration": round(seconds, 2), "text": text}  # fmt: skip
        if not granularities or "segment" in granularities:
            verbose["segments"] = segments
        if "word" in granularities:
            verbose["words"] = [{"word": w, "start": round(i * per_word, 2), "end": round((i + 1) * per_word, 2)}
                                for i, w in enumerate(words)]  # fmt: skip
        verbose["usage"] = {"type": "duration", "seconds": max(1, round(seconds))}
        return JsonResponse(200, orjson.dumps(verbose), headers)
    sep = "," if fmt == "srt" else "."
    lines = [] if fmt == "srt" else ["WEBVTT", ""]
    for seg in segments:
        if fmt == "srt":
            lines.append(str(int(seg["id"]) + 1))
        lines.append(f"{_timestamp(float(seg['start']), sep)} --> {_timestamp(float(seg['end']), sep)}")
        lines += [str(seg["text"]).strip(), ""]
    kind = b"text/vtt; charset=utf-8" if fmt == "vtt" else b"application/x-subrip; charset=utf-8"
    return JsonResponse(200, "\n".join(lines).encode(), [(b"content-type", kind), *headers[1:]])


__all__ = ["SAMPLE_RATE", "speech", "transcriptions", "translations"]
