"""Chaos configuration and the scenario clock, followed by every replica of a fleet.

A change made through one replica's admin API is published as a versioned document
(``SharedDocument``); every replica polls the version every ``interval_s`` (0.25 s by
default, well inside the one second a fleet has to agree) and applies a newer document. The
first replica to start publishes its configuration, so replicas started later join the
fleet's scenario clock instead of starting their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import orjson

from llm_simulator.engine.chaos.controller import ChaosController
from llm_simulator.infra.state import SharedDocument

log = logging.getLogger("llm_simulator.state")


class ChaosSync:
    """Publishes this replica's chaos changes and applies the fleet's."""

    def __init__(self, chaos: ChaosController, document: SharedDocument, interval_s: float) -> None:
        self._chaos = chaos
        self._document = document
        self._interval_s = interval_s
        self._version = 0
        self._task: asyncio.Task[None] | None = None
        chaos.on_change = self.publish

    async def publish(self) -> None:
        """Publish this replica's configuration (after an admin change)."""
        version = await self._document.publish(orjson.dumps(self._chaos.snapshot()))
        # Our own change is applied already; skip it when polling.
        self._version = max(self._version, version)

    async def poll(self) -> bool:
        """Apply the fleet's configuration if it is newer than ours; whether it was."""
        newer = await self._document.fetch_newer(self._version)
        if newer is None:
            return False
        version, raw = newer
        try:
            self._chaos.restore(orjson.loads(raw))
        except (ValueError, KeyError, TypeError) as exc:
            # A document written by another version of the simulator: keep ours, say so once.
            log.warning("ignoring the fleet's chaos state version %d: %s", version, exc)
        self._version = version
        return True

    async def _follow(self) -> None:
        await self._document.publish_if_absent(orjson.dumps(self._chaos.snapshot()))
        while True:
            await self.poll()
            await asyncio.sleep(self._interval_s)

    def start(self) -> None:
        """Start following (inside the worker's event loop)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._follow())

    async def aclose(self) -> None:
        """Stop following."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
