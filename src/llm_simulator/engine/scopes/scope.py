"""One test scope: a test's own chaos, fixtures, one-shot faults, strict switch and counters.

A scope is built from the same parts as the global state (a ``ChaosController`` without the
default mix, a ``Script`` with its ``SharedFixtures`` front), so everything the global admin
API can do to chaos and fixtures it can do to a scope. Its settings travel to the fleet as
one document (``snapshot``/``restore``); its counters are added up fleet-wide with a shared
backend (``ScopeCounters.unflushed``, the registry's flush); its scenario histories and
random draws stay per replica, like the global ones.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from llm_simulator.engine.chaos.controller import ChaosController, Verdict
from llm_simulator.engine.script.registry import Script
from llm_simulator.engine.script.shared import SharedFixtures
from llm_simulator.infra.state import StepStore


class ScopedSteps:
    """A step store seen through a key prefix: a scope's sessions and ``times`` budgets apart.

    The prefix names the scope's incarnation and its fixtures' epoch, so a wipe of the
    scope's fixtures starts fresh counters without deleting anyone else's (``clear`` is a
    no-op: the old keys expire in the store).
    """

    def __init__(self, steps: StepStore, scope: TestScope) -> None:
        self._steps = steps
        self._scope = scope

    def _key(self, key: str) -> str:
        scope = self._scope
        return f"scope\x1f{scope.uid}\x1f{scope.script.generation}\x1f{key}"

    async def get(self, key: str) -> int:
        """The value under the scope's key."""
        return await self._steps.get(self._key(key))

    async def compare_and_set(self, key: str, expected: int, new: int) -> bool:
        """Compare-and-set under the scope's key."""
        return await self._steps.compare_and_set(self._key(key), expected, new)

    async def claim(self, key: str, limit: int) -> bool:
        """Claim one use under the scope's key."""
        return await self._steps.claim(self._key(key), limit)

    async def clear(self) -> None:
        """Nothing: a new fixtures epoch already names fresh keys."""


class ScopeCounters:
    """What happened in a scope on this replica: requests by status, fixture hits, faults fired.

    ``fields`` flattens them to named integers (``requests``, ``status:<code>``,
    ``fixture_hits``, ``strict_misses``, ``fault:<kind>``), the form the fleet's counter
    store adds up; ``from_fields`` reads that form back.
    """

    __slots__ = ("by_status", "faults", "fixture_hits", "flushed", "requests", "strict_misses")

    def __init__(self) -> None:
        self.requests = 0
        self.by_status: Counter[str] = Counter()
        self.fixture_hits = 0
        self.strict_misses = 0
        self.faults: Counter[str] = Counter()
        # The fields as last added to the fleet's store (what ``unflushed`` subtracts).
        self.flushed: Counter[str] = Counter()

    def fields(self) -> Counter[str]:
        """The counters as named integers (see the class doc)."""
        out: Counter[str] = Counter(
            requests=self.requests, fixture_hits=self.fixture_hits, strict_misses=self.strict_misses
        )
        out.update({f"status:{status}": n for status, n in self.by_status.items()})
        out.update({f"fault:{kind}": n for kind, n in self.faults.items()})
        return out

    def unflushed(self) -> dict[str, int]:
        """What was counted since the last call (positive deltas only), now marked as added."""
        now = self.fields()
        deltas = now - self.flushed
        self.flushed = now
        return dict(deltas)

    def unflushed_again(self, deltas: dict[str, int]) -> None:
        """``deltas`` (from ``unflushed``) were not added after all: the next call returns them again."""
        self.flushed.subtract(deltas)

    def discard_unflushed(self) -> None:
        """Mark everything counted so far as added (the scope was dropped: those counts go with it)."""
        self.flushed = self.fields()

    @classmethod
    def from_fields(cls, fields: dict[str, int]) -> ScopeCounters:
        """Counters from their named-integer form (unknown names ignored)."""
        counters = cls()
        counters.requests = fields.get("requests", 0)
        counters.fixture_hits = fields.get("fixture_hits", 0)
        counters.strict_misses = fields.get("strict_misses", 0)
        for name, n in fields.items():
            kind, _, value = name.partition(":")
            if kind == "status":
                counters.by_status[value] = n
            elif kind == "fault":
                counters.faults[value] = n
        return counters

    def view(self) -> dict[str, Any]:
        """The counters, JSON-ready."""
        return {
            "requests": self.requests,
            "by_status": dict(sorted(self.by_status.items())),
            "fixture_hits": self.fixture_hits,
            "strict_misses": self.strict_misses,
            "faults_fired": sum(self.faults.values()),
            "faults_by_kind": dict(sorted(self.faults.items())),
        }


class TestScope:
    """One test's state on a shared server (see the module doc)."""

    __test__ = False  # not a pytest class, despite the name

    def __init__(self, test_id: str, uid: str, chaos: ChaosController, script: Script, now: float) -> None:
        self.id = test_id
        # This incarnation of the scope: names its keys in the fleet's step store.
        self.uid = uid
        self.chaos = chaos
        self.script = script
        self.fixtures = SharedFixtures(script)
        # None: the server's ``fixtures.strict``; True/False: this scope's own choice.
        self.strict: bool | None = None
        self.created = now
        self.used = now
        self.counters = ScopeCounters()
        # The settings document last published or applied here (None: never shared).
        self.raw: bytes | None = None
        # When the shared document's time to live was last extended.
        self.refreshed = now

    def fired(self, verdict: Verdict) -> Verdict:
        """Count ``verdict`` when it disturbs the request; returns it."""
        if verdict.disturbs:
            self.counters.faults[verdict.kind] += 1
        return verdict

    def snapshot(self) -> dict[str, Any]:
        """The settings another replica needs to serve this scope alike (JSON-ready)."""
        return {
            "uid": self.uid,
            "strict": self.strict,
            "chaos": self.chaos.snapshot(),
            "fixtures": self.fixtures.snapshot(),
        }

    def restore(self, data: dict[str, Any]) -> None:
        """Take the settings from another replica's snapshot."""
        self.uid = str(data["uid"])
        strict = data["strict"]
        self.strict = None if strict is None else bool(strict)
        self.chaos.restore(data["chaos"])
        self.fixtures.restore(data["fixtures"])

    def summary(self, now: float, ttl_s: float) -> dict[str, Any]:
        """The scope in a list: its age, idle time, contents' sizes and request count."""
        return {
            "id": self.id,
            "age_s": round(now - self.created, 3),
            "idle_s": round(now - self.used, 3),
            "expires_in_s": round(max(0.0, ttl_s - (now - self.used)), 3),
            "strict": self.strict,
            "chaos_rules": len(self.chaos.rules),
            "fixtures": self.script.size,
            "one_shots": len(self.chaos.one_shots.faults),
            "requests": self.counters.requests,
        }
