"""A plain stream's frames written as its pacer releases its tokens (``core.plain``).

The per-token path of the common stream (one choice of plain text, no fault): the
engine's pacer says when each token is due, the provider's encoder frames it, and this
loop writes it: no async generator between the timer and the socket. ``StreamSender.send``
takes this path for a response whose ``plain`` still stands for its frames, and handles
its end, errors and interruptions exactly as for the general path.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from llm_simulator.core.plain import PlainTokens, TokenFrames
from llm_simulator.server.asgi import Send
from llm_simulator.server.coalesce import MAX_FRAMES
from llm_simulator.server.connection import StreamWatch


async def send_plain(send: Send, plain: PlainTokens, watch: StreamWatch) -> bool:
    """Write a plain stream (``core.plain``): each token's frames as the pacer releases it.

    The per-token path of the common stream: the pacer's wait, its release note, the
    encoder's frame and the write, with no generator in between. The writes are the general
    path's (``StreamSender.send``): the opening frames ready together (the role chunk and
    the first token; with latency off, the whole stream) in one write; then an engine's
    stream (``pacer.gathers``) writes frames that come without a wait together
    (``_gathered``) and ends the body in the write of its last frames, a sampled stream
    writes each frame alone (``_one_by_one``). Counts every frame on ``watch`` (the chunk
    count). Returns whether the body was ended (no closing empty write is due then).
    """
    pacer = plain.pacer
    pacer.start()
    try:
        if pacer.gathers:
            return await _gathered(send, plain, watch)
        return await _one_by_one(send, plain, watch)
    finally:
        pacer.close()


async def _write(send: Send, watch: StreamWatch, body: bytes, frames: int, more: bool = True) -> None:
    """One watched write of ``frames`` frames (``more=False`` ends the body with them)."""
    watch.sending = True
    await send({"type": "http.response.body", "body": body, "more_body": more})
    watch.sending = False
    watch.sent += frames


def _parts(
    plain: PlainTokens,
) -> tuple[Sequence[str], Callable[[int], Awaitable[None] | None], Callable[[], None], TokenFrames]:
    """What a stream loop calls per token, looked up once: tokens, wait, released, the encoder."""
    pacer = plain.pacer
    return pacer.tokens, pacer.wait, pacer.released, plain.frames


async def _one_by_one(send: Send, plain: PlainTokens, watch: StreamWatch) -> bool:
    """The opening frames ready together in one write, then each frame in a write of its own.

    As the general path writes a sampled stream: the opening lasts until the stream first
    waits after its first token (a write of at most ``MAX_FRAMES`` frames at a time); when
    it runs to the stream's end, its last write ends the body unless it is the body's first.
    Returns whether the body was ended.
    """
    tokens, wait, released, encoder = _parts(plain)
    last = len(tokens) - 1
    opening: list[bytes] = []
    wrote = False  # whether a full piece of the opening has been written
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
            await _write(send, watch, b"".join(opening), len(opening))
            opening = []
            wrote = True
        step += 1
        if step > last:  # the whole stream came without a wait after its first token
            if opening:
                await _write(send, watch, b"".join(opening), len(opening), more=not wrote)
                return wrote
            return False
    if opening:
        await _write(send, watch, b"".join(opening), len(opening))
    await waiter
    token = encoder.token
    while step < last:  # the steady state: one token, one wait, one write
        released()
        # Inline, not ``_write``: no coroutine object per token on the per-token path.
        watch.sending = True
        await send({"type": "http.response.body", "body": token(tokens[step]), "more_body": True})
        watch.sending = False
        watch.sent += 1
        step += 1
        waiter = wait(step)
        if waiter is not None:
            await waiter
    released()
    for frame in encoder.last(tokens[last]):
        await _write(send, watch, frame, 1)
    return False


async def _gathered(send: Send, plain: PlainTokens, watch: StreamWatch) -> bool:
    """Frames that come without a wait in one write of at most ``MAX_FRAMES``, as ``write_ready`` does.

    The first token's opening, a stream behind its engine, the last token's closing: a
    write happens just before the stream waits, so no frame waits for a later one. The
    last frames end the body in their write, unless that is the body's first write (as
    ``_Wire.last``: granian would frame a one-write body with a content-length). Returns
    whether the body was ended.
    """
    tokens, wait, released, encoder = _parts(plain)
    token = encoder.token
    last = len(tokens) - 1
    pending = b""
    count = 0  # frames in ``pending``
    wrote = False  # whether any of the body has been written
    try:
        for step in range(last + 1):
            waiter = wait(step)
            if count and (waiter is not None or count >= MAX_FRAMES):
                body, sent = pending, count
                pending, count = b"", 0  # before the write: a failed write is not retried below
                await _write(send, watch, body, sent)
                wrote = True
            if waiter is not None:
                await waiter
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
            await _write(send, watch, pending, sent, more=not wrote)
            return wrote
        return False
    except Exception:
        # An error from the pacer (an engine failure) or the encoder, raised without a wait:
        # the frames before it go out first, so it reaches the client after exactly those.
        if count:
            await _write(send, watch, pending, count)
        raise
