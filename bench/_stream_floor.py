"""The streaming floor: granian serving paced SSE streams from a bare ASGI app (``streams.py --floor``).

What a Python app on granian's ASGI interface cannot do better than, on this machine: the
least per-token work that still paces every stream on an absolute schedule (the token k of
a stream is due at its arrival + TTFT + k × ITL) and writes each token when it is due. It
is the simulator's own design with everything else taken out — no parsing beyond reading
``max_tokens``, no validation, tokenizer, telemetry, engine, limits or disconnect watch:

* the simulator's own ``Scheduler``: one loop timer per 2 ms window releases every stream
  due in it, and its pass calls each stream's writer, which writes the frame itself with no
  task woken per token (as the simulator's ``_TimerWriter``);
* a frame is a constant OpenAI chat chunk (the role chunk joins the first token's write, as
  the simulator's opening does); the last token, the finish chunk and ``[DONE]`` go in the
  stream task's last write;
* a write granian cannot take at once is finished by the stream's task (through the
  simulator's ``coalesce.Resume``), which then parks the stream again.

So the client's numbers for this target (p99 |ITL − target|, TTFT p99, CPU per token) are
granian's and CPython's share of the simulator's: what no change to the simulator's own
Python can remove, as nginx is the floor of the non-streamed benchmark. Configured by
environment (the bench sets them): ``FLOOR_TTFT_MS``, ``FLOOR_ITL_MS``, and ``FLOOR_GRID=1``
for an engine-paced run: each token is then due at the first multiple of the ITL at or
after its own due time, so every stream's token of a step falls due together and is
written in one burst per step, as an engine's step releases them.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import time
from typing import Any

from _common import read_body, serve_all_but_post

from llm_simulator.engine.scheduler import Scheduler
from llm_simulator.infra.clock import SystemClock
from llm_simulator.server.coalesce import Resume

TTFT_S = float(os.environ.get("FLOOR_TTFT_MS", "20")) / 1000
ITL_S = float(os.environ.get("FLOOR_ITL_MS", "20")) / 1000
GRID = os.environ.get("FLOOR_GRID") == "1"  # tokens on a shared step grid (an engine's steps)

_CHUNK = (
    '{"id":"chatcmpl-floor","object":"chat.completion.chunk","created":1,"model":"bench-model",'
    '"choices":[{"index":0,"delta":%s,"finish_reason":%s}]}'
)
ROLE = b"data: " + (_CHUNK % ('{"role":"assistant","content":""}', "null")).encode() + b"\n\n"
TOKEN = b"data: " + (_CHUNK % ('{"content":" word"}', "null")).encode() + b"\n\n"
CLOSING = TOKEN + b"data: " + (_CHUNK % ("{}", '"length"')).encode() + b"\n\n" + b"data: [DONE]\n\n"
HEADERS = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]


class Stream:
    """One stream's schedule and its writer: the scheduler's release pass calls it when its token is due."""

    __slots__ = ("arrived", "dead", "end", "next", "send", "tokens")

    def __init__(self, send: Any, tokens: int, arrived: float) -> None:
        self.send, self.tokens, self.arrived = send, tokens, arrived
        self.next = 0  # the next token to write
        self.dead = False
        # Set when the task takes over: None at the last token, a held write's rest, or an error.
        self.end: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    def due(self) -> float:
        """When token ``next`` is due (on the step grid: the first multiple of ITL at or after that)."""
        due = self.arrived + TTFT_S + self.next * ITL_S
        return math.ceil(due / ITL_S) * ITL_S if GRID else due

    def park(self) -> None:
        """Wait for token ``next`` in the scheduler's batched windows (written at once if it is due)."""
        if not SCHEDULER.park_batched(self.due(), self):
            self.set_result(None)

    # ``Releasable``, as the simulator's ``_TimerWriter``: the scheduler's release pass calls these.
    def done(self) -> bool:
        """Whether the stream is over (the scheduler drops it)."""
        return self.dead

    def cancel(self) -> bool:
        """The stream is over."""
        self.dead = True
        return True

    def set_exception(self, exception: BaseException) -> None:
        """Never called by the scheduler (only an engine fails a stream)."""
        self.end.set_exception(exception)

    def set_result(self, _result: None) -> None:
        """Token ``next`` is due: write it (with the role chunk if it is the first), and each one due after it."""
        while True:
            if self.next >= self.tokens - 1:  # the last token: the task writes it with the closing frames
                self.end.set_result(None)
                return
            body = ROLE + TOKEN if self.next == 0 else TOKEN
            self.next += 1
            try:
                pending = self.send({"type": "http.response.body", "body": body, "more_body": True}).__await__()
                for waits_on in pending:  # the write must wait: the task finishes it, then parks the stream
                    self.end.set_result(Resume(pending, waits_on))
                    return
            except Exception as exc:  # raised in the stream's task; the rest of the window goes on
                self.end.set_exception(exc)
                return
            if SCHEDULER.park_batched(self.due(), self):
                return


# The simulator's own release design: 2 ms windows, one loop timer, writers called in its pass.
SCHEDULER = Scheduler(SystemClock())


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """``/health`` answers 200; any POST streams ``max_tokens`` tokens of its JSON body."""
    if await serve_all_but_post(scope, receive, send):
        return
    tokens = max(1, int(json.loads(await read_body(scope, receive)).get("max_tokens", 100)))
    stream = Stream(send, tokens, time.monotonic())
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    try:
        stream.park()
        while True:
            outcome = await stream.end
            if outcome is None:
                break
            stream.end = asyncio.get_running_loop().create_future()
            await outcome
            stream.park()
    finally:
        stream.dead = True
    await send({"type": "http.response.body", "body": CLOSING if tokens > 1 else ROLE + CLOSING, "more_body": False})
