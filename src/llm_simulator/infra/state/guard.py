"""What a replica does when the shared state backend fails: fail open or fail closed.

Every backend operation runs through ``Guard.call`` with a local fallback. While the backend
answers, the fallback is never touched. When an operation fails (connection refused, a
socket timeout), the guard marks the backend down, logs one line and counts the error; for
the next ``retry_after_s`` every call goes straight to the fallback (``fail_open``) or is
refused with a 503 (``fail_closed``), so no request waits on a dead socket. After that, one
call probes the backend again; its success logs the recovery and restores shared state.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Literal, TypeVar

from llm_simulator.core.errors import ErrorKind, SimulatorError

log = logging.getLogger("llm_simulator.state")

T = TypeVar("T")

OnError = Literal["fail_open", "fail_closed"]


class Guard:
    """The backend's health, its error counter and the fail-open / fail-closed switch."""

    def __init__(
        self,
        on_error: OnError,
        retry_after_s: float,
        timeout_s: float,
        errors: tuple[type[BaseException], ...],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.on_error = on_error
        self._retry_after_s = retry_after_s
        # One operation may take a connect, a read and the client's one retry: beyond three
        # socket timeouts it is abandoned (asyncio-level, in case a socket timeout does not fire).
        self._deadline_s = 3 * timeout_s
        self._errors: tuple[type[BaseException], ...] = (*errors, OSError, asyncio.TimeoutError)
        self._clock = clock
        self.up = True
        self.errors = 0  # operations that failed
        self.fallbacks = 0  # operations served from local state (fail_open)
        self.refusals = 0  # operations refused with a 503 (fail_closed)
        self.transitions = 0  # up → down and down → up
        self._next_probe = 0.0

    def _probe_allowed(self) -> bool:
        """Whether to try the backend: always while up; while down, once per ``retry_after_s``."""
        if self.up:
            return True
        now = self._clock()
        if now < self._next_probe:
            return False
        self._next_probe = now + self._retry_after_s
        return True

    def failed(self, exc: BaseException) -> None:
        """Count a failed operation; log the transition to down once."""
        self.errors += 1
        self._next_probe = self._clock() + self._retry_after_s
        if self.up:
            self.up = False
            self.transitions += 1
            mode = "serving from local state" if self.on_error == "fail_open" else "answering 503"
            log.warning("state backend unreachable (%s: %s): %s until it returns", type(exc).__name__, exc, mode)

    def succeeded(self) -> None:
        """Note a successful operation; log the recovery once."""
        if not self.up:
            self.up = True
            self.transitions += 1
            log.warning("state backend reachable again: shared state restored")

    def unavailable(self) -> SimulatorError:
        """The provider-shaped 503 a fail-closed replica answers while the backend is down."""
        return SimulatorError(
            ErrorKind.UNAVAILABLE,
            "The simulator's shared state backend is unreachable; try again shortly.",
            code="state_backend_unavailable",
            retry_after_s=self._retry_after_s,
        )

    async def call(self, operation: Callable[[], Awaitable[T]], fallback: Callable[[], Awaitable[T]]) -> T:
        """Run ``operation`` on the backend; on failure (or while down) the fallback or a 503."""
        if self._probe_allowed():
            try:
                async with asyncio.timeout(self._deadline_s):
                    result = await operation()
            except self._errors as exc:
                self.failed(exc)
            else:
                self.succeeded()
                return result
        if self.on_error == "fail_closed":
            self.refusals += 1
            raise self.unavailable()
        self.fallbacks += 1
        return await fallback()

    async def quietly(self, operation: Callable[[], Awaitable[T]], default: T) -> T:
        """Run a background operation (a poll, a publish): ``default`` on failure, never a 503."""
        if not self._probe_allowed():
            return default
        try:
            async with asyncio.timeout(self._deadline_s):
                result = await operation()
        except self._errors as exc:
            self.failed(exc)
            return default
        self.succeeded()
        return result


def spawn(pending: set[asyncio.Task[Any]], work: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
    """Run a write to the shared state in the background, kept in ``pending`` until it ends.

    Its failure (a 503 while failing closed: nobody is waiting to be answered) is the
    guard's to count; it is retrieved here so it is never reported as unhandled.
    """
    task = asyncio.ensure_future(work)
    pending.add(task)

    def done(finished: asyncio.Task[T]) -> None:
        pending.discard(finished)
        if not finished.cancelled():
            finished.exception()

    task.add_done_callback(done)
    return task
