"""``core.tasks.running_task``: the running task as ``asyncio.current_task()`` finds it, on every loop."""

from __future__ import annotations

import asyncio
import os
import threading
import warnings

import pytest

from llm_simulator.core import tasks
from llm_simulator.core.tasks import running_task


async def _both() -> tuple[object, object]:
    return running_task(), asyncio.current_task()


def test_it_is_the_current_task_in_each_new_loop() -> None:
    # Each asyncio.run is a new loop in this thread: the remembered loop of the previous run
    # is no longer running, so the answer must come from the new one.
    for _ in range(3):
        mine, theirs = asyncio.run(_both())
        assert mine is theirs
        assert mine is not None


def test_it_remembers_the_loop_and_still_tells_tasks_apart() -> None:
    async def main() -> None:
        first = asyncio.get_running_loop().create_task(_both())
        second = asyncio.get_running_loop().create_task(_both())
        for task in (first, second):
            mine, theirs = await task
            assert mine is theirs is task
        assert tasks._THIS_THREAD.loop is asyncio.get_running_loop()
        assert running_task() is asyncio.current_task()

    asyncio.run(main())


def test_none_in_a_callback_outside_any_task() -> None:
    async def main() -> object:
        running_task()  # the loop is remembered
        loop = asyncio.get_running_loop()
        seen = loop.create_future()
        loop.call_soon(lambda: seen.set_result(running_task()))
        return await seen

    assert asyncio.run(main()) is None


def test_another_thread_finds_its_own_task_while_this_one_runs_a_task() -> None:
    found: dict[str, tuple[object, object]] = {}

    def in_thread() -> None:
        found["thread"] = asyncio.run(_both())

    async def main() -> None:
        running_task()  # this thread remembers its loop, whose task is running right now
        worker = threading.Thread(target=in_thread)
        worker.start()
        worker.join()  # the worker asks while this task is mid-step

    asyncio.run(main())
    mine, theirs = found["thread"]
    assert mine is theirs
    assert mine is not None


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_child_forked_inside_a_task_finds_its_own_task() -> None:
    async def parent() -> tuple[int, int]:
        running_task()  # remembered, and current in the child too unless forgotten
        read_end, write_end = os.pipe()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads running
            pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            try:
                mine, theirs = asyncio.run(_both())
                os.write(write_end, b"ok" if mine is theirs and mine is not None else b"wrong")
            finally:
                os._exit(0)
        os.close(write_end)
        return pid, read_end

    pid, read_end = asyncio.run(parent())
    os.waitpid(pid, 0)
    answer = os.read(read_end, 16).decode()
    os.close(read_end)
    assert answer == "ok"


def test_outside_a_running_loop_it_raises_as_current_task() -> None:
    with pytest.raises(RuntimeError):
        asyncio.current_task()
    with pytest.raises(RuntimeError):
        running_task()
