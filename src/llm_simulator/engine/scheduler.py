"""One shared timer for every stream: tokens are released at absolute due times.

Each waiting stream parks a future in a bucket keyed by its release time; a heap holds the
buckets' release times, and a single loop timer (``loop.call_at``) is armed for the earliest.
When it fires, every bucket that is due is released in one pass and the timer is re-armed
for the next. So there is one timer in the event loop however many streams run, no
``sleep(itl)`` drift (due times are absolute), and a disconnecting stream only cancels its
own future (a cancelled entry is dropped when reached).

Two kinds of wait share the heap:

* ``wait_until`` releases at the due time itself, give or take a millisecond (from
  ``EARLY_RELEASE_S`` early to the loop timer's lag, ``TIMER_LAG_S`` plus up to 1 ms, late):
  an engine's step, a chaos delay, a scripted start.
* ``wait_batched`` releases at the first point of a fixed grid (every ``BATCH_WINDOW_S``) at
  or after the due time: sampled tokens. Streams whose due times fall in the same window
  wake in one loop pass, so the loop's select, the timer and the server's cross-thread
  wake-up are paid once per window rather than once per token. A token is never released
  before its due time, and at most one window after it (plus however late the loop runs);
  the due times themselves stay absolute, so the lateness never accumulates.

An entry is a future (the waiting task wakes up) or, for a plain sampled stream, the
stream's own writer (``park_batched``): the release pass calls it directly, and it writes
its token and parks itself for the next, with no future, no task wake-up and no coroutine
resumed per token (``server.plain_stream``).
"""

from __future__ import annotations

import asyncio
import heapq
import math

from llm_simulator.core.plain import Releasable
from llm_simulator.infra.clock import Clock

# Release entries this close to their due time in the same pass: waking again for a few
# hundred microseconds would cost more than it gains (the loop timer's own resolution is
# about a millisecond). Exact waits only: a batched wait is never released early.
EARLY_RELEASE_S = 0.0002

# The grid of batched (sampled token) releases: a token due at t is released at the first
# multiple of this at or after t, so it is late by less than this (before the loop's own
# lateness). 2 ms is a tenth of a typical 20 ms ITL: well inside the 10 ms ITL-error budget,
# and 500 loop wake-ups a second however many streams run.
BATCH_WINDOW_S = 0.002

# The loop timer is armed this long after the earliest release time, and never sooner than
# ``MIN_TIMER_S`` ahead. uvloop's timers count whole milliseconds from a clock truncated to
# the millisecond and round the delay, so a timer fires up to 1.5 ms before the time asked
# for; one armed for less than 0.5 ms runs as ``call_soon``. A timer that fired early found
# nothing due and re-armed itself for the rest, which again ran at once: the loop spun
# (measured: 190,000 empty passes against 27,000 releases for 500 streams over 3 s, 3× the
# CPU per token). Firing at most ~1 ms late instead costs one pass per release time.
TIMER_LAG_S = 0.0005
MIN_TIMER_S = 0.001


def batch_release(due: float, window: float = BATCH_WINDOW_S) -> float:
    """The release time of a batched wait due at ``due``: ``window × ⌈due / window⌉``.

    Never before ``due`` and less than ``window`` after it (the float product is checked, so
    a rounding error cannot make it early). Every due time in the same window maps to the
    same float, so their waits share one bucket.
    """
    release = math.ceil(due / window) * window
    if release < due:  # the quotient rounded down onto an integer
        release += window
    return release


class Scheduler:
    """A heap of release times over the running event loop, one bucket of futures per time."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._heap: list[float] = []
        self._buckets: dict[float, list[Releasable]] = {}
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
        return sum(len(bucket) for bucket in self._buckets.values())

    @property
    def armed(self) -> bool:
        """Whether the loop timer is currently armed."""
        return self._handle is not None

    def wait_until(self, due: float) -> asyncio.Future[None] | None:
        """A future resolved at ``due`` (monotonic seconds), or None if already due."""
        release = due - EARLY_RELEASE_S
        if release <= self._clock.now():
            return None
        return self._park(release)

    def wait_batched(self, due: float) -> asyncio.Future[None] | None:
        """A future resolved at ``batch_release(due)``, or None if ``due`` has passed.

        For sampled tokens: never early, late by less than ``BATCH_WINDOW_S`` (and the loop's
        own lateness), woken together with every other wait of the same window.
        """
        if due <= self._clock.now():
            return None
        return self._park(batch_release(due))

    def park_batched(self, due: float, entry: Releasable) -> bool:
        """Release ``entry`` at ``batch_release(due)``: ``wait_batched`` without a future (False: due now).

        A sampled plain stream's once-per-token path: ``batch_release`` and ``_put``'s common
        case (the window's bucket exists) are inlined, the same arithmetic and the same bucket.
        """
        if due <= self._clock.now():
            return False
        release = math.ceil(due / BATCH_WINDOW_S) * BATCH_WINDOW_S
        if release < due:  # as batch_release: the quotient rounded down onto an integer
            release += BATCH_WINDOW_S
        bucket = self._buckets.get(release)
        if bucket is not None:
            bucket.append(entry)
        else:
            self._put(release, entry)
        return True

    def _park(self, release: float) -> asyncio.Future[None]:
        """A future in the bucket of ``release``."""
        fut: asyncio.Future[None] = self._current_loop().create_future()
        self._put(release, fut)
        return fut

    def _put(self, release: float, entry: Releasable) -> None:
        """``entry`` in the bucket of ``release``; a new bucket goes on the heap (and may re-arm)."""
        bucket = self._buckets.get(release)
        if bucket is not None:  # the common case: other streams wait for the same window
            bucket.append(entry)
            return
        self._buckets[release] = [entry]
        heapq.heappush(self._heap, release)
        if release < self._armed_for:  # never during a release pass: it re-arms at its end
            self._arm(self._current_loop(), release)

    def _arm(self, loop: asyncio.AbstractEventLoop, release: float) -> None:
        if self._handle is not None:
            self._handle.cancel()
        delay = max(MIN_TIMER_S, release - self._clock.now() + TIMER_LAG_S)
        self._armed_for = release
        self._handle = loop.call_at(loop.time() + delay, self.release_due)

    def release_due(self) -> None:
        """Release every bucket whose time has come, drop cancelled ones, re-arm (the loop timer's callback).

        A stream's writer released here parks itself again for a later window (``_put``):
        no timer is armed for it meanwhile (``_armed_for`` is below every release time), the
        pass arms one for the earliest bucket once it is done.
        """
        self._handle = None
        self._armed_for = float("-inf")
        heap = self._heap
        buckets = self._buckets
        try:
            now = self._clock.now()
            while heap and heap[0] <= now:
                for entry in buckets.pop(heapq.heappop(heap)):
                    if not entry.done():
                        entry.set_result(None)
            # Drop wholly cancelled buckets at the head so a burst of disconnects frees memory early.
            while heap and all(entry.done() for entry in buckets[heap[0]]):
                del buckets[heapq.heappop(heap)]
        finally:
            self._armed_for = float("inf")
            if heap:
                self._arm(self._current_loop(), heap[0])

    def purge_cancelled(self) -> None:
        """Remove every cancelled entry (used by drain/tests; O(n))."""
        kept = {
            release: live for release, bucket in self._buckets.items() if (live := [f for f in bucket if not f.done()])
        }
        self._buckets = kept
        self._heap = list(kept)
        heapq.heapify(self._heap)
        if not self._heap and self._handle is not None:
            self._handle.cancel()
            self._handle = None
            self._armed_for = float("inf")
