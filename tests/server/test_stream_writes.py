"""How many writes a stream costs the server: frames ready together share one, the body ends in the last.

The server's cost is per write (each is a pass through the ASGI server), not per byte, so
frames the stream produces without waiting go out together and the body's end rides on
the last of them. The bytes, their order and every frame's timing stay as they were.
"""

from __future__ import annotations

from typing import Any

import orjson

from llm_simulator.config import load_config
from llm_simulator.server.app import SimulatorApp


def stream_body(tokens: int) -> bytes:
    """A streamed chat completion of exactly ``tokens`` tokens."""
    messages = [{"role": "user", "content": "hi"}]
    return orjson.dumps(
        {"model": "gpt-4.1", "messages": messages, "max_tokens": tokens, "stream": True, "ignore_eos": True}
    )


async def body_messages(app: SimulatorApp, tokens: int) -> list[dict[str, Any]]:
    """Every ``http.response.body`` message the app sent for one stream, in order."""
    messages: list[dict[str, Any]] = []
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": stream_body(tokens), "more_body": False}
        return await _never()  # the client stays to the end

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            messages.append(dict(message))

    scope = {
        "type": "http", "method": "POST", "path": "/v1/chat/completions", "query_string": b"",
        "headers": [(b"content-type", b"application/json")],
    }  # fmt: skip
    await app(scope, receive, send)  # type: ignore[arg-type]
    return messages


async def _never() -> dict[str, Any]:
    import asyncio

    await asyncio.Event().wait()
    raise AssertionError("unreachable")


def frames_of(messages: list[dict[str, Any]]) -> list[bytes]:
    """The SSE frames the messages carried (a write never splits a frame)."""
    out: list[bytes] = []
    for message in messages:
        body: bytes = message.get("body", b"")
        assert body == b"" or body.endswith(b"\n\n")
        out.extend(frame for frame in body.split(b"\n\n")[:-1])
    return out


async def test_a_stream_without_latency_is_one_write_of_frames_then_the_end() -> None:
    app = SimulatorApp(load_config(flags={"latency.enabled": False}))
    messages = await body_messages(app, 20)
    # role + 20 tokens + finish + [DONE], all produced without a wait: one write. The body's
    # first write never ends it (the server would frame a one-write body with a length, not
    # chunked), so the end follows on its own.
    assert [m.get("more_body", False) for m in messages] == [True, False]
    assert messages[1].get("body", b"") == b""
    frames = frames_of(messages)
    assert len(frames) == 23 and frames[-1] == b"data: [DONE]"
    content = [orjson.loads(f[6:])["choices"][0]["delta"].get("content") for f in frames[1:21]]
    assert all(content)
    # Telemetry counts the events sent, not the writes.
    assert [row["stream_chunks"] for row in app.stats.snapshot()["models"]] == [23]


async def test_a_long_stream_without_latency_is_written_in_bounded_pieces() -> None:
    from llm_simulator.server.coalesce import MAX_FRAMES

    app = SimulatorApp(load_config(flags={"latency.enabled": False}))
    messages = await body_messages(app, 200)
    frames = frames_of(messages)
    assert len(frames) == 203
    assert all(m["body"].count(b"\n\n") <= MAX_FRAMES for m in messages)
    # Every piece but the last is full; the body ends in the write of the last piece.
    assert [m.get("more_body", False) for m in messages] == [True] * (len(messages) - 1) + [False]
    assert len(messages) == -(-203 // MAX_FRAMES)
    assert messages[-1]["body"].count(b"\n\n") == 203 % MAX_FRAMES


async def test_a_paced_stream_sends_its_role_with_the_first_token_then_each_token_alone() -> None:
    app = SimulatorApp(load_config(flags={"latency.multiplier": 0.5}))
    messages = await body_messages(app, 8)
    counts = [m.get("body", b"").count(b"\n\n") for m in messages]
    # The role chunk and the first token are ready together: one write (a loaded machine
    # may have made a later token due by then too). After the opening, a sampled stream
    # writes each frame alone, and its body ends with a write of its own. A stream woken a
    # whole ITL late writes the tokens due by then together (its catch-up): a loaded 2-core
    # machine may cause one such wake-up, never a stream of them.
    assert counts[0] >= 2
    middle = counts[1:-1]
    assert sum(middle) == 11 - counts[0] and all(c >= 1 for c in middle), counts
    assert sum(1 for c in middle if c > 1) <= 1, counts
    assert messages[-1] == {"type": "http.response.body", "body": b""}
    frames = frames_of(messages)
    assert len(frames) == 11 and frames[-1] == b"data: [DONE]"
    content = [orjson.loads(f[6:])["choices"][0]["delta"].get("content") for f in frames[:9]]
    assert content[0] == "" and all(content[1:])  # the role chunk, then the 8 tokens
