"""Audio (``/v1/audio/speech``, ``transcriptions``, ``translations``) through the official openai SDK."""

from __future__ import annotations

import base64
import io
import json
import struct

import httpx
import openai
import pytest

from llm_simulator.infra.media import MP3_FRAME_BYTES, MP3_SAMPLE_RATE, MP3_SAMPLES_PER_FRAME, SAMPLE_RATE, wav
from llm_simulator.providers.openai.audio import seconds_for
from tests.live import LiveServer, live_server
from tests.providers.openai.helpers import assert_openai_error

TEXT = "The simulator reads this sentence aloud, slowly and clearly, for the test. " * 3


def wav_seconds(data: bytes) -> float:
    """Check a RIFF/WAVE header (PCM 16-bit mono 24 kHz) and return the duration."""
    assert data[:4] == b"RIFF" and data[8:16] == b"WAVEfmt "
    assert struct.unpack("<I", data[4:8])[0] == len(data) - 8
    fmt, channels, rate, byte_rate, align, bits = struct.unpack("<HHIIHH", data[20:36])
    assert (fmt, channels, rate, byte_rate, align, bits) == (1, 1, SAMPLE_RATE, SAMPLE_RATE * 2, 2, 16)
    assert data[36:40] == b"data"
    size = struct.unpack("<I", data[40:44])[0]
    assert size == len(data) - 44
    return float(size / byte_rate)


def test_speech_wav_duration(client: openai.OpenAI) -> None:
    resp = client.audio.speech.create(model="tts-1", voice="alloy", input=TEXT, response_format="wav")
    seconds = wav_seconds(resp.content)
    assert seconds == pytest.approx(seconds_for(TEXT, 1.0), abs=0.01)
    assert 8 < seconds < 15
    faster = client.audio.speech.create(model="tts-1", voice="alloy", input=TEXT, response_format="wav", speed=2.0)
    assert wav_seconds(faster.content) == pytest.approx(seconds / 2, abs=0.01)


def test_speech_pcm_and_mp3(client: openai.OpenAI) -> None:
    raw = client.audio.speech.create(model="tts-1-hd", voice="nova", input=TEXT, response_format="pcm").content
    assert len(raw) == round(seconds_for(TEXT, 1.0) * SAMPLE_RATE) * 2
    mp3 = client.audio.speech.create(model="tts-1", voice="echo", input=TEXT).content
    assert len(mp3) % MP3_FRAME_BYTES == 0
    frames = [mp3[i : i + MP3_FRAME_BYTES] for i in range(0, len(mp3), MP3_FRAME_BYTES)]
    assert all(f[:2] == b"\xff\xfb" for f in frames)
    assert len(frames) * MP3_SAMPLES_PER_FRAME / MP3_SAMPLE_RATE == pytest.approx(seconds_for(TEXT, 1.0), abs=0.03)


def test_speech_streaming_response(client: openai.OpenAI) -> None:
    with client.audio.speech.with_streaming_response.create(
        model="gpt-4o-mini-tts", voice="coral", input=TEXT, response_format="wav", instructions="Cheerful."
    ) as resp:
        assert resp.headers["content-type"] == "audio/wav"
        data = b"".join(resp.iter_bytes())
    assert wav_seconds(data) > 1


def test_speech_sse(server: LiveServer) -> None:
    body = {"model": "gpt-4o-mini-tts", "voice": "alloy", "input": "hi there", "response_format": "pcm",
            "stream_format": "sse"}  # fmt: skip
    resp = httpx.post(server.openai_base + "/audio/speech", json=body, timeout=10)
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/event-stream")
    events = [json.loads(e.removeprefix("data: ")) for e in resp.text.strip().split("\n\n")]
    assert events[-1]["type"] == "speech.audio.done" and events[-1]["usage"]["total_tokens"] > 0
    audio = b"".join(base64.b64decode(e["audio"]) for e in events[:-1])
    assert len(audio) == round(seconds_for("hi there", 1.0) * SAMPLE_RATE) * 2


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        ({"model": "whisper-1", "voice": "alloy", "input": "x"}, 400, "model"),
        ({"model": "nope", "voice": "alloy", "input": "x"}, 404, "model"),
        ({"model": "tts-1", "voice": "alloy"}, 400, "input"),
        ({"model": "tts-1", "voice": "bob", "input": "x"}, 400, "voice"),
        ({"model": "tts-1", "voice": "alloy", "input": "x", "response_format": "ogg"}, 400, "response_format"),
        ({"model": "tts-1", "voice": "alloy", "input": "x", "speed": 5}, 400, "speed"),
        ({"model": "tts-1", "voice": "alloy", "input": "x" * 4097}, 400, "input"),
        ({"model": "tts-1", "voice": "alloy", "input": "x", "instructions": "loud"}, 400, "instructions"),
        ({"model": "tts-1", "voice": "alloy", "input": "x", "stream_format": "sse"}, 400, "stream_format"),
    ],
)
def test_speech_bad_input(server: LiveServer, body: dict[str, object], status: int, param: str) -> None:
    assert_openai_error(httpx.post(server.openai_base + "/audio/speech", json=body, timeout=10), status, param=param)


AUDIO = wav(6.0, 7)


def test_transcription_json_and_text(client: openai.OpenAI) -> None:
    first = client.audio.transcriptions.create(model="whisper-1", file=("a.wav", AUDIO))
    again = client.audio.transcriptions.create(model="whisper-1", file=("a.wav", AUDIO))
    assert first.text and first.text == again.text
    assert 10 <= len(first.text.split()) <= 20  # about 2.5 words a second of 6 s
    text = client.audio.transcriptions.create(model="gpt-4o-transcribe", file=io.BytesIO(AUDIO), response_format="text")
    assert isinstance(text, str) and text.strip()


def test_transcription_verbose_json_with_words(client: openai.OpenAI) -> None:
    resp = client.audio.transcriptions.create(
        model="whisper-1",
        file=("a.wav", AUDIO),
        response_format="verbose_json",
        timestamp_granularities=["word", "segment"],
    )
    assert resp.duration == pytest.approx(6.0)
    assert resp.words is not None and resp.segments is not None
    assert " ".join(w.word for w in resp.words).lower() == resp.text.rstrip(".").lower()
    assert resp.segments[-1].end <= 6.0


@pytest.mark.parametrize("fmt", ["srt", "vtt"])
def test_subtitles(client: openai.OpenAI, fmt: str) -> None:
    out = client.audio.transcriptions.create(model="whisper-1", file=("a.wav", AUDIO), response_format=fmt)  # type: ignore[call-overload]
    assert isinstance(out, str)
    if fmt == "vtt":
        assert out.startswith("WEBVTT\n\n00:00:00.000 --> ")
    else:
        assert out.startswith("1\n00:00:00,000 --> ")


def test_translation(client: openai.OpenAI) -> None:
    # The SDK marks translations deprecated; the endpoint still serves.
    with pytest.warns(DeprecationWarning, match="deprecated"):
        resp = client.audio.translations.create(model="whisper-1", file=("a.wav", AUDIO))
    assert resp.text
    with pytest.warns(DeprecationWarning, match="deprecated"), pytest.raises(openai.BadRequestError):
        client.audio.translations.create(model="gpt-4o-transcribe", file=("a.wav", AUDIO))


@pytest.mark.parametrize(
    ("data", "files", "status", "param"),
    [
        ({"model": "whisper-1"}, None, 400, "file"),
        ({"model": "tts-1"}, {"file": ("a.wav", AUDIO)}, 400, "model"),
        ({"model": "nope"}, {"file": ("a.wav", AUDIO)}, 404, "model"),
        ({}, {"file": ("a.wav", AUDIO)}, 400, "model"),
        ({"model": "whisper-1", "response_format": "xml"}, {"file": ("a.wav", AUDIO)}, 400, "response_format"),
        ({"model": "gpt-4o-transcribe", "response_format": "srt"}, {"file": ("a.wav", AUDIO)}, 400, "response_format"),
        (
            {"model": "whisper-1", "timestamp_granularities[]": "word"},
            {"file": ("a.wav", AUDIO)},
            400,
            "timestamp_granularities",
        ),
    ],
)
def test_transcription_bad_input(
    server: LiveServer, data: dict[str, str], files: dict[str, tuple[str, bytes]] | None, status: int, param: str
) -> None:
    if files is None:
        # A form without the file (multipart still, via a dummy part).
        files = {"other": ("x.txt", b"x")}
    resp = httpx.post(server.openai_base + "/audio/transcriptions", data=data, files=files, timeout=10)
    assert_openai_error(resp, status, param=param)


def test_transcription_needs_multipart(server: LiveServer) -> None:
    resp = httpx.post(server.openai_base + "/audio/transcriptions", json={"model": "whisper-1"}, timeout=10)
    assert_openai_error(resp, 400, code="invalid_content_type")


def test_oversize_upload_is_refused_by_the_body_limit() -> None:
    with live_server("--no-latency", env={"LLM_SIMULATOR_MAX_BODY_BYTES": "65536"}) as small:
        files = {"file": ("big.wav", wav(10.0, 1))}  # 480 KB
        resp = httpx.post(small.openai_base + "/audio/transcriptions", data={"model": "whisper-1"}, files=files)
        assert resp.status_code == 413
        assert set(resp.json()["error"]) == {"message", "type", "param", "code"}
