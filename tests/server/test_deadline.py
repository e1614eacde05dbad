"""``server.handling.Deadline``: one timer for the body and the handler, as ``asyncio.timeout`` behaves."""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from llm_simulator.config import load_config
from llm_simulator.providers.openai import chat
from llm_simulator.server.app import SimulatorApp
from llm_simulator.server.handling import Deadline, DeadlineQueue, guarded
from tests.server.asgi_driver import call


async def _guarded(work: asyncio.Future[None], first_s: float, then_s: float | None = None) -> str:
    """Run ``work`` under a deadline of ``first_s`` (moved to ``then_s`` at once if given); how it ended."""
    deadline = Deadline(first_s)
    deadline.arm()
    if then_s is not None:
        deadline.move(then_s)
    try:
        await work
        return "done"
    except asyncio.CancelledError:
        if not deadline.cancelled_us():
            raise
        return "expired"
    finally:
        deadline.disarm()


async def test_a_passed_deadline_ends_the_work_and_leaves_no_cancel_request() -> None:
    never: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    assert await _guarded(never, 0.01) == "expired"
    task = asyncio.current_task()
    assert task is not None and task.cancelling() == 0


async def test_a_deadline_moved_later_waits_for_the_new_time() -> None:
    loop = asyncio.get_running_loop()
    work: asyncio.Future[None] = loop.create_future()
    loop.call_later(0.05, work.set_result, None)
    # The armed timer (0.01 s) fires first; the moved deadline (5 s) lets the work finish.
    assert await _guarded(work, 0.01, then_s=5.0) == "done"


async def test_a_deadline_moved_sooner_arms_a_sooner_timer() -> None:
    never: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    started = asyncio.get_running_loop().time()
    assert await asyncio.wait_for(_guarded(never, 60.0, then_s=0.01), timeout=10) == "expired"
    assert asyncio.get_running_loop().time() - started < 10


async def test_someone_elses_cancellation_is_not_taken_for_the_deadline() -> None:
    never: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    task = asyncio.ensure_future(_guarded(never, 60.0))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_work_that_ends_before_the_deadline_is_left_alone() -> None:
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    done.set_result(None)
    assert await _guarded(done, 0.01) == "done"
    await asyncio.sleep(0.03)  # the disarmed timer never fires at the task


async def test_a_timeout_error_raised_by_the_handler_is_answered_as_the_request_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def timing_out(sim: object, request: object) -> None:
        raise TimeoutError

    monkeypatch.setattr(chat, "handle", timing_out)
    app = SimulatorApp(load_config(flags={"latency.enabled": False}))
    captured = await call(app, "POST", "/v1/chat/completions", b"{}")
    assert captured.status == 504
    assert orjson.loads(captured.body)["error"]["code"] == "request_timeout"


async def _lazily(work: asyncio.Future[str], deadline_s: float) -> tuple[str, bool]:
    """``work``'s result under a lazily armed deadline, or "expired"; and whether it was armed."""
    deadline = Deadline(deadline_s)
    try:
        return await guarded(work, deadline), deadline.armed
    except asyncio.CancelledError:
        if not deadline.cancelled_us():
            raise
        return "expired", deadline.armed
    finally:
        deadline.disarm()


async def _now(value: str) -> str:
    return value


async def test_guarded_work_that_never_waits_arms_no_timer() -> None:
    deadline = Deadline(0.0)  # due at once: still nothing can cut work that never waits
    assert await guarded(_now("done"), deadline) == "done"
    assert not deadline.armed and not deadline.expired


async def test_guarded_work_that_waits_past_the_deadline_is_cut_and_leaves_no_cancel_request() -> None:
    never: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    assert await _lazily(never, 0.01) == ("expired", True)
    task = asyncio.current_task()
    assert task is not None and task.cancelling() == 0


async def test_guarded_work_gets_what_it_waits_for_results_and_errors_alike() -> None:
    loop = asyncio.get_running_loop()
    work: asyncio.Future[str] = loop.create_future()
    loop.call_later(0.01, work.set_result, "late")
    assert await _lazily(work, 5.0) == ("late", True)
    failing: asyncio.Future[str] = loop.create_future()
    loop.call_later(0.01, failing.set_exception, ValueError("boom"))
    with pytest.raises(ValueError, match="boom"):
        await _lazily(failing, 5.0)


async def test_a_deadline_moved_before_the_work_waits_is_armed_with_the_moved_time() -> None:
    deadline = Deadline(60.0)
    deadline.move(0.01)
    never: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    started = asyncio.get_running_loop().time()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(guarded(never, deadline), timeout=10)
    assert deadline.cancelled_us() and asyncio.get_running_loop().time() - started < 10
    deadline.disarm()


async def test_someone_elses_cancellation_reaches_guarded_work() -> None:
    never: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    task = asyncio.ensure_future(_lazily(never, 60.0))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert never.cancelled()


class _CountingTimers(asyncio.SelectorEventLoop):
    """A loop that counts the timers started for deadlines (their queues' included)."""

    # How much sooner than asked its timers fire (none here).
    EARLY_S = 0.0

    def __init__(self) -> None:
        super().__init__()
        self.deadline_timers = 0

    def call_at(  # type: ignore[override]
        self, when: float, callback: Callable[..., object], *args: Any, context: contextvars.Context | None = None
    ) -> asyncio.TimerHandle:
        if isinstance(getattr(callback, "__self__", None), (Deadline, DeadlineQueue)):
            self.deadline_timers += 1
        return super().call_at(when - self.EARLY_S, callback, *args, context=context)


class _EarlyTimers(_CountingTimers):
    """A loop whose timers fire 1.5 ms before the time asked for, as uvloop's may; it counts a deadline's."""

    EARLY_S = 0.0015


def test_a_timer_that_fires_a_little_early_ends_the_work_without_arming_again() -> None:
    """Re-arming for the last 1.5 ms would run at once, again and again, until the clock got there."""

    async def scenario() -> tuple[str, bool]:
        never: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        return await _lazily(never, 0.05)

    with asyncio.Runner(loop_factory=_EarlyTimers) as runner:
        assert runner.run(scenario()) == ("expired", True)
        loop = runner.get_loop()
        assert isinstance(loop, _EarlyTimers) and loop.deadline_timers == 1


def _run_counting(scenario: Callable[[], Any]) -> tuple[Any, int]:
    """``scenario()`` run on a ``_CountingTimers`` loop; its result and the deadline timers started."""
    with asyncio.Runner(loop_factory=_CountingTimers) as runner:
        result = runner.run(scenario())
        loop = runner.get_loop()
        assert isinstance(loop, _CountingTimers)
        return result, loop.deadline_timers


def test_deadlines_of_one_delay_expire_in_turn() -> None:
    async def scenario() -> list[str]:
        loop = asyncio.get_running_loop()
        outcomes: list[str] = []

        async def one(index: int) -> None:
            never: asyncio.Future[str] = loop.create_future()
            deadline = Deadline(0.03)
            try:
                await guarded(never, deadline)
            except asyncio.CancelledError:
                assert deadline.cancelled_us()
                # Cut at its own time, not at an earlier deadline's (the loop's timers may run
                # up to a millisecond early on some loops).
                lateness.append(time.monotonic() - (started[index] + 0.03))
                outcomes.append(f"{index}:expired")
            finally:
                deadline.disarm()

        tasks = []
        for index in range(20):
            started.append(time.monotonic())
            tasks.append(asyncio.ensure_future(one(index)))
            await asyncio.sleep(0.002)  # each due a little after the one before
        await asyncio.gather(*tasks)
        return outcomes

    lateness: list[float] = []
    started: list[float] = []
    outcomes, timers = _run_counting(scenario)
    assert outcomes == [f"{index}:expired" for index in range(20)]
    assert min(lateness) >= -0.002
    assert timers <= 20  # one wake-up per expiry at most, none per deadline on top


def test_deadlines_that_end_in_time_share_one_timer() -> None:
    async def scenario() -> list[tuple[str, bool]]:
        loop = asyncio.get_running_loop()

        async def one() -> tuple[str, bool]:
            work: asyncio.Future[str] = loop.create_future()
            loop.call_later(0.005, work.set_result, "done")
            return await _lazily(work, 0.2)

        tasks = []
        for _ in range(50):
            tasks.append(asyncio.ensure_future(one()))
            await asyncio.sleep(0.001)
        return list(await asyncio.gather(*tasks))

    outcomes, timers = _run_counting(scenario)
    assert outcomes == [("done", True)] * 50
    assert timers == 1  # one timer each (the old way) would be 50


def test_a_deadline_that_leaves_the_queue_is_not_cut_and_the_next_still_expires() -> None:
    async def scenario() -> tuple[tuple[str, bool], tuple[str, bool], float]:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[str] = loop.create_future()
        loop.call_later(0.01, done.set_result, "done")
        never: asyncio.Future[str] = loop.create_future()
        started = loop.time()
        early = asyncio.ensure_future(_lazily(done, 0.05))
        await asyncio.sleep(0.005)
        late = asyncio.ensure_future(_lazily(never, 0.05))
        first, second = await asyncio.gather(early, late)
        return first, second, loop.time() - started

    (first, second, elapsed), _ = _run_counting(scenario)
    assert first == ("done", True)
    assert second == ("expired", True)
    assert 0.055 <= elapsed < 5  # the later deadline's own time (armed 5 ms after the first)


def test_a_deadline_due_before_the_queue_tail_times_itself() -> None:
    async def scenario() -> tuple[list[str], float]:
        loop = asyncio.get_running_loop()
        soon = Deadline(0.02)  # made first, armed last: due before the one queued ahead of it
        await asyncio.sleep(0.01)
        later_work: asyncio.Future[str] = loop.create_future()
        later = asyncio.ensure_future(_lazily(later_work, 0.02))
        await asyncio.sleep(0)
        started = loop.time()
        never: asyncio.Future[str] = loop.create_future()
        try:
            await guarded(never, soon)
            outcome = "done"
        except asyncio.CancelledError:
            assert soon.cancelled_us()
            outcome = "expired"
        finally:
            soon.disarm()
        waited = loop.time() - started
        return [outcome, (await later)[0]], waited

    (outcomes, waited), timers = _run_counting(scenario)
    assert outcomes == ["expired", "expired"]
    assert waited < 0.015  # its own time, not the later one's
    assert timers == 2  # the queue's, and the out-of-order deadline's own


def test_queues_carry_over_to_a_new_loop() -> None:
    async def cut() -> str:
        never: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        return (await _lazily(never, 0.013))[0]

    async def abandoned() -> None:
        # A deadline left armed in its queue when its loop closes.
        Deadline(0.013).arm()

    async def queued_here() -> bool:
        deadline = Deadline(0.013)
        deadline.arm()
        try:
            queue = DeadlineQueue.of(0.013)
            return queue is not None and queue._loop is asyncio.get_running_loop() and deadline._queue is queue
        finally:
            deadline.disarm()

    asyncio.run(abandoned())
    for _ in range(3):
        assert asyncio.run(cut()) == "expired"
        assert asyncio.run(queued_here())  # the queue serves each new loop, not only own timers


def test_each_thread_has_its_own_queues() -> None:
    import threading

    from llm_simulator.server.handling import DeadlineQueue

    seen: dict[str, object] = {}

    def in_thread() -> None:
        seen["queue"] = DeadlineQueue.of(0.017)
        never_loop_result = asyncio.run(_cut_after(0.017))
        seen["outcome"] = never_loop_result

    worker = threading.Thread(target=in_thread)
    worker.start()
    mine = DeadlineQueue.of(0.017)
    assert asyncio.run(_cut_after(0.017)) == "expired"
    worker.join()
    assert seen["outcome"] == "expired"
    assert seen["queue"] is not mine


async def _cut_after(deadline_s: float) -> str:
    never: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    return (await _lazily(never, deadline_s))[0]


def test_a_timer_left_on_an_old_loop_does_not_cut_the_new_loops_deadlines() -> None:
    """A queue moved to a new loop leaves its timer on the old one stale: it must cut nothing."""
    delay = 0.05
    old = asyncio.new_event_loop()
    new = asyncio.new_event_loop()
    try:

        async def leave_a_timer() -> None:
            # A deadline that leaves at once: its queue's timer stays set on this loop.
            deadline = Deadline(delay)
            deadline.arm()
            deadline.disarm()

        old.run_until_complete(leave_a_timer())  # the old loop stops, its timer pending
        time.sleep(0.02)  # the next deadline is due 20 ms after the old timer
        work: asyncio.Future[str] = new.create_future()
        waiting = new.create_task(_lazily(work, delay))
        new.run_until_complete(asyncio.sleep(0.001))  # armed in the queue, now on the new loop
        # The old loop runs past its timer (due before the waiting deadline): a timer that
        # still counted would expire the new loop's deadline 20 ms early.
        old.run_until_complete(asyncio.sleep(delay - 0.015))
        work.set_result("done")
        assert new.run_until_complete(waiting) == ("done", True)
    finally:
        old.close()
        new.close()
