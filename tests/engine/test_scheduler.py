"""The shared scheduler: absolute due times, one loop timer, clean cancellation."""

from __future__ import annotations

import asyncio
import time

from llm_simulator.engine.scheduler import Scheduler
from llm_simulator.infra.clock import SystemClock


async def test_releases_in_due_order_and_never_early() -> None:
    clock = SystemClock()
    sched = Scheduler(clock)
    start = clock.now()
    order: list[int] = []
    lateness: list[float] = []

    async def wait(i: int, delay: float) -> None:
        due = start + delay
        fut = sched.wait_until(due)
        assert fut is not None
        await fut
        lateness.append(clock.now() - due)
        order.append(i)

    await asyncio.gather(*(wait(i, 0.01 * (5 - i)) for i in range(5)))
    assert order == [4, 3, 2, 1, 0]
    assert min(lateness) >= -0.0003  # the early-release window is 0.2 ms
    assert len(sched) == 0
    assert not sched.armed


async def test_past_due_returns_none() -> None:
    sched = Scheduler(SystemClock())
    assert sched.wait_until(time.monotonic() - 1) is None


async def test_cancelled_waiters_leave_nothing_behind() -> None:
    clock = SystemClock()
    sched = Scheduler(clock)
    tasks = []
    for i in range(100):
        fut = sched.wait_until(clock.now() + 0.02 + i * 0.0001)
        assert fut is not None
        tasks.append(asyncio.ensure_future(fut))
    await asyncio.sleep(0)
    for task in tasks:
        task.cancel()
    await asyncio.sleep(0.06)
    assert len(sched) == 0
    assert not sched.armed


async def test_earlier_entry_rearms_timer() -> None:
    clock = SystemClock()
    sched = Scheduler(clock)
    late = sched.wait_until(clock.now() + 5.0)
    early = sched.wait_until(clock.now() + 0.01)
    assert late is not None and early is not None
    await asyncio.wait_for(early, timeout=1.0)
    assert not late.done()
    late.cancel()
    sched.purge_cancelled()
    assert len(sched) == 0
    assert not sched.armed
