"""Reading a request's body: a declared length ends the reading without one more ``receive``.

granian hands a body over as one data message with ``more_body`` set and answers the next
``receive`` with an empty last message only after another trip through its threads; the app
stops once the declared length has come, so a request costs one such trip, not two.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

from llm_simulator.config import load_config
from llm_simulator.server.app import SimulatorApp

BODY = orjson.dumps({"model": "gpt-4.1", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5})


@pytest.fixture
def app(tmp_path: Any) -> SimulatorApp:
    path = tmp_path / "config.yaml"
    path.write_text("seed: 7\nlatency: {enabled: false}\n")
    return SimulatorApp(load_config(path))


async def answer(
    app: SimulatorApp, messages: list[dict[str, Any]], headers: list[tuple[bytes, bytes]]
) -> tuple[int, int]:
    """The response status and the number of ``receive`` calls; past ``messages``, receive waits forever."""
    calls = 0
    status = 0
    never: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def receive() -> dict[str, Any]:
        nonlocal calls
        calls += 1
        if calls <= len(messages):
            return messages[calls - 1]
        await never  # granian's last message or a disconnect: not sent in these tests
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/chat/completions",
        "headers": [(b"content-type", b"application/json"), *headers],
        "query_string": b"",
    }
    await asyncio.wait_for(app(scope, receive, send), 10)  # type: ignore[arg-type]
    return status, calls


async def test_a_body_of_its_declared_length_is_read_with_one_receive(app: SimulatorApp) -> None:
    # As granian sends it: the data with more_body set; the empty last message would need a second receive.
    messages = [{"type": "http.request", "body": BODY, "more_body": True}]
    length = [(b"content-length", str(len(BODY)).encode())]
    assert await answer(app, messages, length) == (200, 1)


async def test_a_body_in_pieces_is_read_until_its_declared_length(app: SimulatorApp) -> None:
    half = len(BODY) // 2
    messages = [
        {"type": "http.request", "body": BODY[:half], "more_body": True},
        {"type": "http.request", "body": BODY[half:], "more_body": True},
    ]
    length = [(b"content-length", str(len(BODY)).encode())]
    assert await answer(app, messages, length) == (200, 2)


async def test_a_body_without_a_declared_length_is_read_to_its_last_message(app: SimulatorApp) -> None:
    messages = [
        {"type": "http.request", "body": BODY, "more_body": True},
        {"type": "http.request", "body": b"", "more_body": False},
    ]
    assert await answer(app, messages, [(b"transfer-encoding", b"chunked")]) == (200, 2)
