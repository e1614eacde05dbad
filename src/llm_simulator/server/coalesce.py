"""Frames a stream produced without waiting go out in one write (a stream catching up).

An engine-paced stream that fell behind (its reader was slow, the loop was busy) finds
several tokens already released when it resumes. Sending each frame in a write of its own
costs a pass through the ASGI server per frame and lets the late stream fall further
behind; joining them changes nothing the client can see but the chunk boundaries: the bytes
are the same, and no frame waits for a later one, because the frames are gathered only
while the generator produces them without suspending. The moment it would wait (for the
next step, a stall, anything), what it produced is written first.

Telling "produced at once" from "had to wait" needs the generator stepped by hand: one
``send`` into its ``__anext__`` awaitable either finishes (a frame ready now) or hands back
what it waits on, and ``Resume`` then lets the task wait on that as a plain ``await`` would.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Generator, Iterator
from typing import Any, cast

# At most this many frames in one write: a stream far behind still sends in bounded pieces.
MAX_FRAMES = 64


class Resume:
    """Await the rest of an awaitable that was stepped once by hand and is waiting on ``pending``.

    Everything the task sends or throws in (a wake-up, a cancellation) goes on to the
    awaitable, as the ``await`` it replaces would have done. ``awaitable`` is a coroutine
    or the iterator of an awaitable's ``__await__``; one with neither ``send`` nor ``throw``
    (granian's) is stepped with ``next`` and sees a thrown exception raised where it waits,
    as ``yield from`` would do.
    """

    __slots__ = ("_awaitable", "_pending")

    def __init__(self, awaitable: Coroutine[Any, Any, Any] | Iterator[Any], pending: object) -> None:
        self._awaitable = awaitable
        self._pending = pending

    def __await__(self) -> Generator[Any, Any, Any]:
        awaitable = self._awaitable
        pending = self._pending
        send = getattr(awaitable, "send", None)
        throw = getattr(awaitable, "throw", None)
        while True:
            try:
                sent = yield pending
            except GeneratorExit:
                close = getattr(awaitable, "close", None)
                if close is not None:
                    close()
                raise
            except BaseException as exc:  # a cancellation, mostly: the frames see it where they wait
                if throw is None:
                    raise
                try:
                    pending = throw(exc)
                except StopIteration as done:
                    return done.value
            else:
                try:
                    pending = next(awaitable) if send is None else send(sent)  # type: ignore[arg-type]
                except StopIteration as done:
                    return done.value


async def write_ready(
    first: bytes,
    frames: AsyncIterator[bytes],
    write: Callable[[list[bytes]], Awaitable[None]],
    last: Callable[[list[bytes]], Awaitable[None]] | None = None,
) -> bytes | None:
    """Write ``first`` with every frame after it that ``frames`` yields without waiting, in one write.

    Returns the next frame once the generator has waited for it (not written yet: it may
    start another run of ready frames), or None when the frames ran out. An exception from
    the frames (a fault, an error) is raised after the frames before it are written, so a
    fault after N tokens still reaches the client after exactly N. When the frames run out
    while gathering, the batch goes to ``last`` (if given) rather than ``write``: the caller
    can end the body in the same write instead of one more pass through the server.
    """
    batch = [first]
    while True:
        # An async generator's __anext__ awaitable: a coroutine in all but name.
        step = cast("Coroutine[Any, Any, bytes]", frames.__anext__())
        try:
            pending = step.send(None)
        except StopIteration as done:
            batch.append(done.value)
            if len(batch) >= MAX_FRAMES:
                await write(batch)
                batch = []
            continue
        except StopAsyncIteration:
            if batch:
                await (write if last is None else last)(batch)
            return None
        except BaseException:
            if batch:
                await write(batch)
            raise
        if batch:
            try:
                await write(batch)
            except BaseException as exc:
                # The frames wait mid-step: they see the failure (a cancellation, a dead
                # socket) where they wait, and their cleanup runs as with a plain await.
                with contextlib.suppress(BaseException):
                    step.throw(exc)
                raise
        try:
            resumed: bytes = await Resume(step, pending)
            return resumed
        except StopAsyncIteration:
            return None
