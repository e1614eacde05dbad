"""The WebSocket layer's small pieces: the energy VAD, Go durations, Live's field names, Realtime input."""

from __future__ import annotations

import struct
from typing import Any

import pytest

from llm_simulator.server.websocket.live import camel
from llm_simulator.server.websocket.realtime_input import responses_body, to_responses_input
from llm_simulator.server.websocket.turns import go_seconds, turn_headers
from llm_simulator.server.websocket.vad import EnergyVad, audio_ms, rms


def level(ms: int, value: int, rate: int = 24_000) -> bytes:
    """A square wave of ``value`` (RMS = value), ``ms`` long."""
    count = rate * ms // 1000
    return struct.pack(f"<{count}h", *(value if i % 2 else -value for i in range(count)))


def test_rms_is_a_fraction_of_full_scale() -> None:
    assert rms(level(20, 0)) == 0.0
    assert rms(level(20, 16384)) == pytest.approx(0.5)
    assert rms(b"") == 0.0


def test_vad_edges_follow_loudness_and_silence_in_any_chunking() -> None:
    audio = level(100, 0) + level(300, 4000) + level(600, 0)
    for size in (len(audio), 960, 777):
        vad = EnergyVad(24_000, 0.5, 500, 0)
        edges = [e for start in range(0, len(audio), size) for e in vad.feed(audio[start : start + size])]
        assert [(e.started, e.at_ms) for e in edges] == [(True, 100), (False, 400)]


def test_vad_ignores_quiet_audio_and_resets() -> None:
    vad = EnergyVad(24_000, 0.5, 200, 300)
    assert vad.feed(level(500, 1000)) == []  # RMS 0.03 < 0.05
    assert vad.feed(level(40, 8000))[0].at_ms == 200  # 500 ms in, less 300 ms of prefix padding
    vad.reset()
    assert not vad.speaking
    assert audio_ms(48_000, 24_000) == 1000


@pytest.mark.parametrize(
    ("text", "seconds"), [("1m30s", 90.0), ("250ms", 0.25), ("6.5s", 6.5), ("1h", 3600.0), ("x", 0.0)]
)
def test_go_durations(text: str, seconds: float) -> None:
    assert go_seconds(text) == pytest.approx(seconds)


def test_turns_inherit_credentials_and_simulator_controls_only() -> None:
    got = turn_headers(
        {"authorization": "Bearer k", "x-simulator-seed": "3", "sec-websocket-key": "abc", "x-request-id": "r"}
    )
    assert got == {"authorization": "Bearer k", "x-simulator-seed": "3", "content-type": "application/json"}


def test_live_field_names_become_camel_case_except_callers_data() -> None:
    message = {"tool_response": {"function_responses": [{"id": "1", "response": {"temp_c": 3}}]}}
    assert camel(message) == {"toolResponse": {"functionResponses": [{"id": "1", "response": {"temp_c": 3}}]}}


def test_realtime_items_become_responses_input() -> None:
    items: list[dict[str, Any]] = [
        {"type": "message", "role": "user", "content": [{"type": "input_audio", "duration_ms": 900}]},
        {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "42"},
        {"type": "mcp_call"},
    ]
    assert to_responses_input(items) == [
        {"role": "user", "content": "[speech: 900 ms]"},
        {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "42"},
    ]
    session = {"model": "gpt-realtime", "instructions": "x", "tools": [], "max_output_tokens": "inf"}
    body = responses_body(session, {"max_output_tokens": 5}, [])
    assert body["max_output_tokens"] == 16 and body["instructions"] == "x" and body["stream"] is True
