"""The loaded fixtures and the scenario sessions: which reply a request gets.

Order of precedence for a request: the scenario session it belongs to (if a scenario
applies), then the rules in order (first match wins), then normal generation. Everything
runs on the server's single event loop, so no locking is needed; sessions are kept in a
bounded LRU map and each session keeps a bounded history. With a shared state backend a
session's step lives in a ``StepStore`` too (``resolve_shared``), advanced by
compare-and-set, so a scenario's requests may be spread over replicas; its history and the
rules' hit counts stay per replica.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections import OrderedDict, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from llm_simulator.core.errors import ErrorKind
from llm_simulator.core.types import (
    GenerationRequest,
    ScenarioStepRef,
    ScriptedError,
    ScriptedPart,
    ScriptedReply,
    SegmentKind,
)
from llm_simulator.engine.script.conversation import SUMMARY_CHARS, Conversation
from llm_simulator.engine.script.loader import FixtureError
from llm_simulator.engine.script.model import FixtureSet, Rule, Scenario
from llm_simulator.infra.clock import Clock
from llm_simulator.infra.state import StepStore
from llm_simulator.infra.state.guard import spawn

DEFAULT_SESSION_HEADER = "x-simulator-session"
# Tries to advance a shared session before answering from the last value read (another
# replica moving the same session at the same instant is a client racing itself).
CAS_ATTEMPTS = 3
# Claims of a rule's fleet-wide ``times`` budget: every failed compare-and-set means another
# replica took one, so this bounds the wait only under heavy contention.
TIMES_ATTEMPTS = 64
# Records kept per session (the oldest are dropped first): a runaway loop stays bounded.
MAX_HISTORY = 200


@dataclass(slots=True)
class _RuleState:
    rule: Rule
    reply: ScriptedReply
    origin: str
    hits: int = 0

    @property
    def spent(self) -> bool:
        return self.rule.times is not None and self.hits >= self.rule.times


@dataclass(slots=True)
class _ScenarioState:
    scenario: Scenario
    replies: list[ScriptedReply]
    origin: str


@dataclass(slots=True)
class _Session:
    id: str
    source: str  # "header" or "content"
    scenario: _ScenarioState
    created: float
    updated: float
    next_step: int = 0
    requests: int = 0
    history: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=MAX_HISTORY))


def reply_summary(reply: ScriptedReply | None) -> dict[str, Any] | None:
    """A scripted reply as the admin API shows it."""
    if reply is None:
        return None
    out: dict[str, Any] = {"source": reply.source}
    if reply.text is not None:
        out["text"] = reply.text if len(reply.text) <= SUMMARY_CHARS else reply.text[:SUMMARY_CHARS] + "…"
    if reply.tool_calls:
        out["tool_calls"] = [{"name": c.name, "arguments": c.arguments} for c in reply.tool_calls]
    if reply.parts:
        out["parts"] = [_part_summary(part) for part in reply.parts]
    overrides = {
        "finish_reason": reply.finish.value if reply.finish is not None else None,
        "id": reply.response_id,
        "model": reply.model,
        "system_fingerprint": reply.system_fingerprint,
    }
    out.update({key: value for key, value in overrides.items() if value is not None})
    if reply.usage is not None:
        out["usage"] = {"input_tokens": reply.usage.input_tokens, "output_tokens": reply.usage.output_tokens}
    if reply.error is not None:
        error = reply.error
        out["error"] = {"kind": error.kind.value, "status": error.status, "message": error.message, "code": error.code}
    if reply.delay_s:
        out["delay_ms"] = reply.delay_s * 1000.0
    return out


def _part_summary(part: ScriptedPart) -> dict[str, Any]:
    """One ordered part as the admin API shows it."""
    if part.call is not None:
        return {"tool_call": {"name": part.call.name, "arguments": part.call.arguments, "id": part.call.id}}
    key = "reasoning" if part.kind is SegmentKind.REASONING else "text"
    return {key: part.text if len(part.text) <= SUMMARY_CHARS else part.text[:SUMMARY_CHARS] + "…"}


class Script:
    """Rules, scenarios and sessions; ``resolve`` picks the reply for a request."""

    def __init__(
        self,
        clock: Clock,
        *,
        session_header: str = DEFAULT_SESSION_HEADER,
        max_sessions: int = 10_000,
        steps: StepStore | None = None,
        strict: bool = False,
    ) -> None:
        self._clock = clock
        # Strict mode: a request no fixture matches is an error (providers/scripting.py).
        self.strict = strict
        # The fleet's session steps (None: this process only).
        self.steps = steps
        self._pending: set[asyncio.Task[Any]] = set()
        self.session_header = session_header.lower()
        self._max_sessions = max_sessions
        self._rules: list[_RuleState] = []
        self._scenarios: list[_ScenarioState] = []
        self._sessions: OrderedDict[str, _Session] = OrderedDict()
        # Names this load of the fixtures in the fleet's counters (set by SharedFixtures).
        self.generation = ""

    @property
    def active(self) -> bool:
        """Whether any fixture is loaded, or strict mode is on (handlers skip the script entirely otherwise)."""
        return bool(self._rules or self._scenarios) or self.strict

    @property
    def size(self) -> int:
        """How many rules and scenarios are loaded (a test scope's bound)."""
        return len(self._rules) + len(self._scenarios)

    # -- Loading ------------------------------------------------------------------------------

    def load(self, fixtures: FixtureSet, *, replace: bool, origin: str = "", share: bool = True) -> None:
        """Add ``fixtures`` after the loaded ones, or replace them (which also ends every session).

        ``share=False`` (replaying another replica's change) ends sessions here only.
        Appending a scenario whose name is already loaded is an error (sessions refer to
        scenarios by name); nothing is changed then.
        """
        if not replace:
            known = {s.scenario.name for s in self._scenarios}
            for scenario in fixtures.scenarios:
                if scenario.name in known:
                    raise FixtureError(f"{origin or 'fixtures'}: scenario {scenario.name!r} is already loaded")
        first = 0 if replace else len(self._rules)
        rules = [
            _RuleState(rule, rule.respond.to_reply(_rule_source(i, rule)), origin)
            for i, rule in enumerate(fixtures.rules, start=first)
        ]
        scenarios = [_ScenarioState(scenario, _step_replies(scenario), origin) for scenario in fixtures.scenarios]
        if replace:
            self._rules, self._scenarios = rules, scenarios
            self._end_sessions(share)
        else:
            self._rules.extend(rules)
            self._scenarios.extend(scenarios)

    def clear(self, *, share: bool = True) -> None:
        """Remove every rule, scenario and session (``share=False``: sessions here only)."""
        self._rules.clear()
        self._scenarios.clear()
        self._end_sessions(share)

    def clear_sessions(self) -> int:
        """End every session (scenarios start again from step 0); returns how many there were."""
        count = len(self._sessions)
        self._end_sessions()
        return count

    def _end_sessions(self, share: bool = True) -> None:
        """Forget every session here and (``share``), in the background, the fleet's steps."""
        self._sessions.clear()
        if self.steps is not None and share:
            try:
                asyncio.get_running_loop()
            except RuntimeError:  # no loop: loading at start-up, nothing shared yet
                return
            spawn(self._pending, self.steps.clear())

    def drop_session(self, session_id: str) -> bool:
        """End one session; False if it does not exist."""
        return self._sessions.pop(session_id, None) is not None

    # -- Resolving ----------------------------------------------------------------------------

    def resolve(self, provider: str, request: GenerationRequest, headers: Mapping[str, str]) -> ScriptedReply | None:
        """The scripted reply for ``request`` served by ``provider``, or None (generate normally)."""
        conv = Conversation.of(provider, request, headers)
        if self._scenarios:
            session = self._session_for(conv)
            if session is not None:
                reply, handled = self._advance(session, conv)
                if handled:
                    return reply
        return self._rule_reply(conv)

    async def resolve_shared(
        self, provider: str, request: GenerationRequest, headers: Mapping[str, str]
    ) -> ScriptedReply | None:
        """As ``resolve``, with the session's step read from and advanced in the fleet's store.

        A rule's ``times`` budget is counted there too (a counter per rule and fixtures generation).
        """
        if self.steps is None:
            return self.resolve(provider, request, headers)
        conv = Conversation.of(provider, request, headers)
        session = self._session_for(conv)
        if session is not None:
            key = f"{session.scenario.scenario.name}\x1f{session.id}"
            for _ in range(CAS_ATTEMPTS):
                index = await self.steps.get(key)
                session.next_step = index
                reply, handled = self._advance(session, conv)
                if session.next_step == index or await self.steps.compare_and_set(key, index, session.next_step):
                    break
            if handled:
                return reply
        return await self._shared_rule_reply(conv, self.steps)

    async def _shared_rule_reply(self, conv: Conversation, steps: StepStore) -> ScriptedReply | None:
        """As ``_rule_reply``, with each ``times`` budget claimed from the fleet's counter."""
        for index, state in enumerate(self._rules):
            # Not ``state.spent``: that counts this process's hits; the fleet's counter decides.
            if not state.rule.match.matches(conv):
                continue
            times = state.rule.times
            if times is None or await self._claim(steps, f"times\x1f{self.generation}\x1f{index}", times):
                state.hits += 1
                return state.reply
        return None

    @staticmethod
    async def _claim(steps: StepStore, key: str, times: int) -> bool:
        """Take one of a rule's ``times`` uses fleet-wide; False when every one is taken."""
        for _ in range(TIMES_ATTEMPTS):
            used = await steps.get(key)
            if used >= times:
                return False
            if await steps.compare_and_set(key, used, used + 1):
                return True
        return False

    def _rule_reply(self, conv: Conversation) -> ScriptedReply | None:
        """The first unspent rule matching the request."""
        for state in self._rules:
            if not state.spent and state.rule.match.matches(conv):
                state.hits += 1
                return state.reply
        return None

    def _session_for(self, conv: Conversation) -> _Session | None:
        header = conv.headers.get(self.session_header)
        key, source = (header, "header") if header else (conv.content_key(), "content")
        session = self._sessions.get(key)
        if session is not None:
            self._sessions.move_to_end(key)
            return session
        scenario = next((s for s in self._scenarios if s.scenario.match.matches(conv)), None)
        if scenario is None:
            return None
        now = self._clock.wall()
        session = _Session(key, source, scenario, now, now)
        self._sessions[key] = session
        if len(self._sessions) > self._max_sessions:
            self._sessions.popitem(last=False)
        return session

    def _advance(self, session: _Session, conv: Conversation) -> tuple[ScriptedReply | None, bool]:
        """The session's reply and whether the session decided it (False: fall through to rules)."""
        state = session.scenario
        scenario = state.scenario
        session.requests += 1
        session.updated = self._clock.wall()
        index = session.next_step
        outcome = "answered"
        if index >= len(scenario.steps):
            if scenario.after_last == "fall_through":
                self._record(session, None, "past_end", conv, None)
                return None, False
            if scenario.after_last == "error":
                reply = ScriptedReply(
                    error=ScriptedError(
                        ErrorKind.INVALID_REQUEST,
                        f"Scenario {scenario.name!r} has no step {index + 1}: all {len(scenario.steps)} steps of "
                        f"session {session.id!r} were used.",
                        code="scenario_exhausted",
                    ),
                    source=f"scenario {scenario.name!r}",
                )
                self._record(session, None, "exhausted", conv, reply)
                return reply, True
            if scenario.after_last == "repeat_last":
                index = len(scenario.steps) - 1
                outcome = "repeated"
            else:  # restart
                index = 0
                outcome = "restarted"
        step = scenario.steps[index]
        if step.match is not None and not step.match.matches(conv):
            self._record(session, index, "mismatch", conv, None)
            return None, False
        reply = state.replies[index]
        session.next_step = index + 1
        self._record(session, index, outcome, conv, reply)
        return reply, True

    def _record(
        self, session: _Session, step: int | None, outcome: str, conv: Conversation, reply: ScriptedReply | None
    ) -> None:
        steps = session.scenario.scenario.steps
        session.history.append(
            {
                "request": session.requests,
                "step": step,
                "step_name": steps[step].name if step is not None else None,
                "outcome": outcome,
                "at": session.updated,
                "received": conv.summary(),
                "reply": reply_summary(reply),
            }
        )

    # -- Admin views --------------------------------------------------------------------------

    def fixtures_view(self) -> dict[str, Any]:
        """Every loaded rule (with its hit count) and scenario (with its session count)."""
        per_scenario: dict[str, int] = {}
        for session in self._sessions.values():
            name = session.scenario.scenario.name
            per_scenario[name] = per_scenario.get(name, 0) + 1
        return {
            "session_header": self.session_header,
            "rules": [
                {"index": i, **_dump(state.rule), "hits": state.hits, "origin": state.origin}
                for i, state in enumerate(self._rules)
            ],
            "scenarios": [
                {**_dump(state.scenario), "sessions": per_scenario.get(state.scenario.name, 0), "origin": state.origin}
                for state in self._scenarios
            ],
        }

    def sessions_view(self) -> list[dict[str, Any]]:
        """Every session, least recently used first."""
        return [self._session_view(session) for session in self._sessions.values()]

    def session_view(self, session_id: str) -> dict[str, Any] | None:
        """One session (None if unknown)."""
        session = self._sessions.get(session_id)
        return self._session_view(session) if session is not None else None

    @staticmethod
    def _session_view(session: _Session) -> dict[str, Any]:
        scenario = session.scenario.scenario
        return {
            "id": session.id,
            "source": session.source,
            "scenario": scenario.name,
            "next_step": session.next_step,
            "steps": len(scenario.steps),
            "done": session.next_step >= len(scenario.steps),
            "requests": session.requests,
            "created": session.created,
            "updated": session.updated,
            "history": list(session.history),
        }


def _step_replies(scenario: Scenario) -> list[ScriptedReply]:
    return [
        dataclasses.replace(
            step.respond.to_reply(f"scenario {scenario.name!r} step {i}" + (f" {step.name!r}" if step.name else "")),
            step=ScenarioStepRef(scenario.name, i, step.name),
        )
        for i, step in enumerate(scenario.steps)
    ]


def _rule_source(index: int, rule: Rule) -> str:
    return f"rule {index}" + (f" {rule.name!r}" if rule.name else "")


def _dump(model: Rule | Scenario) -> dict[str, Any]:
    data: dict[str, Any] = model.model_dump(mode="json", by_alias=True, exclude_unset=True)
    return data
