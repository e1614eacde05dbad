"""One shared timer for every stream: tokens are released at absolute due times.

Each waiting stream parks a future in a heap keyed by its due time; a single loop timer
(``loop.call_at``) is armed for the earliest entry. When it fires, every entry that is due
is released in one pass and the timer is re-armed for the next. So there is one timer in the
event loop however many streams run, no ``sleep(itl)`` drift (due times are absolute), and a
disconnecting stream only cancels its own future (a cancelled entry is dropped when reached).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools

from llm_simulator.infra.clock import Clock

# Release entries this close to their due time in the same pass: waking again for a few
# hundred microseconds would cost more than it gains (the loop timer's own resolution is
# about a millisecond).
EARLY_RELEASE_S = 0.0002


class Scheduler:
    """A heap-based timing wheel over the running event loop."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._heap: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()
        self._handle: asyncio.TimerHandle | None = None
        self._armed_for = float("inf")
        # Cached: asyncio.get_running_loop() costs a getpid() system call per call on 3.11.
        self._loop: asyncio.AbstractEventLoop | None = None

    def _current_loop(self) -> asyncio.AbstractEventLoop:
        loop = self._loop
        if loop is None or loop.is_closed():
            loop = self._loop = asyncio.get_running_loop()
        return loop

    def __len__(self) -> int:
        """Entries still parked (including cancelled ones not yet reached)."""
        return len(self._heap)

    @property
    def armed(self) -> bool:
        """Whether the loop timer is currently armed."""
        return self._handle is not None

    def wait_until(self, due: float) -> asyncio.Future[None] | None:
        """A future resolved at ``due`` (monotonic seconds), or None if already due."""
        if due <= self._clock.now() + EARLY_RELEASE_S:
            return None
        loop = self._current_loop()
        fut: asyncio.Future[None] = loop.create_future()
        heapq.heappush(self._heap, (due, next(self._seq), fut))
        if due < self._armed_for:
            self._arm(loop, due)
        return fut

    def _arm(self, loop: asyncio.AbstractEventLoop, due: float) -> None:
        if self._handle is not None:
            self._handle.cancel()
        delay = max(0.0, due - self._clock.now())
        self._armed_for = due
        self._handle = loop.call_at(loop.time() + delay, self._fire)

    def _fire(self) -> None:
        self._handle = None
        self._armed_for = float("inf")
        heap = self._heap
        limit = self._clock.now() + EARLY_RELEASE_S
        while heap and heap[0][0] <= limit:
            fut = heapq.heappop(heap)[2]
            if not fut.done():
                fut.set_result(None)
        # Drop cancelled entries at the head so a burst of disconnects frees memory early.
        while heap and heap[0][2].done():
            heapq.heappop(heap)
        if heap:
            self._arm(self._current_loop(), heap[0][0])

    def purge_cancelled(self) -> None:
        """Remove every cancelled entry (used by drain/tests; O(n))."""
        self._heap = [entry for entry in self._heap if not entry[2].done()]
        heapq.heapify(self._heap)
        if not self._heap and self._handle is not None:
            self._handle.cancel()
            self._handle = None
            self._armed_for = float("inf")
