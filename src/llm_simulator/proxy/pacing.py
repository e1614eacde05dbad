"""Time on a relayed stream: waits on the simulator's clock and scheduler, and chaos's slow-down.

Every wait is for an absolute due time on the injected clock (``sim.clock``), parked on the
shared scheduler, so a proxied or replayed stream neither drifts nor keeps a timer of its own,
and runs on a fake clock in tests like the simulator's own streams.

A chaos ``latency_multiplier`` of ``m`` slows an upstream stream by stretching its time: the
chunk that came off the socket ``t`` seconds after the request arrived is sent at
``m × t``, TTFT and every gap alike (the simulator's own streams scale TTFT and ITL the same
way). The upstream is read ahead as fast as it sends, so the arrival times are the
upstream's own and not the slowed relay's; a multiplier under 1 cannot hurry an upstream and
sends each chunk as it comes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from llm_simulator.engine.simulator import Simulator


async def wait_until(sim: Simulator, due: float) -> None:
    """Wait until ``due`` (seconds on ``sim.clock``) on the shared scheduler; at once when past."""
    fut = sim.scheduler.wait_until(due)
    if fut is not None:
        await fut


def stretched(started: float, arrived: float, scale: float) -> float:
    """The due time of something that arrived at ``arrived``, with time since ``started`` × ``scale``."""
    return started + max(scale, 1.0) * (arrived - started)


async def slowed(frames: AsyncIterator[bytes], scale: float, sim: Simulator, started: float) -> AsyncIterator[bytes]:
    """``frames`` with each chunk sent at ``stretched(started, its arrival, scale)``.

    A reader task drains the upstream into a queue, stamping each chunk as it arrives; this
    generator releases them at their due times. The task ends (and the upstream is closed)
    with the generator, however it ends.
    """
    clock = sim.clock
    queue: asyncio.Queue[tuple[float, bytes] | BaseException | None] = asyncio.Queue()

    async def read() -> None:
        try:
            async for chunk in frames:
                queue.put_nowait((clock.now(), chunk))
            queue.put_nowait(None)
        except Exception as exc:  # handed to the writer, which raises it in order
            queue.put_nowait(exc)

    reader = asyncio.create_task(read())
    try:
        while (item := await queue.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            arrived, chunk = item
            await wait_until(sim, stretched(started, arrived, scale))
            yield chunk
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
        close = getattr(frames, "aclose", None)
        if close is not None:
            await close()
