"""Injected time sources, so the engine can run on a fake clock in tests."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """A source of monotonic time (seconds) and wall-clock time (Unix seconds)."""

    def now(self) -> float:
        """Monotonic seconds; only differences are meaningful."""
        ...

    def wall(self) -> float:
        """Seconds since the Unix epoch, for ``created`` fields."""
        ...


class SystemClock:
    """The real clock: ``now`` is ``time.monotonic`` and ``wall`` is ``time.time``, themselves.

    The C functions as static attributes rather than methods that call them: ``clock.now()``
    is then one call, not a Python frame around one. It runs twice per released token and
    about ten times per request.
    """

    now = staticmethod(time.monotonic)
    wall = staticmethod(time.time)


class FakeClock:
    """A clock that moves only when told to; for deterministic engine tests."""

    def __init__(self, start: float = 1000.0, wall_start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._wall_offset = wall_start - start

    def now(self) -> float:
        """The current fake monotonic time."""
        return self._now

    def wall(self) -> float:
        """The fake wall time, moving with the monotonic time."""
        return self._now + self._wall_offset

    def advance_to(self, t: float) -> None:
        """Move time forward to ``t`` (never backwards)."""
        self._now = max(self._now, t)
