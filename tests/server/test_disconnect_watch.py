"""``DisconnectWatch``: a stream's task is cancelled when its client leaves, without a watcher task."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

from llm_simulator.server.connection import DisconnectWatch, StreamWatch


class FutureReceive:
    """A receive that hands back futures, as granian's does; the test resolves them."""

    def __init__(self) -> None:
        self.futures: list[asyncio.Future[Any]] = []

    def __call__(self) -> asyncio.Future[Any]:
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.futures.append(fut)
        return fut


async def _stream_task() -> asyncio.Task[None]:
    task = asyncio.ensure_future(asyncio.sleep(60))
    await asyncio.sleep(0)
    return task


def _gone(watch: StreamWatch) -> bool:
    """Read the flag through a call: mypy would keep it narrowed across the awaits."""
    return watch.gone


async def test_a_disconnect_marks_the_watch_and_cancels_the_task_without_a_task_of_its_own() -> None:
    receive, watch = FutureReceive(), StreamWatch()
    task = await _stream_task()
    tasks_before = len(asyncio.all_tasks())
    DisconnectWatch(receive, task, watch)
    assert len(asyncio.all_tasks()) == tasks_before  # the future itself is watched
    receive.futures[0].set_result({"type": "http.request", "body": b"", "more_body": False})
    await asyncio.sleep(0)
    assert len(receive.futures) == 2 and not _gone(watch)  # another message: watching again
    receive.futures[1].set_result({"type": "http.disconnect"})
    await asyncio.sleep(0)
    assert _gone(watch)
    assert task.cancelling() or task.cancelled()
    assert len(receive.futures) == 2  # nothing more to receive


async def test_close_cancels_the_pending_receive_and_leaves_the_task_alone() -> None:
    receive, watch = FutureReceive(), StreamWatch()
    task = await _stream_task()
    watcher = DisconnectWatch(receive, task, watch)
    watcher.close()
    await asyncio.sleep(0)
    assert receive.futures[0].cancelled()
    assert not watch.gone and not task.cancelling()
    task.cancel()


async def test_a_coroutine_receive_and_a_failing_one() -> None:
    messages: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    watch = StreamWatch()
    task = await _stream_task()
    DisconnectWatch(messages.get, task, watch)  # uvicorn's kind: a coroutine per message
    await messages.put({"type": "http.disconnect"})
    await asyncio.sleep(0.01)
    assert watch.gone and task.cancelling()

    async def broken() -> dict[str, Any]:
        raise RuntimeError("the connection is closed")

    quiet = StreamWatch()
    other = await _stream_task()
    DisconnectWatch(broken, other, quiet)
    await asyncio.sleep(0.01)
    assert not quiet.gone and not other.cancelling()  # a failed receive stops the watch, nothing else
    other.cancel()


async def test_a_receive_that_failed_as_the_stream_ended_leaves_no_unretrieved_exception() -> None:
    """The receive's task failed, then the stream closed the watch before its callback ran.

    ``close`` cancels the done task, which (as ``Future.cancel`` does) marks its exception seen.
    """
    loop = asyncio.get_running_loop()
    reported: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: reported.append(context))

    async def broken() -> dict[str, Any]:
        raise RuntimeError("the connection is closed")

    task = await _stream_task()
    try:
        watcher = DisconnectWatch(broken, task, StreamWatch())
        await asyncio.sleep(0)  # the receive's task fails; the watch's callback is queued after this task
        watcher.close()  # the stream ends first
        await asyncio.sleep(0)  # the callback runs
        del watcher
        gc.collect()  # the failed task goes: asyncio would report an exception nobody retrieved
    finally:
        loop.set_exception_handler(previous)
        task.cancel()
    assert reported == []


async def test_a_disconnect_answered_as_the_stream_ends_cancels_nothing() -> None:
    """granian answers the pending receive with a disconnect once the body's last write is sent."""
    receive, watch = FutureReceive(), StreamWatch()
    task = await _stream_task()
    watcher = DisconnectWatch(receive, task, watch)
    receive.futures[0].set_result({"type": "http.disconnect"})
    watcher.close()  # the stream's ``finally``, before the loop runs the future's callbacks
    await asyncio.sleep(0)
    assert not _gone(watch) and not task.cancelling()
    task.cancel()


async def test_a_receive_that_fails_when_called_or_answers_no_message_stops_the_watch_only() -> None:
    def refusing() -> asyncio.Future[Any]:
        raise RuntimeError("the connection is closed")

    watch = StreamWatch()
    task = await _stream_task()
    DisconnectWatch(refusing, task, watch).close()  # nothing pending, nothing to cancel
    receive = FutureReceive()
    DisconnectWatch(receive, task, watch)
    receive.futures[0].set_result(None)  # not a message: watching on
    await asyncio.sleep(0)
    assert len(receive.futures) == 2 and not _gone(watch) and not task.cancelling()
    task.cancel()
