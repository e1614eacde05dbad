"""Frames produced without waiting go out in one write; nothing ever waits for a later frame."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from llm_simulator.server.coalesce import MAX_FRAMES, write_ready


class Log:
    """What happened, in order: writes (the frames each carried) and the generator's steps."""

    def __init__(self) -> None:
        self.events: list[tuple[str, list[bytes]]] = []
        self.closed = False

    async def write(self, batch: list[bytes]) -> None:
        self.events.append(("write", list(batch)))

    async def last(self, batch: list[bytes]) -> None:
        self.events.append(("last", list(batch)))


async def frames(log: Log, gate: asyncio.Future[None] | None, ready: int, after: list[bytes]) -> AsyncIterator[bytes]:
    """``ready`` frames at once, then (after ``gate``) the ``after`` frames."""
    try:
        for i in range(ready):
            yield b"r%d" % i
        if gate is not None:
            log.events.append(("wait", []))
            await gate
        for frame in after:
            yield frame
    finally:
        log.closed = True


async def test_ready_frames_go_in_one_write_before_the_generator_waits() -> None:
    log = Log()
    gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    gen = frames(log, gate, 3, [b"late", b"later"])
    first = await gen.__anext__()
    asyncio.get_running_loop().call_later(0.01, gate.set_result, None)
    written_while_waiting: list[bool] = []

    async def write(batch: list[bytes]) -> None:
        written_while_waiting.append(not gate.done())
        await log.write(batch)

    nxt = await write_ready(first, gen, write)
    # One write of every frame made at once, as soon as the generator started to wait (not
    # after the wait); the frame after the wait comes back unwritten (it may start another
    # run of ready frames).
    assert log.events == [("wait", []), ("write", [b"r0", b"r1", b"r2"])]
    assert written_while_waiting == [True]
    assert nxt == b"late"
    assert await write_ready(nxt, gen, log.write) is None
    assert log.events[-1] == ("write", [b"late", b"later"])
    assert log.closed


async def test_an_error_after_ready_frames_is_raised_once_they_are_written() -> None:
    log = Log()

    async def failing() -> AsyncIterator[bytes]:
        yield b"a"
        yield b"b"
        raise RuntimeError("fault after two frames")

    gen = failing()
    first = await gen.__anext__()
    with pytest.raises(RuntimeError, match="fault after two frames"):
        await write_ready(first, gen, log.write)
    assert log.events == [("write", [b"a", b"b"])]


async def test_a_long_run_of_ready_frames_is_written_in_bounded_pieces() -> None:
    log = Log()
    gen = frames(log, None, MAX_FRAMES * 2 + 1, [])
    first = await gen.__anext__()
    assert await write_ready(first, gen, log.write) is None
    sizes = [len(batch) for kind, batch in log.events if kind == "write"]
    assert sizes == [MAX_FRAMES, MAX_FRAMES, 1]
    joined = [frame for _, batch in log.events for frame in batch]
    assert joined == [b"r%d" % i for i in range(MAX_FRAMES * 2 + 1)]


async def test_a_cancellation_while_waiting_reaches_the_generator() -> None:
    log = Log()
    gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    gen = frames(log, gate, 2, [b"never"])
    first = await gen.__anext__()
    task = asyncio.ensure_future(write_ready(first, gen, log.write))
    await asyncio.sleep(0)
    assert log.events == [("wait", []), ("write", [b"r0", b"r1"])]
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert gate.cancelled()  # what the generator waited on was cancelled with the task
    assert log.closed  # and its cleanup ran where it waited


async def test_a_failed_write_while_the_generator_waits_reaches_the_generator() -> None:
    log = Log()
    gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    gen = frames(log, gate, 2, [b"never"])

    async def broken(batch: list[bytes]) -> None:
        raise OSError("the client is gone")

    first = await gen.__anext__()
    with pytest.raises(OSError, match="the client is gone"):
        await write_ready(first, gen, broken)
    assert log.closed  # the generator's cleanup ran (a stream frees its sequence)


async def test_the_last_frames_go_to_last_so_the_body_can_end_in_their_write() -> None:
    log = Log()
    gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    gen = frames(log, gate, 2, [b"tail", b"end"])
    first = await gen.__anext__()
    asyncio.get_running_loop().call_later(0.01, gate.set_result, None)
    # Frames written before a wait are not the last: they go to ``write``.
    nxt = await write_ready(first, gen, log.write, log.last)
    assert log.events == [("wait", []), ("write", [b"r0", b"r1"])]
    assert nxt == b"tail"
    # The run that ends with the frames running out goes to ``last``, once.
    assert await write_ready(nxt, gen, log.write, log.last) is None
    assert log.events[2:] == [("last", [b"tail", b"end"])]


async def test_frames_that_end_after_a_wait_leave_the_body_to_the_caller() -> None:
    log = Log()
    gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    gen = frames(log, gate, 2, [])
    first = await gen.__anext__()
    asyncio.get_running_loop().call_later(0.01, gate.set_result, None)
    # The generator waited, then ran out with nothing more: what was ready went to
    # ``write`` before the wait, so nothing is left for ``last`` (the caller ends the body).
    assert await write_ready(first, gen, log.write, log.last) is None
    assert log.events == [("wait", []), ("write", [b"r0", b"r1"])]
