"""The running task, found without a system call.

On CPython 3.11 every ``asyncio.current_task()`` without a loop (and every
``asyncio.get_running_loop()``) calls ``getpid()`` to check that the running loop was not
inherited through a fork: a system call on each request's path (a non-streamed request's body
read always waits under granian, so every request arms its deadline and looks up its task).
A microbenchmark prices the call at ≈ 250 ns against ≈ 77 ns with the loop given, where
``current_task(loop)`` is a dictionary lookup (py-spy's 4 % of the loop thread under load
over-counts system calls). Each thread remembers the loop its last task ran on and asks that loop
first; a task found there is the running one, because a loop runs in one thread at a time and
this thread is running it (this assumes a loop never moves to another thread, which holds
for granian's and uvicorn's workers, the testing server and the load generator). When that
loop is not running here (a test's loop closed and another started), the lookup finds no
task and the full ``asyncio.current_task()`` answers and refreshes what the thread
remembers. A forked child forgets what its parent's threads remembered: a fork made inside a
task leaves that task registered as its loop's current one in the child.
"""

from __future__ import annotations

import asyncio
import os
import threading
from asyncio import current_task as _current_task

_THIS_THREAD = threading.local()


def _forget_loops() -> None:
    # After a fork only the forking thread exists: its memory is all there is to clear.
    vars(_THIS_THREAD).clear()


os.register_at_fork(after_in_child=_forget_loops)


def running_task() -> asyncio.Task[object] | None:
    """The task running in this thread's event loop (None outside a task), as ``asyncio.current_task()``."""
    loop = getattr(_THIS_THREAD, "loop", None)
    if loop is not None:
        task = _current_task(loop)
        if task is not None:
            return task
    task = _current_task()
    if task is not None:
        _THIS_THREAD.loop = task.get_loop()
    return task
