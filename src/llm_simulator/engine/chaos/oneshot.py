"""One-shot faults: "the next N requests (matching these filters) fail with X".

A one-shot fault is an ordinary chaos rule (any error type, stream fault or misbehaviour,
with the rule's own filters) and a count. Each matching request claims one use from a
budget in the fleet's ``StepStore`` (``claim``: one atomic script in Redis), so the fault
fires exactly ``count`` times however many replicas serve the traffic, and concurrent
requests can never over-spend it. The list of armed faults travels with the chaos
state (global) or the scope's settings document (a test scope); spent faults are
forgotten by each replica when its next claim fails.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from llm_simulator.config.chaos import ChaosRule
from llm_simulator.infra.state import StepStore

# The key of a fault's budget in the step store (its id is a fresh uuid: never reused).
_KEY = "oneshot\x1f{}"


@dataclass(frozen=True, slots=True)
class OneShot:
    """One armed fault: its id, how many requests it fails, and what it does to them."""

    id: str
    count: int
    rule: ChaosRule
    created: float

    def to_json(self) -> dict[str, Any]:
        """The fault as the settings document carries it."""
        return {"id": self.id, "count": self.count, "rule": self.rule.model_dump(mode="json"), "created": self.created}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> OneShot:
        """The fault a settings document carries (validated like the admin API's input)."""
        return cls(str(data["id"]), int(data["count"]), ChaosRule.model_validate(data["rule"]), float(data["created"]))


class OneShotBook:
    """The armed one-shot faults of one chaos state (the global one or a scope's)."""

    def __init__(self) -> None:
        self.faults: tuple[OneShot, ...] = ()
        # Whether any fault may still fire (spent ones are dropped as claims fail): a plain
        # attribute, read by every request's admission test, so no property call.
        self.armed = False
        # Told when ``armed`` may have changed (the controller folds it into ``admits``).
        self.on_change: Callable[[], None] | None = None

    def _set(self, faults: tuple[OneShot, ...]) -> None:
        self.faults = faults
        self.armed = bool(faults)
        if self.on_change is not None:
            self.on_change()

    def add(self, rule: ChaosRule, count: int, now: float) -> OneShot:
        """Arm a fault: the next ``count`` requests ``rule`` matches meet it (always, whatever its probability)."""
        fault = OneShot(uuid.uuid4().hex, count, rule.model_copy(update={"probability": 1.0}), now)
        self._set((*self.faults, fault))
        return fault

    def clear(self) -> int:
        """Disarm every fault; how many there were."""
        count = len(self.faults)
        self._set(())
        return count

    async def take(self, matches: Callable[[ChaosRule], bool], claims: StepStore) -> ChaosRule | None:
        """The rule of the first armed fault ``matches`` accepts whose budget still has a use (taken now)."""
        for fault in self.faults:
            if not matches(fault.rule):
                continue
            if await claims.claim(_KEY.format(fault.id), fault.count):
                return fault.rule
            # Spent (here or on another replica): stop asking for it.
            self._set(tuple(f for f in self.faults if f.id != fault.id))
        return None

    async def view(self, claims: StepStore) -> list[dict[str, Any]]:
        """Every armed fault with its uses so far and the uses left (read from the fleet's budgets)."""
        out = []
        for fault in self.faults:
            used = await claims.get(_KEY.format(fault.id))
            rule = fault.rule.model_dump(mode="json", exclude_defaults=True)
            out.append(
                {
                    "id": fault.id,
                    "count": fault.count,
                    "fired": used,
                    "remaining": max(0, fault.count - used),
                    "rule": rule,
                }
            )
        return out

    def snapshot(self) -> list[dict[str, Any]]:
        """The armed faults, JSON-ready."""
        return [fault.to_json() for fault in self.faults]

    def restore(self, data: list[dict[str, Any]]) -> None:
        """Take the armed faults from a snapshot."""
        self._set(tuple(OneShot.from_json(item) for item in data))
