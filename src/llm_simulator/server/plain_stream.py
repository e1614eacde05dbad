"""A plain stream's frames written as its pacer releases its tokens (``core.plain``).

The per-token path of the common stream (one choice of plain text, no fault): the
engine's pacer says when each token is due, the provider's encoder frames it, and this
loop writes it: no async generator between the timer and the socket. ``StreamSender.send``
takes this path for a response whose ``plain`` still stands for its frames, and handles
its end, errors and interruptions exactly as for the general path.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Sequence
from typing import Any, NamedTuple

from llm_simulator.core.plain import PlainTokens, Releasable, TokenFrames
from llm_simulator.server.coalesce import MAX_FRAMES, Resume
from llm_simulator.server.wire import StreamWire


def send_plain(wire: StreamWire, plain: PlainTokens) -> Coroutine[Any, Any, None]:
    """Write a plain stream (``core.plain``): each token's frames as the pacer releases it.

    The per-token path of the common stream: the pacer's wait, its release note, the
    encoder's frame and the write, with no generator in between. The writes are the general
    path's (``StreamSender.send``): the opening frames ready together (the role chunk and
    the first token; with latency off, the whole stream) in one write; then an engine's
    stream (``pacer.gathers``) writes frames that come without a wait together
    (``_gathered``) and ends the body in the write of its last frames, a sampled stream
    writes each frame alone while on time, and the tokens already due together when it is
    a whole ITL behind (``_one_by_one``). Past the opening, a ``_TimerWriter`` writes the
    stream from its pacer's release pass (the pacer's ``drive``), with no task wake-up per
    token. Every write goes through ``wire``'s policy (watched, counted, the body ended
    in the last frames' write: ``wire.ended``). The pacer is started first and closed
    however the stream ends.
    """
    # The loop's own coroutine, not one awaiting it: one frame fewer to hold per open stream
    # and to pass through at each token. Each loop starts and closes the pacer itself.
    return (_gathered if plain.pacer.gathers else _one_by_one)(wire, plain)


def _parts(
    plain: PlainTokens,
) -> tuple[Sequence[str], Callable[[int], Awaitable[None] | None], Callable[[], None], TokenFrames]:
    """What a stream loop calls per token, looked up once: tokens, wait, released, the encoder."""
    pacer = plain.pacer
    return pacer.tokens, pacer.wait, pacer.released, plain.frames


async def _one_by_one(wire: StreamWire, plain: PlainTokens) -> None:
    """The opening frames ready together in one write, then each frame in a write of its own.

    As the general path writes a sampled stream: the opening lasts until the stream first
    waits after its first token (a write of at most ``MAX_FRAMES`` frames at a time); when
    it runs to the stream's end, its last write ends the body (``StreamWire.last``). A
    stream that fell a whole ITL behind (its next token already due when it writes one)
    writes the tokens due by then in one write of at most ``MAX_FRAMES``: the same bytes,
    fewer passes through the server while it is saturated. Never early: a token joins a
    write only once it is due. Past the opening the stream's ``_TimerWriter`` writes it.
    """
    tokens, wait, released, encoder = _parts(plain)
    pacer = plain.pacer
    pacer.start()
    try:
        last = len(tokens) - 1
        opening: list[bytes] = []
        step = 0
        while True:  # the opening: until the first wait after the first token
            waiter = wait(step)
            if waiter is not None:
                if step:
                    break
                await waiter  # the first token's wait (TTFT): the opening has not begun
            released()
            if step == 0:
                opening += encoder.first(tokens[0], last == 0)
            elif step < last:
                opening.append(encoder.token(tokens[step]))
            else:
                opening += encoder.last(tokens[step])
            if len(opening) >= MAX_FRAMES:
                await wire.frames(opening)
                opening = []
            step += 1
            if step > last:  # the whole stream came without a wait after its first token
                if opening:
                    await wire.last(opening)
                return
        if opening:
            await wire.frames(opening)
        await waiter
        if step < last:
            # The steady state, written from the scheduler's release pass: no task wake-up per token.
            await _TimerWriter(wire, plain, pacer.drive, step, joins_last=False).run()
        released()
        for frame in encoder.last(tokens[last]):
            await wire.body(frame, 1)
    finally:
        pacer.close()


class _HeldWrite(NamedTuple):
    """A write the server could not take at once (its buffer for the stream is full): the task finishes it."""

    rest: Iterator[Any]  # the write's awaitable, stepped once
    waits_on: object  # what it waits on (yielded by that step)
    frames: int


class _Tail(NamedTuple):
    """The stream's last token is due: the frames gathered before it and not written yet (an engine's)."""

    body: bytes
    frames: int


class _Failed(NamedTuple):
    """An error (the pacer's, the encoder's, the write's): the task writes ``body`` first, then raises it."""

    body: bytes
    frames: int
    error: Exception


_END = _Tail(b"", 0)


class _TimerWriter:
    """A plain stream's steady state, written from the release pass of its scheduler or engine.

    The task loops' steady state (``_one_by_one``, ``_gathered``) without their task: the
    scheduler's release pass (a sampled stream) or the engine's step (an engine's) calls the
    writer itself (``Releasable``) when its token is due, and the writer notes the release,
    frames the token and every token due with it (at most ``MAX_FRAMES``), parks itself for
    the next (the pacer's ``drive``) and hands the frames to the server in one write. A
    write the server takes at once (granian's, unless the stream's buffer is full)
    completes in that call, so a token costs no future, no task wake-up and no coroutine
    resumed through the application's frames. The stream's task waits on ``handoff``
    meanwhile and takes over in three cases: the last token is due (``_Tail``: the task
    writes the closing frames, joined with the frames gathered before them when
    ``joins_last``, as ``_gathered`` does), a write must wait (``_HeldWrite``: the task
    finishes it watched by the stalled-reader sweep, and the writer is held until then: a
    token due meanwhile is written after it, never before), or an error (``_Failed``: the
    frames gathered before it go out first, then the task raises it where the stream's
    error handling is). A cancelled task (the client left, the drain deadline) marks the
    writer ``done``, and its scheduler or engine drops it.
    """

    __slots__ = (
        "_dead",
        "_drive",
        "_encode",
        "_error",
        "_joins_last",
        "_last",
        "_missed",
        "_released",
        "_tokens",
        "_wire",
        "handoff",
        "held",
        "step",
    )

    def __init__(
        self,
        wire: StreamWire,
        plain: PlainTokens,
        drive: Callable[[int, Releasable], bool],
        step: int,
        *,
        joins_last: bool,
    ) -> None:
        self._wire = wire
        self._tokens, _, self._released, frames = _parts(plain)
        self._encode = frames.token
        self._drive = drive
        self._joins_last = joins_last
        self._last = len(self._tokens) - 1
        self.step = step  # the next token to write (due once the writer is released)
        self.handoff: asyncio.Future[_HeldWrite | _Tail | _Failed] = asyncio.get_running_loop().create_future()
        self.held = False  # a held write is in the task's hands
        # Released while held, or held while not parked: the task writes the due token after the held write.
        self._missed = False
        self._error: Exception | None = None  # failed while held: raised after the held write
        self._dead = False

    def done(self) -> bool:
        """Whether the stream is over (the scheduler or engine then drops the writer)."""
        return self._dead

    def cancel(self) -> bool:
        """The stream is over (its timeline closed): no release is wanted any more."""
        self._dead = True
        return True

    def set_result(self, _result: None) -> None:
        """Token ``step`` is due (the release pass): write it and every token due with it, park for the next.

        A catch-up's due tokens go in one write of at most ``MAX_FRAMES``; at the last token
        the task takes over. The write is inlined (``_hold`` is its rare branch): this is
        the once-per-token path of every plain stream past its opening.
        """
        if self.held or self.handoff.done():  # a held write first; or the task is ending the stream
            self._missed = True
            return
        tokens, released, encode, drive, last = self._tokens, self._released, self._encode, self._drive, self._last
        send, watch = self._wire.send, self._wire.watch
        step = self.step
        while True:
            if step >= last:  # the last token is due: its closing frames are the task's
                self.step = step
                self.handoff.set_result(_END)
                return
            first = step
            body = b""
            try:
                while True:
                    released()
                    body += encode(tokens[step])
                    step += 1
                    parked = drive(step, self)
                    if parked or step >= last or step - first >= MAX_FRAMES:
                        break
            except Exception as exc:  # the frames before it go out first
                self.step = step
                self.handoff.set_result(_Failed(body, step - first, exc))
                return
            self.step = step
            if not parked and step >= last and self._joins_last:
                self.handoff.set_result(_Tail(body, step - first))
                return
            try:
                pending = send({"type": "http.response.body", "body": body, "more_body": True}).__await__()
                for waits_on in pending:  # the write must wait: the task finishes it, the writer holds
                    self._hold(pending, waits_on, step - first, parked)
                    return
            except Exception as exc:
                self.handoff.set_result(_Failed(b"", 0, exc))
                return
            watch.sent += step - first
            if parked:
                return

    def set_exception(self, exception: BaseException) -> None:
        """The engine failed the stream while the writer waited: raised in the task (after a held write)."""
        error = exception if isinstance(exception, Exception) else RuntimeError(str(exception))
        if self.held or self.handoff.done():
            self._error = error
            return
        self.handoff.set_result(_Failed(b"", 0, error))

    def _hold(self, pending: Iterator[Any], waits_on: object, frames: int, parked: bool) -> None:
        """A write the server could not take at once: the task finishes it, the writer is held till then."""
        self._wire.watch.sending = True
        self.held = True
        # Not parked (its next token is due already): no release will come, so the task
        # goes on with the due tokens once the held write is done.
        self._missed = not parked
        self.handoff.set_result(_HeldWrite(pending, waits_on, frames))

    async def run(self) -> _Tail:
        """Write token ``step`` (due now), then every later one from the release pass, to the last.

        Returns the last token's ``_Tail``: the frames gathered before it that the caller
        writes together with the closing frames (none unless ``joins_last``).
        """
        watch = self._wire.watch
        try:
            self.set_result(None)
            while True:
                outcome = await self.handoff
                if type(outcome) is _Tail:
                    return outcome
                if type(outcome) is _Failed:
                    if outcome.frames:
                        await self._wire.body(outcome.body, outcome.frames)
                    raise outcome.error
                assert type(outcome) is _HeldWrite
                self.handoff = asyncio.get_running_loop().create_future()
                await Resume(outcome.rest, outcome.waits_on)
                watch.sending = False
                watch.sent += outcome.frames
                self.held = False
                if self._error is not None:
                    raise self._error
                if self._missed:  # its token came due during the held write
                    self._missed = False
                    self.set_result(None)
        finally:
            self._dead = True


async def _gathered(wire: StreamWire, plain: PlainTokens) -> None:
    """Frames that come without a wait in one write of at most ``MAX_FRAMES``, as ``write_ready`` does.

    The first token's opening, a stream behind its engine, the last token's closing: a
    write happens just before the stream waits, so no frame waits for a later one. The
    last frames end the body in their write (``StreamWire.last_body``).
    """
    tokens, wait, released, encoder = _parts(plain)
    pacer = plain.pacer
    pacer.start()
    try:
        token = encoder.token
        last = len(tokens) - 1
        pending = b""
        count = 0  # frames in ``pending``
        try:
            for step in range(last + 1):
                waiter = wait(step)
                if count and (waiter is not None or count >= MAX_FRAMES):
                    body, sent = pending, count
                    pending, count = b"", 0  # before the write: a failed write is not retried below
                    await wire.body(body, sent)
                if waiter is not None:
                    await waiter
                    if step and step < last:
                        # The steady state from the engine's step: no task wake-up per token. The
                        # writer hands back the frames it gathered before the last token's.
                        pending, count = await _TimerWriter(wire, plain, pacer.drive, step, joins_last=True).run()
                        released()
                        batch = encoder.last(tokens[last])
                        pending += b"".join(batch)
                        count += len(batch)
                        break
                released()
                if 0 < step < last:
                    pending += token(tokens[step])
                    count += 1
                else:
                    batch = encoder.first(tokens[0], last == 0) if step == 0 else encoder.last(tokens[step])
                    pending += b"".join(batch)
                    count += len(batch)
            if count:
                sent, count = count, 0
                await wire.last_body(pending, sent)
        except Exception:
            # An error from the pacer (an engine failure) or the encoder, raised without a wait:
            # the frames before it go out first, so it reaches the client after exactly those.
            if count:
                await wire.body(pending, count)
            raise
    finally:
        pacer.close()
