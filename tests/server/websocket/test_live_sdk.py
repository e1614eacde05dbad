"""Gemini Live (BidiGenerateContent) with google-genai's ``client.aio.live.connect``.

google-genai dials ``wss://`` whatever the base URL says, so this module's simulator serves
TLS with a throwaway certificate the clients trust (``tls.py``).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from google import genai
from google.genai import errors, types

from llm_simulator.testing import InProcessServer
from tests.server.websocket.tls import self_signed, trusting

pytest.importorskip("cryptography")

WEATHER = {
    "function_declarations": [
        {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}
    ]
}
TEXT: Any = {"response_modalities": ["TEXT"]}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[InProcessServer, str]]:
    """A TLS simulator and the certificate to trust."""
    cert, key = self_signed(Path(tmp_path_factory.mktemp("tls")))
    config = {
        "latency": {"enabled": True, "multiplier": 0.02},
        "seed": 3,
        "generation": {"tool_call_probability": 1.0},  # offered tools are called (then answered)
    }
    server = InProcessServer(config, tls=(cert, key)).start()
    try:
        yield server, cert
    finally:
        server.stop()


def options(live: tuple[InProcessServer, str], **headers: str) -> types.HttpOptions:
    """HTTP options pointing google-genai at the simulator, trusting its certificate."""
    server, cert = live
    return types.HttpOptions(base_url=server.url, headers=headers or None, async_client_args={"ssl": trusting(cert)})


@pytest.fixture
def client(live: tuple[InProcessServer, str]) -> genai.Client:
    """A Gemini API (API key) client."""
    return genai.Client(api_key="test-key", http_options=options(live))


async def turn(session: Any) -> list[types.LiveServerMessage]:
    """Messages of one model turn (``receive`` stops after ``turnComplete``)."""
    return [message async for message in session.receive()]


async def test_a_text_turn_streams_model_parts_then_completes_with_usage(client: genai.Client) -> None:
    async with client.aio.live.connect(model="gemini-2.0-flash", config=TEXT) as session:
        await session.send_client_content(turns={"role": "user", "parts": [{"text": "Hello"}]}, turn_complete=True)
        messages = await turn(session)
        await session.send_client_content(turns={"role": "user", "parts": [{"text": "And?"}]}, turn_complete=True)
        second = await turn(session)
    parts = [m.server_content.model_turn for m in messages if m.server_content and m.server_content.model_turn]
    assert len(parts) > 1 and all(p.parts and p.parts[0].text is not None for p in parts)
    assert messages[-2].server_content is not None and messages[-2].server_content.generation_complete
    last = messages[-1]
    assert last.server_content is not None and last.server_content.turn_complete
    assert last.usage_metadata is not None and last.usage_metadata.response_token_count == len(parts)
    # The second turn carries the first in its prompt.
    assert second[-1].usage_metadata is not None and last.usage_metadata.prompt_token_count is not None
    assert (second[-1].usage_metadata.prompt_token_count or 0) > last.usage_metadata.prompt_token_count


async def test_a_tool_call_and_its_response_continue_one_turn(client: genai.Client) -> None:
    config: Any = {**TEXT, "tools": [WEATHER]}
    calls: list[types.FunctionCall] = []
    texts: list[str] = []
    async with client.aio.live.connect(model="gemini-2.0-flash", config=config) as session:
        await session.send_realtime_input(text="What is the weather in Rome?")
        async for message in session.receive():
            if message.tool_call and message.tool_call.function_calls:
                calls.extend(message.tool_call.function_calls)
                answers = [types.FunctionResponse(id=c.id, name=c.name, response={"temp_c": 21}) for c in calls]
                await session.send_tool_response(function_responses=answers)
            elif message.server_content and message.server_content.model_turn:
                texts.extend(p.text or "" for p in message.server_content.model_turn.parts or [])
    assert calls and calls[0].name == "get_weather" and calls[0].id and "city" in (calls[0].args or {})
    assert "".join(texts)


async def test_spoken_input_is_detected_and_answered(client: genai.Client) -> None:
    def tone(ms: int, amplitude: int) -> bytes:
        count = 16 * ms
        return struct.pack(f"<{count}h", *(int(amplitude * math.sin(i / 5)) for i in range(count)))

    async with client.aio.live.connect(model="gemini-2.0-flash", config=TEXT) as session:
        for chunk in (tone(400, 9000), tone(700, 0)):
            await session.send_realtime_input(audio=types.Blob(data=chunk, mime_type="audio/pcm;rate=16000"))
        messages = await turn(session)
    assert messages[-1].server_content is not None and messages[-1].server_content.turn_complete


async def test_vertex_form_with_audio_output(live: tuple[InProcessServer, str]) -> None:
    from google.oauth2.credentials import Credentials

    client = genai.Client(
        vertexai=True,
        project="test-project",
        location="us-central1",
        credentials=Credentials(token="fake-token"),  # type: ignore[no-untyped-call]  # nothing is fetched
        http_options=options(live),
    )
    config: Any = {"response_modalities": ["AUDIO"], "output_audio_transcription": {}}
    async with client.aio.live.connect(model="gemini-2.0-flash", config=config) as session:
        await session.send_client_content(turns={"role": "user", "parts": [{"text": "Hi"}]}, turn_complete=True)
        messages = await turn(session)
    audio = b"".join(m.data for m in messages if m.data)
    transcript = "".join(
        m.server_content.output_transcription.text or ""
        for m in messages
        if m.server_content and m.server_content.output_transcription
    )
    assert audio and len(audio) % 2 == 0 and transcript
    assert len(audio) / 2 / 24_000 == pytest.approx(len(transcript) / 14.0, rel=0.05)
    assert messages[-1].usage_metadata is not None and messages[-1].usage_metadata.response_token_count


async def test_an_unknown_model_closes_with_1008(client: genai.Client) -> None:
    async with client.aio.live.connect(model="gemini-nonexistent", config=TEXT) as session:
        await session.send_client_content(turns={"role": "user", "parts": [{"text": "Hi"}]}, turn_complete=True)
        with pytest.raises(errors.APIError) as raised:
            await turn(session)
    assert raised.value.code == 1008 and "not found" in str(raised.value)


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ('{"bogusMessage": {}}', 1007),
        ("{not json", 1007),
        (b"\x00binary", 1007),
        ("x" * 11_000_000, 1009),
    ],
)
async def test_bad_messages_close_with_the_apis_code(client: genai.Client, raw: str | bytes, code: int) -> None:
    async with client.aio.live.connect(model="gemini-2.0-flash", config=TEXT) as session:
        await session._ws.send(raw)
        with pytest.raises(errors.APIError) as raised:
            await turn(session)
    assert raised.value.code == code


async def test_chaos_refusal_closes_with_1011_and_its_message(live: tuple[InProcessServer, str]) -> None:
    client = genai.Client(api_key="k", http_options=options(live, **{"x-simulator-chaos": "error=rate_limit"}))
    async with client.aio.live.connect(model="gemini-2.0-flash", config=TEXT) as session:
        await session.send_client_content(turns={"role": "user", "parts": [{"text": "Hi"}]}, turn_complete=True)
        with pytest.raises(errors.APIError) as raised:
            await turn(session)
    assert raised.value.code == 1011


async def test_turns_are_logged_under_the_live_endpoint(
    live: tuple[InProcessServer, str], client: genai.Client
) -> None:
    async with client.aio.live.connect(model="gemini-2.0-flash", config=TEXT) as session:
        await session.send_client_content(turns={"role": "user", "parts": [{"text": "log me"}]}, turn_complete=True)
        await turn(session)
    app = live[0].app
    assert app is not None
    assert any(key[2] == "live" for key in app.stats.requests)


@pytest.mark.parametrize("fault", ["disconnect", "malformed", "no_terminator", "error_event"])
async def test_a_fault_mid_turn_closes_with_1011_after_the_parts_before_it(
    live: tuple[InProcessServer, str], fault: str
) -> None:
    chaos = {"x-simulator-chaos": f"fault={fault}; after=2"}
    client = genai.Client(api_key="k", http_options=options(live, **chaos))
    texts: list[str] = []
    async with client.aio.live.connect(model="gemini-2.0-flash", config=TEXT) as session:
        await session.send_client_content(turns={"role": "user", "parts": [{"text": "Hi"}]}, turn_complete=True)
        with pytest.raises(errors.APIError) as raised:
            await _texts_until_closed(session, texts)
    assert raised.value.code == 1011
    assert len(texts) == 2  # the parts released before the fault reached the client
    if fault == "error_event":
        assert "overloaded" in str(raised.value)  # the in-stream error's own message


async def _texts_until_closed(session: Any, texts: list[str]) -> None:
    """Collect the model's text parts until the socket closes (a completed turn fails the test)."""
    async for message in session.receive():
        assert not (message.server_content and message.server_content.turn_complete)
        if message.server_content and message.server_content.model_turn:
            texts.extend(p.text or "" for p in message.server_content.model_turn.parts or [])


async def test_a_strict_scopes_unmatched_turn_closes_with_1008_naming_it(live: tuple[InProcessServer, str]) -> None:
    # A turn is a generation through the app with the handshake's test id: the scope's
    # strict mode applies, and a refused turn closes the socket as the Live API does (1008).
    server, cert = live
    scope = "live-strict"
    async with httpx.AsyncClient(base_url=server.url, verify=trusting(cert)) as admin:
        assert (await admin.put("/admin/scope", params={"scope": scope}, json={"strict": True})).status_code == 200
    client = genai.Client(api_key="k", http_options=options(live, **{"x-simulator-test-id": scope}))
    async with client.aio.live.connect(model="gemini-2.0-flash", config=TEXT) as session:
        await session.send_client_content(turns={"role": "user", "parts": [{"text": "Hi"}]}, turn_complete=True)
        with pytest.raises(errors.APIError) as raised:
            await turn(session)
    assert raised.value.code == 1008 and "Strict mode" in str(raised.value)
