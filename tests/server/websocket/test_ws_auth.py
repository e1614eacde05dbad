"""Admission of WebSocket sessions and turns: the gate (a header key, Live's `?key=`), rate limits, chaos."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import openai
import pytest
import websockets
from websockets.exceptions import ConnectionClosedError

from llm_simulator.testing import SimulatorHandle, start_simulator
from tests.server.websocket.conftest import until

KEY = "sk-ws-user-123456"
LIVE_PATH = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"


@pytest.fixture(scope="module")
def guarded() -> Iterator[SimulatorHandle]:
    """A simulator that requires a key."""
    with start_simulator({"auth.require_auth": True, "auth.keys": [{"name": "user", "key": KEY}]}) as handle:
        yield handle


@pytest.mark.parametrize("key", ["sk-wrong-000000", ""])
async def test_realtime_without_a_valid_key_gets_an_error_event_then_a_close(
    guarded: SimulatorHandle, key: str
) -> None:
    client = openai.AsyncOpenAI(base_url=guarded.openai_base_url, api_key=key or "unused", max_retries=0)
    headers = {"Authorization": ""} if not key else {}
    async with client.realtime.connect(model="gpt-realtime", extra_headers=headers) as conn:
        error = await conn.recv()
        with pytest.raises(ConnectionClosedError) as closed:
            await conn.recv()
    await client.close()
    assert error.type == "error" and error.error.type == "invalid_request_error"
    assert error.error.code == ("invalid_api_key" if key else "missing_api_key")
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


async def test_realtime_with_the_key_is_served(guarded: SimulatorHandle) -> None:
    client = openai.AsyncOpenAI(base_url=guarded.openai_base_url, api_key=KEY, max_retries=0)
    async with client.realtime.connect(model="gpt-realtime") as conn:
        assert (await conn.recv()).type == "session.created"
        await conn.session.update(session={"type": "realtime", "output_modalities": ["text"]})
        await conn.recv()
        await conn.conversation.item.create(
            item={"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}
        )
        await conn.response.create()
        events = await until(conn, "response.done")
    await client.close()
    assert events[-1].response.status == "completed"


async def test_live_takes_the_key_as_a_query_parameter(guarded: SimulatorHandle) -> None:
    url = guarded.server.url.replace("http://", "ws://") + LIVE_PATH
    async with websockets.connect(url + "?key=" + KEY) as ws:
        await ws.send(json.dumps({"setup": {"model": "models/gemini-2.0-flash"}}))
        assert json.loads(await ws.recv()) == {"setupComplete": {}}
        await ws.send(json.dumps({"realtimeInput": {"text": "hi"}}))
        messages = [json.loads(await ws.recv())]
        while "usageMetadata" not in messages[-1]:
            messages.append(json.loads(await ws.recv()))
    assert messages[-1]["serverContent"] == {"turnComplete": True}
    async with websockets.connect(url + "?key=sk-wrong-000000") as ws:
        with pytest.raises(ConnectionClosedError) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    assert "Incorrect API key" in closed.value.rcvd.reason


async def test_an_unknown_path_is_refused_at_the_handshake(guarded: SimulatorHandle) -> None:
    with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
        async with websockets.connect(guarded.server.url.replace("http://", "ws://") + "/v1/nothing-here"):
            pass
    assert refused.value.response.status_code == 403


async def test_a_spent_request_budget_fails_the_next_realtime_response() -> None:
    config = {"rate_limits.enabled": True, "rate_limits.tiers": [{"requests_per_minute": 1}]}
    with start_simulator(config) as handle:
        client = openai.AsyncOpenAI(base_url=handle.openai_base_url, api_key="sk-any", max_retries=0)
        async with client.realtime.connect(model="gpt-realtime") as conn:
            await conn.recv()
            await conn.response.create(response={"output_modalities": ["text"]})
            first = await until(conn, "rate_limits.updated")
            await conn.response.create(response={"output_modalities": ["text"]})
            second = await until(conn, "response.done")
        await client.close()
    requests = next(r for r in first[-1].rate_limits if r.name == "requests")
    assert requests.limit == 1 and requests.remaining == 0 and (requests.reset_seconds or 0) > 0
    error = next(e for e in second if e.type == "error")
    assert error.error.code == "rate_limit_exceeded" and "RPM" in error.error.message
    assert second[-1].response.status == "failed"


async def test_responses_over_websocket_report_chaos_errors_with_their_status() -> None:
    with start_simulator() as handle:
        client = openai.AsyncOpenAI(
            base_url=handle.openai_base_url,
            api_key="sk-any",
            max_retries=0,
            default_headers={"x-simulator-chaos": "error=server_error; status=502"},
        )
        async with client.responses.connect() as conn:
            create: Any = {"type": "response.create", "model": "gpt-4o", "input": "hi"}
            await conn.send(create)
            error: Any = await conn.recv()
        await client.close()
    assert error.type == "error" and error.status == 502 and error.error.type == "server_error"


async def test_an_ephemeral_key_opens_a_session_as_its_issuer(guarded: SimulatorHandle) -> None:
    server = openai.AsyncOpenAI(base_url=guarded.openai_base_url, api_key=KEY, max_retries=0)
    session: Any = {
        "type": "realtime",
        "model": "gpt-realtime",
        "instructions": "Be terse.",
        "output_modalities": ["text"],
    }
    secret = await server.realtime.client_secrets.create(
        expires_after={"anchor": "created_at", "seconds": 60}, session=session
    )
    await server.close()
    assert secret.value.startswith("ek_") and secret.expires_at > 0
    browser = openai.AsyncOpenAI(base_url=guarded.openai_base_url, api_key=secret.value, max_retries=0)
    async with browser.realtime.connect(model="gpt-realtime") as conn:
        created: Any = await conn.recv()
        assert created.session.instructions == "Be terse." and created.session.output_modalities == ["text"]
        await conn.response.create()
        events = await until(conn, "response.done")
    assert events[-1].response.status == "completed"
    forged = openai.AsyncOpenAI(base_url=guarded.openai_base_url, api_key="ek_" + "0" * 32, max_retries=0)
    async with forged.realtime.connect(model="gpt-realtime") as conn:
        refused = await conn.recv()
    await browser.close()
    await forged.close()
    assert refused.type == "error" and refused.error.code == "invalid_api_key"


@pytest.mark.parametrize(
    ("body", "param"),
    [({"expires_after": {"seconds": 5}}, "expires_after.seconds"), ({"session": {"type": "x"}}, "session.type")],
)
async def test_bad_client_secret_requests_name_the_field(
    guarded: SimulatorHandle, body: dict[str, Any], param: str
) -> None:
    client = openai.AsyncOpenAI(base_url=guarded.openai_base_url, api_key=KEY, max_retries=0)
    with pytest.raises(openai.BadRequestError) as bad:
        await client.post("/realtime/client_secrets", body=body, cast_to=object)
    await client.close()
    assert bad.value.param == param
