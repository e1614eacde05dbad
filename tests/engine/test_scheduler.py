"""The shared scheduler: absolute due times, one loop timer, clean cancellation."""

from __future__ import annotations

import asyncio
import math
import random
import time

import pytest

from llm_simulator.engine.scheduler import BATCH_WINDOW_S, EARLY_RELEASE_S, Scheduler, batch_release
from llm_simulator.infra.clock import FakeClock, SystemClock


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


# --- batched (sampled token) waits: never early, late by less than one window --------------


def test_batch_release_is_never_early_and_within_one_window() -> None:
    rng = random.Random(7)
    window = BATCH_WINDOW_S
    dues = [rng.uniform(0.0, 1e6) for _ in range(20_000)]
    # Exact multiples and their neighbours, where a rounded quotient could land on the wrong side.
    dues += [k * window + d for k in (1, 3, 10**6, 123_456_789) for d in (0.0, 1e-12, -1e-12, 5e-10)]
    for due in dues:
        release = batch_release(due)
        assert release >= due
        assert release - due < window + 1e-9
    # Due times in one window share the release time exactly (one bucket, one pass).
    assert len({batch_release(1000.0001 + i * 1e-5) for i in range(150)}) == 1


async def test_batched_waits_wake_no_earlier_than_due_and_in_one_pass_per_window() -> None:
    """Step a fake clock through the windows: a wait ends only once due, and by its window's end."""
    clock = FakeClock(start=100.0)
    sched = Scheduler(clock)
    rng = random.Random(3)
    dues = sorted(100.0 + rng.uniform(0.0001, 0.05) for _ in range(300))
    futs = [sched.wait_batched(due) for due in dues]
    assert all(fut is not None for fut in futs)
    passes_with_releases = 0
    t = 100.0
    while t < 100.06:
        t += 0.0001  # the timer may fire at any moment: early, on time or late
        clock.advance_to(t)
        before = sum(fut is not None and fut.done() for fut in futs)
        sched.release_due()
        after = sum(fut is not None and fut.done() for fut in futs)
        passes_with_releases += after > before
        for due, fut in zip(dues, futs, strict=True):
            assert fut is not None
            if fut.done():
                assert due <= t, "released before its due time"
            else:
                assert t - due < BATCH_WINDOW_S + 1e-9, "late by more than one window"
    assert all(fut is not None and fut.done() for fut in futs)
    # 300 due times over 50 ms wake in at most one pass per 2 ms window.
    assert passes_with_releases <= 0.05 / BATCH_WINDOW_S + 1
    assert len(sched) == 0
    sched.purge_cancelled()
    assert not sched.armed


async def test_batched_wait_already_due_needs_no_wait() -> None:
    clock = FakeClock(start=5.0)
    sched = Scheduler(clock)
    assert sched.wait_batched(5.0) is None
    assert sched.wait_batched(4.9) is None
    fut = sched.wait_batched(5.0000001)
    assert fut is not None and not fut.done()
    fut.cancel()
    sched.purge_cancelled()
    assert len(sched) == 0 and not sched.armed


async def test_batched_and_exact_waits_share_the_timer_in_due_order() -> None:
    clock = SystemClock()
    sched = Scheduler(clock)
    start = clock.now()
    woke: list[tuple[str, float, float]] = []

    async def wait(kind: str, due: float) -> None:
        fut = sched.wait_batched(due) if kind == "batched" else sched.wait_until(due)
        assert fut is not None
        await fut
        woke.append((kind, due, clock.now()))

    await asyncio.gather(wait("batched", start + 0.030), wait("exact", start + 0.020), wait("batched", start + 0.010))
    assert [due for _, due, _ in woke] == sorted(due for _, due, _ in woke)
    for kind, due, at in woke:
        assert at >= due - (EARLY_RELEASE_S if kind == "exact" else 0.0)
    assert len(sched) == 0 and not sched.armed


def test_an_early_timer_does_not_spin_the_loop() -> None:
    """uvloop rounds timers to whole milliseconds and may fire one early: the re-arm must not spin.

    Before the minimum delay, a timer that fired early re-armed itself with what was left
    (under 0.5 ms: ``call_soon``) and the loop spun until the due time — hundreds of passes
    per release. Counted, not timed: a loaded box only makes the passes fewer.
    """
    uvloop = pytest.importorskip("uvloop")
    passes = 0

    class Counting(Scheduler):
        def release_due(self) -> None:
            nonlocal passes
            passes += 1
            super().release_due()

    async def run() -> None:
        clock = SystemClock()
        sched = Counting(clock)
        for i in range(20):
            fut = sched.wait_batched(clock.now() + 0.0013 + i * 0.0007)
            if fut is not None:
                await fut

    uvloop.run(run())
    assert passes <= 20 * 3


class Reparking:
    """An entry that, released, notes the time and parks itself again one window later (a stream's writer)."""

    def __init__(self, sched: Scheduler, clock: FakeClock, due: float, times: int) -> None:
        self.sched, self.clock, self.due, self.left = sched, clock, due, times
        self.released_at: list[float] = []
        self.late: list[float] = []  # release time − due time, per release
        self.dead = False

    def done(self) -> bool:
        return self.dead

    def set_exception(self, exception: BaseException) -> None:
        raise AssertionError("the scheduler never fails an entry")

    def cancel(self) -> bool:
        self.dead = True
        return True

    def set_result(self, _result: None) -> None:
        self.released_at.append(self.clock.now())
        self.late.append(self.clock.now() - self.due)
        self.left -= 1
        if self.left:
            self.due += BATCH_WINDOW_S
            assert self.sched.park_batched(self.due, self)


async def test_an_entry_released_in_the_pass_parks_itself_again_and_the_timer_is_armed_once() -> None:
    clock = FakeClock(start=10.0)
    sched = Scheduler(clock)
    entries = [Reparking(sched, clock, 10.0005 + i * 1e-5, 3) for i in range(50)]
    for entry in entries:
        assert sched.park_batched(entry.due, entry)
    assert not sched.park_batched(10.0, entries[0])  # due already: not parked
    arms: list[float] = []
    arm = sched._arm

    def counted_arm(loop: asyncio.AbstractEventLoop, release: float) -> None:
        arms.append(release)
        arm(loop, release)

    sched._arm = counted_arm  # type: ignore[method-assign]
    for step in range(1, 4):
        clock.advance_to(10.0 + step * BATCH_WINDOW_S)
        sched.release_due()
        assert all(len(entry.released_at) == step for entry in entries)
    # Never early, and within a window of the due time.
    assert all(0 <= late < BATCH_WINDOW_S for entry in entries for late in entry.late)
    # One arm per pass (for the next window), none per re-parking entry; nothing left after the last.
    assert arms == [10.0 + 2 * BATCH_WINDOW_S, 10.0 + 3 * BATCH_WINDOW_S]
    assert len(sched) == 0 and not sched.armed


async def test_an_entry_that_is_done_is_skipped_and_its_bucket_dropped() -> None:
    clock = FakeClock(start=10.0)
    sched = Scheduler(clock)
    entry = Reparking(sched, clock, 10.001, 1)
    later = Reparking(sched, clock, 10.01, 1)
    assert sched.park_batched(entry.due, entry) and sched.park_batched(later.due, later)
    entry.dead = later.dead = True
    clock.advance_to(10.002)
    sched.release_due()
    assert entry.released_at == [] and len(sched) == 0 and not sched.armed


async def test_park_batched_files_an_entry_under_the_window_batch_release_names() -> None:
    """``park_batched`` inlines ``batch_release``: the same bucket for every due time, an exact multiple included."""
    clock = FakeClock(start=10.0)
    sched = Scheduler(clock)
    dues = [10.0 + k * BATCH_WINDOW_S for k in range(1, 40)]  # exact multiples: the rounding edge
    dues += [10.0001 + i * 7.3e-5 for i in range(200)]
    # Just above an exact multiple: the quotient can round down onto the integer (batch_release's correction).
    dues += [math.nextafter(10.0 + k * BATCH_WINDOW_S, math.inf) for k in range(1, 400)]
    assert any(math.ceil(due / BATCH_WINDOW_S) * BATCH_WINDOW_S < due for due in dues)  # the correction is needed
    entries = []
    for due in dues:
        entry = Reparking(sched, clock, due, 1)
        assert sched.park_batched(due, entry)
        entries.append((batch_release(due), entry))
    for release, entry in entries:
        assert any(e is entry for e in sched._buckets[release]), release
    assert set(sched._buckets) == {release for release, _ in entries}
    assert sorted(sched._heap) == sorted(sched._buckets)
