"""Evaluating routing rules against one request: conditions, the decision and its reason.

Rules are tried by priority (lowest first; ties in the order given). Every condition a rule
gives must hold. ``continue``, ``transform`` and a ``rate_limit`` still under its limit note
the match and let the next rules run; ``route``, ``pool``, ``reject`` and a ``rate_limit``
over its limit decide. The reason of a decision lists the conditions that matched.

The percentage split hashes ``rule name + client id`` (SHA-256, first 8 bytes) onto
[0, 100): the same client always lands on the same side of a rule, and two rules split
independently.
"""

from __future__ import annotations

import datetime
import fnmatch
import hashlib
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from llm_simulator.config.router import Conditions, PoolMember, RouteRule

TERMINAL = frozenset({"route", "pool", "reject"})


def client_bucket(rule: str, client_id: str) -> float:
    """Where ``client_id`` falls in [0, 100) for rule ``rule`` (stable across runs and processes)."""
    digest = hashlib.sha256(f"{rule}\x00{client_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 * 100.0


def in_hours(hour: int, start: int, end: int) -> bool:
    """Whether UTC ``hour`` is in ``[start, end)``, wrapping past midnight when ``start > end``."""
    return start <= hour < end if start <= end else (hour >= start or hour < end)


@dataclass
class Facts:
    """What the conditions look at, taken from one request (prompt tokens counted only when asked)."""

    model: str
    provider: str
    headers: Mapping[str, str]
    stream: bool
    client_id: str
    wall: float
    count_prompt: Callable[[], int]
    _prompt: int | None = None

    @property
    def prompt_tokens(self) -> int:
        """The prompt's tokens (counted once, on first use)."""
        if self._prompt is None:
            self._prompt = self.count_prompt()
        return self._prompt


def matches(when: Conditions, rule: str, facts: Facts) -> str | None:
    """Why the request matches every condition of ``when`` ("" when there are none); None when it does not."""
    why: list[str] = []
    if when.model is not None:
        if when.model not in facts.model:
            return None
        why.append(f"model~{when.model}")
    if when.provider is not None:
        if facts.provider != when.provider:
            return None
        why.append(f"provider={when.provider}")
    for name, pattern in when.headers.items():
        value = facts.headers.get(name.lower())
        if value is None or not fnmatch.fnmatchcase(value, pattern):
            return None
        why.append(f"header {name.lower()}")
    if when.stream is not None:
        if facts.stream != when.stream:
            return None
        why.append(f"stream={str(when.stream).lower()}")
    if when.hours_utc is not None:
        hour = datetime.datetime.fromtimestamp(facts.wall, datetime.UTC).hour
        if not in_hours(hour, when.hours_utc.start, when.hours_utc.end):
            return None
        why.append(f"hour {hour} in [{when.hours_utc.start},{when.hours_utc.end})")
    if when.percent is not None:
        bucket = client_bucket(rule, facts.client_id)
        if bucket >= when.percent:
            return None
        why.append(f"client bucket {bucket:.2f} < {when.percent:g}%")
    if when.prompt_tokens is not None:
        tokens, low, high = facts.prompt_tokens, when.prompt_tokens.min, when.prompt_tokens.max
        if tokens < low or (high is not None and tokens > high):
            return None
        why.append(f"prompt {tokens} tokens in [{low},{'∞' if high is None else high}]")
    return ", ".join(why)


def pick(pool: Sequence[PoolMember], rng: random.Random) -> PoolMember:
    """A member of a weighted pool, chosen with probability weight ÷ total."""
    total = sum(m.weight for m in pool)
    point = rng.random() * total
    for member in pool:
        point -= member.weight
        if point < 0:
            return member
    return pool[-1]


@dataclass
class Decision:
    """What the rules decided for one request (``rule`` None: no rule matched)."""

    rule: str | None = None
    action: str = "none"
    model: str | None = None
    reason: str = ""
    # Non-deciding matches on the way (continue, transform, rate_limit under its limit): (rule, action).
    passed: list[tuple[str, str]] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    # The rule that decided (None when only non-deciding rules matched).
    decided: RouteRule | None = None

    def header_value(self) -> str:
        """The response header's value: ``rule=…; action=…[; model=…]`` (and ``; passed=a,b``)."""
        parts = [f"rule={self.rule or '-'}", f"action={self.action}"]
        if self.model:
            parts.append(f"model={self.model}")
        if self.passed:
            parts.append("passed=" + ",".join(name for name, _ in self.passed))
        return "; ".join(parts).encode("latin-1", "replace").decode("latin-1")

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, for the request log and events."""
        return {
            "rule": self.rule,
            "action": self.action,
            "model": self.model,
            "reason": self.reason,
            "passed": [{"rule": r, "action": a} for r, a in self.passed],
        }


def ordered(rules: Sequence[RouteRule]) -> list[RouteRule]:
    """The enabled rules, lowest priority first (stable: ties keep their order)."""
    return sorted((r for r in rules if r.enabled), key=lambda r: r.priority)


def decide(
    rules: Sequence[RouteRule], facts: Facts, rng: random.Random, allow: Callable[[RouteRule], bool]
) -> Decision:
    """Run ``rules`` (already ordered) over ``facts``; ``allow(rule)`` takes a token from a rate-limit rule's bucket."""
    decision = Decision()
    for rule in rules:
        why = matches(rule.when, rule.name, facts)
        if why is None:
            continue
        action = rule.action
        reason = why or "no conditions"
        if action.type == "continue":
            decision.passed.append((rule.name, "continue"))
        elif action.type == "transform":
            decision.params.update(action.params)
            decision.headers.update({k.lower(): v for k, v in action.headers.items()})
            decision.passed.append((rule.name, "transform"))
        elif action.type == "rate_limit":
            if allow(rule):
                decision.passed.append((rule.name, "rate_limit"))
                continue
            decision.rule, decision.action, decision.decided = rule.name, "rate_limit", rule
            decision.reason = f"{reason}; over {action.requests_per_minute:g} requests/minute"
            return decision
        else:
            decision.rule, decision.action, decision.reason = rule.name, action.type, reason
            decision.decided = rule
            if action.type == "route":
                decision.model = action.model
            elif action.type == "pool":
                member = pick(action.pool, rng)
                decision.model = member.model
                decision.reason = f"{reason}; pool pick {member.model} (weight {member.weight:g})"
            return decision
    if decision.passed:
        decision.rule, decision.action = decision.passed[-1]
        decision.reason = "matched rules that do not decide; served as asked"
    return decision
