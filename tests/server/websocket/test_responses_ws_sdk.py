"""The Responses API's WebSocket mode, with the openai SDK's ``responses.connect``."""

from __future__ import annotations

from typing import Any

import openai
import pytest
from websockets.exceptions import ConnectionClosedError

from llm_simulator.testing import SimulatorHandle
from tests.server.websocket.conftest import until


async def test_the_socket_carries_the_same_events_as_the_sse_stream(oai: openai.AsyncOpenAI) -> None:
    request: Any = {"model": "gpt-4o", "input": "Describe the sea.", "max_output_tokens": 40}
    create: Any = {"type": "response.create", **request}
    seeded = openai.AsyncOpenAI(
        base_url=str(oai.base_url), api_key="sk-test", max_retries=0, default_headers={"x-simulator-seed": "5"}
    )
    sse = [event async for event in await seeded.responses.create(**request, stream=True)]
    async with seeded.responses.connect() as conn:
        await conn.send(create)
        ws = await until(conn, "response.completed", "response.incomplete")
        await conn.send(create)  # a second response on the same socket
        again = await until(conn, "response.completed", "response.incomplete")
    await seeded.close()
    assert [e.type for e in ws] == [e.type for e in sse] == [e.type for e in again]
    assert [getattr(e, "delta", None) for e in ws] == [getattr(e, "delta", None) for e in sse]
    assert ws[-1].response.output_text == sse[-1].response.output_text
    assert [e.sequence_number for e in ws] == list(range(len(ws)))


async def test_a_refused_request_is_an_error_event_with_its_status(oai: openai.AsyncOpenAI) -> None:
    async with oai.responses.connect() as conn:
        await conn.send({"type": "response.create", "model": "gpt-nonexistent", "input": "hi"})
        error = await conn.recv()
        assert error.type == "error" and error.status == 400 and error.error.code == "model_not_found"
        await conn.send({"type": "response.create", "model": "gpt-4o", "input": "hi", "max_output_tokens": 3})
        bad = await conn.recv()
        assert bad.type == "error" and bad.status == 400 and bad.error.param == "max_output_tokens"


@pytest.mark.parametrize(
    ("raw", "code"),
    [("{nope", "invalid_json"), ('{"type": "response.cancel"}', "invalid_value"), (b"\x00\x01", "invalid_event")],
)
async def test_bad_frames_get_error_events(oai: openai.AsyncOpenAI, raw: str | bytes, code: str) -> None:
    async with oai.responses.connect() as conn:
        await conn._connection.send(raw)
        error = await conn.recv()
        assert error.type == "error" and error.error.code == code and error.status == 400
        await conn.send({"type": "response.create", "model": "gpt-4o", "input": "still here"})
        assert (await until(conn, "response.completed"))[-1].response.status == "completed"


async def test_a_chaos_disconnect_closes_the_socket(sim: SimulatorHandle) -> None:
    client = openai.AsyncOpenAI(
        base_url=sim.openai_base_url,
        api_key="sk-test",
        default_headers={"x-simulator-chaos": "fault=disconnect; after=2"},
    )
    async with client.responses.connect() as conn:
        await conn.send({"type": "response.create", "model": "gpt-4o", "input": "hi"})
        with pytest.raises(ConnectionClosedError) as closed:
            async for _ in conn:
                pass
    await client.close()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1011
