"""Fixtures changed through the admin API, shared with the fleet as the operations that made them.

A replica that loads or clears fixtures through ``/admin/fixtures`` records the operation and
publishes the list (a followed document, like the chaos state); every other replica replays
what it has not applied yet. The list starts over at every operation that wipes what was
loaded (a ``replace`` load or a clear), so it holds only what the current fixtures are built
from: an ``epoch`` names that start, and each operation has an id.

A follower whose applied operations are a prefix of the fleet's (same epoch) applies the
rest; otherwise (another epoch, or two replicas appended at once and the last publish won)
it rebuilds: the configured files, then every operation. Rebuilding ends sessions only in
this process, never the fleet's scenario steps (the publishing replica already did that).
The epoch also names the fleet's counters of the rules' ``times`` budgets, so a wipe starts
them afresh.

In memory (one process) nothing is recorded or kept: ``on_change`` stays None.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from llm_simulator.engine.script.loader import FixtureError, parse_fixtures
from llm_simulator.engine.script.model import FixtureSet
from llm_simulator.engine.script.registry import Script

ADMIN_ORIGIN = "admin"


class SharedFixtures:
    """The admin API's fixture operations on one replica's ``Script``, and the fleet's replay."""

    def __init__(self, script: Script, base: Sequence[tuple[FixtureSet, str]] = ()) -> None:
        self._script = script
        # The configured files (fixture set, origin): what a rebuild starts from in epoch "".
        self._base = tuple(base)
        self._epoch = ""
        self._ops: list[dict[str, Any]] = []
        # Set by the fleet state when shared: publishes ``snapshot()``.
        self.on_change: Callable[[], Awaitable[None]] | None = None

    async def load(self, body: bytes, *, replace: bool) -> FixtureSet:
        """Parse and load a fixtures document (YAML or JSON) here, then tell the fleet."""
        fixtures = parse_fixtures(body, "request body")
        self._script.load(fixtures, replace=replace, origin=ADMIN_ORIGIN)
        await self._record({"op": "load", "replace": replace, "body": body.decode("utf-8", "replace")}, wipes=replace)
        return fixtures

    async def clear(self) -> None:
        """Remove every rule, scenario and session here, then tell the fleet."""
        self._script.clear()
        await self._record({"op": "clear"}, wipes=True)

    async def _record(self, op: dict[str, Any], *, wipes: bool) -> None:
        if self.on_change is None:  # one process: nothing to share, nothing to keep
            return
        if wipes:
            self._epoch, self._ops = uuid.uuid4().hex, []
            # Fresh fleet-wide ``times`` counters for what was just loaded.
            self._script.generation = self._epoch
        self._ops.append({**op, "id": uuid.uuid4().hex})
        await self.on_change()

    def snapshot(self) -> dict[str, Any]:
        """What another replica needs to load the same fixtures (JSON-ready)."""
        return {"epoch": self._epoch, "ops": self._ops}

    def restore(self, document: dict[str, Any]) -> None:
        """Apply the fleet's operations this replica has not applied (or rebuild from them).

        Raises ``ValueError`` (``FixtureError``), ``KeyError`` or ``TypeError`` for a document
        this version cannot read; the follower then keeps the current fixtures.
        """
        epoch, ops = str(document["epoch"]), list(document["ops"])
        mine = [op["id"] for op in self._ops]
        rebuild = not (epoch == self._epoch and mine == [op["id"] for op in ops[: len(mine)]])
        # Parsed before anything changes: an unreadable document leaves the fixtures as they were.
        pending = [_parsed(op) for op in (ops if rebuild else ops[len(mine) :])]
        if rebuild:
            # The configured files (only before any wipe), then every operation.
            self._script.load(FixtureSet(), replace=True, share=False)
            for configured, origin in self._base if epoch == "" else ():
                self._script.load(configured, replace=False, origin=origin)
        for fixtures, replace in pending:
            if fixtures is None:
                self._script.clear(share=False)
            else:
                self._script.load(fixtures, replace=replace, origin=ADMIN_ORIGIN, share=False)
        self._epoch, self._ops = epoch, ops
        self._script.generation = epoch


def _parsed(op: dict[str, Any]) -> tuple[FixtureSet | None, bool]:
    """One operation as (fixtures to load, replace), or (None, True) for a clear."""
    if op["op"] == "clear":
        return None, True
    if op["op"] == "load":
        return parse_fixtures(str(op["body"]).encode(), "the fleet's fixtures"), bool(op["replace"])
    raise FixtureError(f"unknown fixtures operation {op['op']!r}")
