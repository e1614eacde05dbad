"""The streaming floor: granian serving paced SSE streams from a bare ASGI app (``streams.py --floor``).

What a Python app on granian's ASGI interface cannot do better than, on this machine: the
least per-token work that still paces every stream on an absolute schedule (the token k of
a stream is due at its arrival + TTFT + k × ITL) and writes each token when it is due. It
is the simulator's own design with everything else taken out — no parsing beyond reading
``max_tokens``, no validation, tokenizer, telemetry, engine, limits or disconnect watch:

* one loop timer per 2 ms window releases every stream due in it (as ``Scheduler``'s
  batched release), and the timer's callback writes each stream's frame itself, with no
  task woken per token (as the simulator's ``_TimerWriter``);
* a frame is a constant OpenAI chat chunk (the role chunk joins the first token's write, as
  the simulator's opening does); the last token, the finish chunk and ``[DONE]`` go in the
  stream task's last write;
* a write granian cannot take at once is finished by the stream's task, which then parks
  the stream again.

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
import heapq
import json
import math
import os
import time
from collections.abc import Generator, Iterator
from typing import Any

from _common import read_body, serve_all_but_post

TTFT_S = float(os.environ.get("FLOOR_TTFT_MS", "20")) / 1000
ITL_S = float(os.environ.get("FLOOR_ITL_MS", "20")) / 1000
WINDOW_S = 0.002  # the simulator's BATCH_WINDOW_S
GRID = os.environ.get("FLOOR_GRID") == "1"  # tokens on a shared step grid (an engine's steps)

_CHUNK = (
    '{"id":"chatcmpl-floor","object":"chat.completion.chunk","created":1,"model":"bench-model",'
    '"choices":[{"index":0,"delta":%s,"finish_reason":%s}]}'
)
ROLE = b"data: " + (_CHUNK % ('{"role":"assistant","content":""}', "null")).encode() + b"\n\n"
TOKEN = b"data: " + (_CHUNK % ('{"content":" word"}', "null")).encode() + b"\n\n"
CLOSING = TOKEN + b"data: " + (_CHUNK % ("{}", '"length"')).encode() + b"\n\n" + b"data: [DONE]\n\n"
HEADERS = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]


class _Rest:
    """The rest of a write granian could not take at once: its awaitable, already stepped once."""

    def __init__(self, rest: Iterator[Any], waits_on: object) -> None:
        self.rest, self.waits_on = rest, waits_on

    def __await__(self) -> Generator[Any, Any, Any]:
        yield self.waits_on
        return (yield from self.rest)


class Stream:
    """One stream's schedule and its writer (released by ``Pacer`` when its token is due)."""

    __slots__ = ("arrived", "end", "next", "send", "tokens")

    def __init__(self, send: Any, tokens: int, arrived: float) -> None:
        self.send, self.tokens, self.arrived = send, tokens, arrived
        self.next = 0  # the next token to write
        self.end: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    def due(self) -> float:
        """When token ``next`` is due (on the step grid: the first multiple of ITL at or after that)."""
        due = self.arrived + TTFT_S + self.next * ITL_S
        return math.ceil(due / ITL_S) * ITL_S if GRID else due

    def release(self) -> None:
        """Token ``next`` is due: write it (with the role chunk if it is the first), park for the next."""
        if self.next >= self.tokens - 1:  # the last token: the task writes it with the closing frames
            self.end.set_result(None)
            return
        body = ROLE + TOKEN if self.next == 0 else TOKEN
        self.next += 1
        try:
            pending = self.send({"type": "http.response.body", "body": body, "more_body": True}).__await__()
            for waits_on in pending:  # the write must wait: the task finishes it, then parks the stream
                self.end.set_result(_Rest(pending, waits_on))
                return
        except Exception as exc:  # raised in the stream's task; the rest of the window goes on
            self.end.set_exception(exc)
            return
        PACER.park(self)


class Pacer:
    """A heap of 2 ms windows over the loop; one timer callback releases every stream due in a window."""

    def __init__(self) -> None:
        self.buckets: dict[float, list[Stream]] = {}
        self.heap: list[float] = []
        self.armed_for = math.inf
        self.handle: asyncio.TimerHandle | None = None

    def park(self, stream: Stream) -> None:
        """Release ``stream`` at the end of the window its next token falls in (in the next pass, if that is past)."""
        due = stream.due()
        release = math.ceil(due / WINDOW_S) * WINDOW_S
        if release < due:  # the quotient rounded down onto an integer (as ``batch_release``)
            release += WINDOW_S
        bucket = self.buckets.get(release)
        if bucket is not None:
            bucket.append(stream)
            return
        self.buckets[release] = [stream]
        heapq.heappush(self.heap, release)
        if release < self.armed_for:
            self._arm(release)

    def _arm(self, release: float) -> None:
        # As ``Scheduler._arm``: uvloop's timers fire up to 1.5 ms early (whole milliseconds
        # from a truncated clock), so the timer goes 0.5 ms after the window and at least
        # 1 ms ahead; earlier, it would find nothing due and spin.
        loop = asyncio.get_running_loop()
        if self.handle is not None:
            self.handle.cancel()
        self.armed_for = release
        self.handle = loop.call_later(max(0.001, release - time.monotonic() + 0.0005), self.release_due)

    def release_due(self) -> None:
        """Release every window whose time has come, then arm the timer for the earliest left."""
        self.handle = None
        self.armed_for = -math.inf  # streams re-parked in this pass arm nothing
        now = time.monotonic()
        try:
            while self.heap and self.heap[0] <= now:
                for stream in self.buckets.pop(heapq.heappop(self.heap)):
                    stream.release()
        finally:
            self.armed_for = math.inf
            if self.heap:
                self._arm(self.heap[0])


PACER = Pacer()


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """``/health`` answers 200; any POST streams ``max_tokens`` tokens of its JSON body."""
    if await serve_all_but_post(scope, receive, send):
        return
    tokens = max(1, int(json.loads(await read_body(scope, receive)).get("max_tokens", 100)))
    stream = Stream(send, tokens, time.monotonic())
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    PACER.park(stream)
    while True:
        outcome = await stream.end
        if outcome is None:
            break
        stream.end = asyncio.get_running_loop().create_future()
        await outcome
        PACER.park(stream)
    await send({"type": "http.response.body", "body": CLOSING if tokens > 1 else ROLE + CLOSING, "more_body": False})
