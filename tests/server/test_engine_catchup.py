"""An engine stream sends the frames already out together (behind, or at its end), and nothing else changes."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson

from llm_simulator.config import load_config
from llm_simulator.server.app import SimulatorApp

MODEL = "gpt-4.1"
ENGINE = """\
engine:
  deployments:
    fast:
      models: [gpt-4.1]
      kv_blocks: 100000
      prefix_caching: false
      step: {step_ms: 5, weights_ms: 0, prefill_ms_per_token: 0, kv_ms_per_token: 0, seq_ms: 0,
             overlap: 0, jitter_sigma: 0, front_ms: 0}
"""


def make_app(tmp_path: Path) -> SimulatorApp:
    path = tmp_path / "engine.yaml"
    path.write_text(ENGINE)
    return SimulatorApp(load_config(path))


async def stream_with_a_slow_write(
    app: SimulatorApp, tokens: int, headers: dict[str, str], slow: bool = True
) -> list[bytes]:
    """Stream a chat completion whose first token write takes 100 ms (20 steps): the body writes.

    ``slow=False``: every write completes at once (a client reading on time).
    """
    body = orjson.dumps(
        {
            "model": MODEL,
            "messages": [{"role": "user", "content": "hi"}],
            "max_tokens": tokens,
            "stream": True,
            "ignore_eos": True,
        }
    )
    writes: list[bytes] = []
    first = True
    gone = asyncio.Event()

    async def receive() -> dict[str, Any]:
        nonlocal first
        if first:
            first = False
            return {"type": "http.request", "body": body, "more_body": False}
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body" and message.get("body"):
            writes.append(message["body"])
            if slow and len(writes) == 2:  # the first token's (after the role chunk): a reader that lags
                await asyncio.sleep(0.1)

    scope = {
        "type": "http", "method": "POST", "path": "/v1/chat/completions", "query_string": b"",
        "headers": [(b"content-type", b"application/json"), *((k.encode(), v.encode()) for k, v in headers.items())],
    }  # fmt: skip
    await app(scope, receive, send)  # type: ignore[arg-type]
    return writes


def contents(writes: list[bytes]) -> list[str]:
    """The content deltas of the SSE frames in ``writes``, in order (whole frames in every write)."""
    out: list[str] = []
    for write in writes:
        assert write.endswith(b"\n\n")  # a write never splits a frame
        for frame in write.split(b"\n\n")[:-1]:
            assert frame.startswith(b"data: ")
            if frame != b"data: [DONE]":
                delta = orjson.loads(frame[6:])["choices"][0]["delta"]
                if "content" in delta:
                    out.append(delta["content"])
    return out


async def test_a_stream_behind_the_engine_sends_the_tokens_out_together(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    writes = await stream_with_a_slow_write(app, 40, {})
    frames = sum(w.count(b"\n\n") for w in writes)
    # role + 40 tokens + finish + [DONE]: every frame arrives, in fewer writes than frames.
    assert frames == 43
    assert len(writes) < frames
    assert max(w.count(b"\n\n") for w in writes) >= 5  # the ~20 tokens made during the slow write
    texts = contents(writes)
    assert len(texts) == 41 and texts[0] == ""  # the role chunk, then the 40 tokens
    assert writes[-1].endswith(b"data: [DONE]\n\n")


async def test_a_fault_after_n_tokens_strikes_after_exactly_n_when_catching_up(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    writes = await stream_with_a_slow_write(app, 40, {"x-simulator-chaos": "fault=no_terminator; after=10"})
    assert len(contents(writes)) - 1 == 10  # the role chunk has an empty content
    assert b"[DONE]" not in b"".join(writes)


async def test_a_stream_on_time_writes_each_token_alone_and_its_start_and_end_in_one_write_each(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    writes = await stream_with_a_slow_write(app, 12, {}, slow=False)
    # The role chunk with the first token (ready together), then tokens 2-11 one write each
    # (each waits for its step), then the last token with the finish chunk and [DONE]: all
    # due at the same instant, one write.
    assert [w.count(b"\n\n") for w in writes] == [2] + [1] * 10 + [3]
    assert contents(writes) == contents([b"".join(writes)])  # the same frames in the same order
    assert len(contents(writes)) == 13  # the role chunk's empty content, then the 12 tokens
    last = writes[-1].split(b"\n\n")
    assert orjson.loads(last[0][6:])["choices"][0]["delta"]["content"]  # the last token
    assert orjson.loads(last[1][6:])["choices"][0]["finish_reason"] == "length"
    assert last[2] == b"data: [DONE]"
