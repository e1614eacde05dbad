"""A virtual-time scheduler for engine tests: waiting advances a FakeClock instantly."""

from __future__ import annotations

import asyncio

from llm_simulator.engine.scheduler import Scheduler
from llm_simulator.infra.clock import FakeClock


class VirtualScheduler(Scheduler):
    """Every wait completes at once and moves the fake clock to the due time."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(clock)
        self.fake = clock
        self.waits: list[float] = []

    def wait_until(self, due: float) -> asyncio.Future[None] | None:
        """Advance virtual time to ``due``."""
        self.waits.append(due)
        self.fake.advance_to(due)
        return None

    # A sampled token's wait too: virtual time has no loop wake-ups to batch.
    wait_batched = wait_until
