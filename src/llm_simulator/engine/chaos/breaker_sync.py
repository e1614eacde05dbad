"""Circuit breakers across a fleet: an opening anywhere opens the breaker everywhere.

Each replica keeps its own breakers and feeds them its own outcomes (counting failures over
the network would put a round trip on every request). What travels is the decision: when a
replica's breaker for a model opens, or an operator resets one, the event is set in a
``SharedMap`` under the model, stamped with a version; every replica polls the map and
applies the events newer than those it has seen, oldest first. Each replica then half-opens
after its own recovery timeout and closes on its own trials. Events from before a replica
started are not replayed.
"""

from __future__ import annotations

import asyncio
from typing import Any

from llm_simulator.engine.chaos.breaker import BreakerBoard
from llm_simulator.infra.state import SharedMap
from llm_simulator.infra.state.guard import spawn


class BreakerSync:
    """Publishes this replica's breaker openings and resets; applies the fleet's."""

    name = "circuit breakers"

    def __init__(self, board: BreakerBoard, shared: SharedMap) -> None:
        self._board = board
        self._shared = shared
        self._known = 0
        self._seen: dict[str, int] = {}
        self._primed = False
        self._pending: set[asyncio.Task[Any]] = set()
        board.on_event = self._publish

    def _publish(self, model: str, event: str) -> None:
        spawn(self._pending, self._send(model, event))

    async def _send(self, model: str, event: str) -> None:
        stamp = await self._shared.set(model, event)
        self._seen[model] = max(self._seen.get(model, 0), stamp)

    async def seed(self) -> None:
        """Nothing to publish at start-up."""

    async def poll(self) -> bool:
        """Apply the events set since the last poll (none on the first: they predate us)."""
        newer = await self._shared.entries_newer(self._known)
        if newer is None:
            self._primed = True  # nothing before us: every later event applies
            return False
        version, entries = newer
        for model, (event, stamp) in sorted(entries.items(), key=lambda item: item[1][1]):
            if stamp <= self._seen.get(model, 0):
                continue
            self._seen[model] = stamp
            if self._primed:
                self._board.apply(model, event)
        self._primed = True
        self._known = version
        return True
