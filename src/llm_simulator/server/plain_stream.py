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


async def send_plain(send: Send, plain: PlainTokens, watch: StreamWatch) -> None:
    """Write a plain stream (``core.plain``): each token's frames as the pacer releases it.

    The per-token path of the common stream: the pacer's wait, its release note, the
    encoder's frame and the write, with no generator in between. The writes are the general
    path's: an engine's stream (``pacer.gathers``) writes frames that come without a wait
    together (``_gathered``), a sampled stream writes each frame alone (``_one_by_one``).
    Counts every frame on ``watch`` (the chunk count).
    """
    pacer = plain.pacer
    pacer.start()
    try:
        if pacer.gathers:
            await _gathered(send, plain, watch)
        else:
            await _one_by_one(send, plain, watch)
    finally:
        pacer.close()


def _parts(
    plain: PlainTokens,
) -> tuple[Sequence[str], Callable[[int], Awaitable[None] | None], Callable[[], None], TokenFrames]:
    """What a stream loop calls per token, looked up once: tokens, wait, released, the encoder."""
    pacer = plain.pacer
    return pacer.tokens, pacer.wait, pacer.released, plain.frames


async def _one_by_one(send: Send, plain: PlainTokens, watch: StreamWatch) -> None:
    """Each frame in a write of its own, as the general path writes a sampled stream."""
    tokens, wait, released, encoder = _parts(plain)
    token = encoder.token
    last = len(tokens) - 1
    for step in range(last + 1):
        waiter = wait(step)
        if waiter is not None:
            await waiter
        released()
        if 0 < step < last:
            frames: Sequence[bytes] = (token(tokens[step]),)
        else:
            frames = encoder.first(tokens[0], last == 0) if step == 0 else encoder.last(tokens[step])
        for frame in frames:
            watch.sending = True
            await send({"type": "http.response.body", "body": frame, "more_body": True})
            watch.sending = False
            watch.sent += 1


async def _gathered(send: Send, plain: PlainTokens, watch: StreamWatch) -> None:
    """Frames that come without a wait in one write of at most ``MAX_FRAMES``, as ``write_ready`` does.

    The first token's opening, a stream behind its engine, the last token's closing: a
    write happens just before the stream waits, so no frame waits for a later one.
    """
    tokens, wait, released, encoder = _parts(plain)
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
                watch.sending = True
                await send({"type": "http.response.body", "body": body, "more_body": True})
                watch.sending = False
                watch.sent += sent
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
            watch.sending = True
            await send({"type": "http.response.body", "body": pending, "more_body": True})
            watch.sending = False
            watch.sent += sent
    except Exception:
        # An error from the pacer (an engine failure) or the encoder, raised without a wait:
        # the frames before it go out first, so it reaches the client after exactly those.
        if count:
            await send({"type": "http.response.body", "body": pending, "more_body": True})
            watch.sent += count
        raise
