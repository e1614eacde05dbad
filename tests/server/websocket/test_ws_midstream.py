"""Chaos faults in the middle of a WebSocket turn, in each framing, under uvicorn and granian.

A turn's events are written to the socket inside the turn's own write (``turns.run_turn``);
granian completes each write from its own thread (``WebSocket.send_text`` awaits it):
these tests check that every fault still reaches the client in its framing's own shape, and
that a clean turn's events arrive complete and in order, with both servers.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosedError

from llm_simulator.testing import SimulatorHandle, start_simulator
from tests.server.websocket.conftest import until
from tests.server.websocket.test_realtime_sdk import as_text, ask

CONFIG: dict[str, Any] = {"latency.enabled": True, "latency.multiplier": 0.02, "seed": 7}
READ_TIMEOUT_S = 30.0
TEXT_SESSION = {"type": "realtime", "output_modalities": ["text"]}


@pytest.fixture(scope="module", params=["uvicorn", "granian"])
def server(request: pytest.FixtureRequest) -> Iterator[SimulatorHandle]:
    """A simulator in this process (uvicorn) or the CLI's default server in a child (granian)."""
    with start_simulator(CONFIG, subprocess=request.param == "granian") as handle:
        yield handle


def chaos_client(server: SimulatorHandle, chaos: str = "") -> openai.AsyncOpenAI:
    """The async OpenAI client, with an ``x-simulator-chaos`` header when ``chaos`` is given."""
    headers = {"x-simulator-chaos": chaos} if chaos else None
    return openai.AsyncOpenAI(
        base_url=server.openai_base_url, api_key="sk-test", max_retries=0, default_headers=headers
    )


async def realtime_events(server: SimulatorHandle, chaos: str) -> tuple[list[Any], int | None]:
    """One text response's events, and the close code if the socket was closed."""
    client = chaos_client(server, chaos)
    events: list[Any] = []
    code = None
    try:
        async with client.realtime.connect(model="gpt-realtime") as conn:
            await as_text(conn)
            await ask(conn, "Tell me about the sea.")
            async with asyncio.timeout(READ_TIMEOUT_S):
                async for event in conn:
                    events.append(event)
                    if event.type == "rate_limits.updated":
                        break
    except ConnectionClosedError as closed:
        code = closed.rcvd.code if closed.rcvd is not None else None
    finally:
        await client.close()
    return events, code


def logged(server: SimulatorHandle, model: str) -> list[dict[str, Any]]:
    """The request log's entries for ``model``, once there is one (the turn ends after the client leaves)."""
    deadline = time.monotonic() + READ_TIMEOUT_S
    while not (entries := server.requests(model=model)) and time.monotonic() < deadline:
        time.sleep(0.05)  # the server runs on its own loop (a thread or a child process)
    return entries


async def test_a_clean_realtime_response_arrives_whole_and_in_order(server: SimulatorHandle) -> None:
    events, code = await realtime_events(server, "")
    assert code is None
    types = [e.type for e in events]
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert len(deltas) > 3
    assert types.index("response.created") < types.index("response.output_text.delta")
    assert types[-3:] == ["conversation.item.done", "response.done", "rate_limits.updated"]
    done = next(e for e in events if e.type == "response.output_text.done")
    assert "".join(deltas) == done.text  # every delta, in order
    assert len({e.event_id for e in events}) == len(events)


@pytest.mark.parametrize("fault", ["disconnect", "malformed", "no_terminator"])
async def test_a_broken_realtime_stream_closes_the_socket_with_1011(server: SimulatorHandle, fault: str) -> None:
    events, code = await realtime_events(server, f"fault={fault}; after=3")
    assert code == 1011
    types = [e.type for e in events]
    assert "response.created" in types and "response.done" not in types
    assert types.count("response.output_text.delta") <= 3


async def test_a_realtime_error_event_fails_the_response(server: SimulatorHandle) -> None:
    events, code = await realtime_events(server, "fault=error_event; after=3")
    assert code is None
    done = next(e for e in events if e.type == "response.done")
    assert done.response.status == "failed"
    assert [e.type for e in events].count("response.output_text.delta") == 3


async def test_a_malformed_frame_reaches_a_responses_socket_as_it_was_written(server: SimulatorHandle) -> None:
    url = server.url.replace("http://", "ws://") + "/v1/responses"
    headers = {"authorization": "Bearer sk-test", "x-simulator-chaos": "fault=malformed; after=2"}
    create = json.dumps({"type": "response.create", "model": "gpt-4o", "input": "Describe the sea."})
    async with connect(url, additional_headers=headers) as ws, asyncio.timeout(READ_TIMEOUT_S):
        await ws.send(create)
        types = []
        while True:
            message = await ws.recv()
            assert isinstance(message, str)
            try:
                types.append(json.loads(message)["type"])
            except json.JSONDecodeError:
                break  # the malformed frame, as the SSE encoder wrote it
        await ws.send(create)  # the socket is still open
        again = json.loads(await ws.recv())
    assert message.startswith('{"type":"response.output_text.delta","sequence_number":9')
    assert types.count("response.output_text.delta") == 2 and "response.completed" not in types
    assert again["type"] == "response.created"


async def test_a_responses_error_event_is_relayed_and_the_socket_stays_open(server: SimulatorHandle) -> None:
    client = chaos_client(server, "fault=error_event; after=2")
    try:
        async with client.responses.connect() as conn:
            for _ in range(2):  # the socket outlives a failed response
                await conn.send({"type": "response.create", "model": "gpt-4o", "input": "Describe the sea."})
                async with asyncio.timeout(READ_TIMEOUT_S):
                    events = await until(conn, "error")
                assert [e.type for e in events].count("response.output_text.delta") == 2
                assert events[-1].message
    finally:
        await client.close()


async def test_an_unterminated_responses_stream_leaves_the_socket_open(server: SimulatorHandle) -> None:
    client = chaos_client(server, "fault=no_terminator; after=2")
    types: list[str] = []
    try:
        async with client.responses.connect() as conn:
            for _ in range(2):
                await conn.send({"type": "response.create", "model": "gpt-4o", "input": "Describe the sea."})
            async with asyncio.timeout(READ_TIMEOUT_S):
                async for event in conn:
                    types.append(event.type)
                    if types.count("response.output_text.delta") == 4:
                        break
    finally:
        await client.close()
    assert types.count("response.created") == 2  # the second response came on the same socket
    assert "response.completed" not in types


async def test_a_client_leaving_mid_response_is_recorded_as_its_leaving(server: SimulatorHandle) -> None:
    url = server.url.replace("http://", "ws://") + "/v1/realtime?model=gpt-realtime"
    # The response stalls after three tokens, so the client is sure to leave in the middle.
    headers = {"authorization": "Bearer sk-test", "x-simulator-chaos": "fault=stall; after=3; duration_ms=30000"}
    server.clear_requests()
    async with connect(url, additional_headers=headers) as ws, asyncio.timeout(READ_TIMEOUT_S):
        await ws.send(json.dumps({"type": "session.update", "session": TEXT_SESSION}))
        await ws.send(json.dumps({"type": "response.create"}))
        deltas = 0
        while deltas < 3:
            deltas += '"type":"response.output_text.delta"' in str(await ws.recv())
    # The turn is hung up as a client's would be: recorded as 499, not as the model's failure.
    turns = logged(server, "gpt-realtime")
    assert [turn["status"] for turn in turns] == [499]
    assert turns[0]["endpoint"] == "realtime"
    events, code = await realtime_events(server, "")  # the server serves the next session as usual
    assert code is None and events[-1].type == "rate_limits.updated"
