"""Follow a ``SharedDocument``: publish this replica's changes, apply the fleet's.

Each follower remembers the version it has applied; ``poll`` fetches only a newer one. A
replica's own publish raises its known version, so it never re-applies its own change.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from llm_simulator.infra.state import SharedDocument

log = logging.getLogger("llm_simulator.state")


class Follower:
    """One shared document, its local snapshot and how to apply the fleet's version."""

    def __init__(
        self,
        name: str,
        document: SharedDocument,
        snapshot: Callable[[], bytes],
        apply: Callable[[bytes], None],
        *,
        seed: bool,
    ) -> None:
        self.name = name
        self._document = document
        self._snapshot = snapshot
        self._apply = apply
        # Whether the first replica to start publishes its state (chaos: yes; a reset: no).
        self._seed = seed
        self._version = 0

    async def publish(self) -> None:
        """Publish this replica's state (after a local change through the admin API)."""
        version = await self._document.publish(self._snapshot())
        self._version = max(self._version, version)

    async def seed(self) -> None:
        """At start-up: publish when no replica has yet (the fleet adopts the first's state)."""
        if self._seed:
            await self._document.publish_if_absent(self._snapshot())

    async def poll(self) -> bool:
        """Apply the fleet's document if newer than the one applied; whether it was."""
        newer = await self._document.fetch_newer(self._version)
        if newer is None:
            return False
        version, raw = newer
        try:
            self._apply(raw)
        except (ValueError, KeyError, TypeError) as exc:
            # Written by another version of the simulator: keep ours, and say so.
            log.warning("ignoring the fleet's %s version %d: %s", self.name, version, exc)
        self._version = version
        return True
