"""OpenAI Realtime over WebSocket, with the official openai SDK's realtime client."""

from __future__ import annotations

import base64
import json
import math
import struct
from typing import Any

import httpx
import openai
import pydantic
import pytest
from openai.types.realtime import RealtimeServerEvent
from websockets.exceptions import ConnectionClosedError

from llm_simulator.server.websocket.realtime_events import CHARS_PER_SECOND
from llm_simulator.testing import SimulatorHandle
from tests.server.websocket.conftest import until

TEXT_ONLY: Any = {"type": "realtime", "output_modalities": ["text"]}
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


def text_session(**fields: Any) -> Any:
    """A text-only session update with ``fields``."""
    return {**TEXT_ONLY, **fields}


def tone(ms: int, amplitude: int, rate: int = 24_000) -> bytes:
    """PCM16 mono: a 440 Hz sine of ``amplitude`` (0 for silence)."""
    count = rate * ms // 1000
    return struct.pack(f"<{count}h", *(int(amplitude * math.sin(2 * math.pi * 440 * i / rate)) for i in range(count)))


async def as_text(conn: Any, **fields: Any) -> None:
    """Read ``session.created``, switch the session to text output (with ``fields``), read ``session.updated``."""
    assert (await conn.recv()).type == "session.created"
    await conn.session.update(session=text_session(**fields))
    assert (await conn.recv()).type == "session.updated"


async def ask(conn: Any, text: str) -> None:
    """Add a user text message and ask for a response."""
    await conn.conversation.item.create(
        item={"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
    )
    await conn.response.create()


async def test_a_text_response_streams_the_sdk_event_sequence(oai: openai.AsyncOpenAI) -> None:
    async with oai.realtime.connect(model="gpt-realtime") as conn:
        created: Any = await conn.recv()
        assert created.type == "session.created" and created.session.model == "gpt-realtime"
        await conn.session.update(session=text_session(instructions="Be brief."))
        updated: Any = await conn.recv()
        assert updated.type == "session.updated"
        assert updated.session.output_modalities == ["text"] and updated.session.instructions == "Be brief."
        await ask(conn, "Hello there")
        events = await until(conn, "rate_limits.updated")
    kinds = [e.type for e in events]
    assert kinds[:2] == ["conversation.item.added", "conversation.item.done"]
    start = kinds.index("response.created")
    assert kinds[start : start + 4] == [
        "response.created",
        "response.output_item.added",
        "conversation.item.added",
        "response.content_part.added",
    ]
    assert kinds[-6:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "conversation.item.done",
        "response.done",
        "rate_limits.updated",
    ]
    deltas = [e for e in events if e.type == "response.output_text.delta"]
    done = next(e for e in events if e.type == "response.done")
    text = next(e for e in events if e.type == "response.output_text.done").text
    assert len(deltas) > 1 and "".join(d.delta for d in deltas) == text
    assert {d.response_id for d in deltas} == {done.response.id}
    assert done.response.status == "completed"
    assert done.response.output[0].content[0].text == text
    assert done.response.usage.output_tokens == len(deltas)
    limits = {r.name: r for r in events[-1].rate_limits}
    assert limits["requests"].limit == 10_000 and limits["requests"].remaining < 10_000


async def test_audio_output_is_base64_pcm16_as_long_as_its_transcript_takes_to_say(oai: openai.AsyncOpenAI) -> None:
    async with oai.realtime.connect(model="gpt-realtime") as conn:
        await conn.recv()
        await ask(conn, "Say something")
        events = await until(conn, "response.done")
    transcript = "".join(e.delta for e in events if e.type == "response.output_audio_transcript.delta")
    audio = b"".join(base64.b64decode(e.delta) for e in events if e.type == "response.output_audio.delta")
    assert transcript and len(audio) % 2 == 0
    seconds = len(audio) / 2 / 24_000
    assert seconds == pytest.approx(len(transcript) / CHARS_PER_SECOND, rel=0.05)
    done = events[-1].response
    assert done.output[0].content[0].type == "output_audio" and done.output[0].content[0].transcript == transcript
    assert done.usage.output_token_details.audio_tokens > 0


async def test_a_function_call_streams_its_arguments_and_its_output_continues_the_turn(
    oai: openai.AsyncOpenAI,
) -> None:
    async with oai.realtime.connect(model="gpt-realtime") as conn:
        await as_text(conn, tools=[WEATHER], tool_choice="required")
        await ask(conn, "Weather in Paris?")
        events = await until(conn, "response.done")
        deltas = [e for e in events if e.type == "response.function_call_arguments.delta"]
        done = next(e for e in events if e.type == "response.function_call_arguments.done")
        assert deltas and "".join(d.delta for d in deltas) == done.arguments
        assert done.name == "get_weather" and done.call_id and {d.call_id for d in deltas} == {done.call_id}
        assert "city" in json.loads(done.arguments)
        item = events[-1].response.output[0]
        assert item.type == "function_call" and item.call_id == done.call_id
        await conn.conversation.item.create(
            item={"type": "function_call_output", "call_id": done.call_id, "output": '{"temp": 21}'}
        )
        await conn.response.create(response={"tool_choice": "none"})
        after = await until(conn, "response.done")
    assert after[-1].response.status == "completed"
    assert any(e.type == "response.output_text.delta" for e in after)


async def test_server_vad_reports_speech_commits_it_and_answers(oai: openai.AsyncOpenAI) -> None:
    async with oai.realtime.connect(model="gpt-realtime") as conn:
        await as_text(conn)
        for chunk in (tone(200, 0), tone(600, 8000), tone(700, 0)):
            await conn.input_audio_buffer.append(audio=base64.b64encode(chunk).decode())
        events = await until(conn, "response.done")
    kinds = [e.type for e in events]
    assert kinds[:3] == [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
    ]
    started, stopped = events[0], events[1]
    assert started.audio_start_ms == 0  # 200 ms of silence, less the 300 ms prefix padding
    assert stopped.audio_end_ms == 800 and started.item_id == stopped.item_id == events[2].item_id
    user = next(e for e in events if e.type == "conversation.item.added").item
    assert user.role == "user" and user.content[0].type == "input_audio"
    assert events[-1].response.status == "completed"


async def test_manual_commit_clear_and_an_empty_commit(oai: openai.AsyncOpenAI) -> None:
    async with oai.realtime.connect(model="gpt-realtime") as conn:
        await as_text(conn, audio={"input": {"turn_detection": None}})
        await conn.input_audio_buffer.append(audio=base64.b64encode(tone(300, 8000)).decode())
        await conn.input_audio_buffer.clear()
        assert (await conn.recv()).type == "input_audio_buffer.cleared"
        await conn.input_audio_buffer.commit()
        empty = await conn.recv()
        assert empty.type == "error" and empty.error.code == "input_audio_buffer_commit_empty"
        await conn.input_audio_buffer.append(audio=base64.b64encode(tone(300, 8000)).decode())
        await conn.input_audio_buffer.commit()
        committed = await conn.recv()
        assert committed.type == "input_audio_buffer.committed"
        added = await conn.recv()
        assert added.type == "conversation.item.added" and added.item.id == committed.item_id


async def test_cancel_ends_the_response_as_cancelled(sim: SimulatorHandle) -> None:
    # A stall after two tokens keeps the response in progress until it is cancelled.
    slow = openai.AsyncOpenAI(
        base_url=sim.openai_base_url,
        api_key="sk-test",
        default_headers={"x-simulator-chaos": "fault=stall; after=2; duration_ms=30000"},
    )
    async with slow.realtime.connect(model="gpt-realtime") as conn:
        await as_text(conn)
        await ask(conn, "Tell me a story")
        await until(conn, "response.output_text.delta")
        await conn.response.create()
        busy = await until(conn, "error")
        assert busy[-1].error.code == "conversation_already_has_active_response"
        await conn.response.cancel()
        done = await until(conn, "response.done")
        assert done[-1].response.status == "cancelled"
        await conn.response.cancel()
        idle = await until(conn, "error")
        assert idle[-1].error.code == "response_cancel_not_active"
    await slow.close()


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ('{"type": "session.bogus"}', "invalid_value"),
        ("{not json", "invalid_json"),
        ('["a", "list"]', "invalid_json"),
        ('{"type": "conversation.item.create", "item": {"type": "nonsense"}}', "invalid_value"),
        ('{"type": "input_audio_buffer.append", "audio": "***"}', "invalid_value"),
        ('{"type": "conversation.item.delete", "item_id": "item_missing"}', "item_not_found"),
    ],
)
async def test_bad_events_get_an_error_event_and_the_socket_stays_open(
    oai: openai.AsyncOpenAI, raw: str, code: str
) -> None:
    async with oai.realtime.connect(model="gpt-realtime") as conn:
        await conn.recv()
        await conn.send_raw(raw)
        error = await conn.recv()
        assert error.type == "error" and error.error.code == code and error.error.type == "invalid_request_error"
        await conn.session.update(session=TEXT_ONLY)
        assert (await conn.recv()).type == "session.updated"


async def test_binary_and_oversize_frames_get_error_events(oai: openai.AsyncOpenAI) -> None:
    async with oai.realtime.connect(model="gpt-realtime") as conn:
        await conn.recv()
        await conn._connection.send(b'{"type": "response.create"}')  # a binary frame
        binary = await conn.recv()
        assert binary.type == "error" and binary.error.code == "invalid_event"
        await conn.send_raw(json.dumps({"type": "input_audio_buffer.append", "audio": "A" * 11_000_000}))
        big = await conn.recv()
        assert big.type == "error" and big.error.code == "message_too_large"


@pytest.mark.parametrize(("model", "code"), [(None, "missing_model"), ("gpt-nonexistent", "model_not_found")])
async def test_a_missing_or_unknown_model_is_an_error_event_then_a_close(
    oai: openai.AsyncOpenAI, model: str | None, code: str
) -> None:
    manager = oai.realtime.connect(model=model) if model else oai.realtime.connect()
    async with manager as conn:
        error = await conn.recv()
        assert error.type == "error" and error.error.code == code and error.error.param == "model"
        with pytest.raises(ConnectionClosedError) as closed:
            await conn.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


async def test_chaos_before_a_response_is_an_error_event_and_a_failed_response(sim: SimulatorHandle) -> None:
    client = openai.AsyncOpenAI(
        base_url=sim.openai_base_url, api_key="sk-test", default_headers={"x-simulator-chaos": "error=rate_limit"}
    )
    async with client.realtime.connect(model="gpt-realtime") as conn:
        await conn.recv()
        await ask(conn, "hi")
        events = await until(conn, "response.done")
    await client.close()
    error = next(e for e in events if e.type == "error")
    assert error.error.code == "rate_limit_exceeded"
    assert events[-1].response.status == "failed"


async def test_a_chaos_disconnect_mid_response_closes_the_socket(sim: SimulatorHandle) -> None:
    client = openai.AsyncOpenAI(
        base_url=sim.openai_base_url,
        api_key="sk-test",
        default_headers={"x-simulator-chaos": "fault=disconnect; after=3"},
    )
    async with client.realtime.connect(model="gpt-realtime") as conn:
        await as_text(conn)
        await ask(conn, "hi")
        seen: list[str] = []
        with pytest.raises(ConnectionClosedError) as closed:
            await _collect(conn, seen)
    await client.close()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1011
    assert "response.created" in seen and "response.done" not in seen


async def _collect(conn: Any, seen: list[str]) -> None:
    """Note every event's type until the socket closes."""
    async for event in conn:
        seen.append(event.type)


async def test_turns_are_counted_under_the_realtime_endpoint(sim: SimulatorHandle, oai: openai.AsyncOpenAI) -> None:
    async with oai.realtime.connect(model="gpt-realtime") as conn:
        await as_text(conn)
        await ask(conn, "count me")
        await until(conn, "rate_limits.updated")
    async with httpx.AsyncClient() as http:
        metrics = (await http.get(sim.server.url + "/metrics")).text
    assert 'endpoint="realtime"' in metrics and 'model="gpt-realtime"' in metrics
    assert any(entry.get("endpoint") == "realtime" for entry in sim.requests(model="gpt-realtime"))


async def test_every_server_event_validates_against_the_sdks_types(oai: openai.AsyncOpenAI) -> None:
    strict = pydantic.TypeAdapter(RealtimeServerEvent)
    seen: set[str] = set()

    async def drain(conn: Any, last: str) -> None:
        while True:
            event = json.loads(await conn.recv_bytes())
            strict.validate_python(event)  # raises on any field the SDK's types do not allow
            seen.add(event["type"])
            if event["type"] == last:
                return

    async with oai.realtime.connect(model="gpt-realtime") as conn:
        await drain(conn, "session.created")
        update: Any = {"type": "realtime", "tools": [WEATHER], "tool_choice": "required", "max_output_tokens": 40}
        await conn.session.update(session=update)
        await drain(conn, "session.updated")
        await ask(conn, "Weather?")
        await drain(conn, "rate_limits.updated")
        await conn.response.create(response={"tool_choice": "none"})
        await drain(conn, "rate_limits.updated")
        for chunk in (tone(300, 8000), tone(700, 0)):
            await conn.input_audio_buffer.append(audio=base64.b64encode(chunk).decode())
        await drain(conn, "rate_limits.updated")
        await conn.send_raw("{bad")
        await drain(conn, "error")
    assert {"response.function_call_arguments.done", "response.output_audio.delta", "error"} <= seen
    assert {"input_audio_buffer.speech_started", "input_audio_buffer.committed", "conversation.item.done"} <= seen


async def test_a_strict_scopes_unmatched_turn_fails_with_strict_no_fixture(
    sim: SimulatorHandle, oai: openai.AsyncOpenAI
) -> None:
    # A turn is a generation through the app with the handshake's test id: the scope's
    # strict mode and fixtures apply to it as to an HTTP request.
    scope = "realtime-strict"
    async with httpx.AsyncClient(base_url=sim.url) as admin:
        assert (await admin.put("/admin/scope", params={"scope": scope}, json={"strict": True})).status_code == 200
        fixtures = "rules:\n  - match: {message: ping}\n    respond: {text: pong}\n"
        assert (await admin.post("/admin/fixtures", params={"scope": scope}, content=fixtures)).status_code == 200
    headers = {"x-simulator-test-id": scope}
    async with oai.realtime.connect(model="gpt-realtime", extra_headers=headers) as conn:
        await as_text(conn)
        await ask(conn, "ping")
        answered = await until(conn, "response.done")
        assert next(e for e in answered if e.type == "response.output_text.done").text == "pong"
        await ask(conn, "Where is my order?")
        events = await until(conn, "response.done")
    error = next(e for e in events if e.type == "error").error
    assert error.code == "strict_no_fixture" and "Strict mode" in error.message
    assert events[-1].response.status == "failed"
