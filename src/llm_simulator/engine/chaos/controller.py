"""The chaos controller: decides, per admitted request, which failure (if any) it meets.

Rules are evaluated in order. Each matching, enabled rule fires with probability
``rule.probability × chaos.probability`` (one seeded draw per matching rule, so a run seed
replays exactly which requests fail). Latency-only rules add up (their multipliers multiply,
their delays add); the first rule that fires with an error or a stream fault decides and
ends the evaluation. Active time-based scenarios come first: their latency scale always
applies and their error sources are drawn before the rules. Everything can be replaced at
run time through the admin API.
"""

from __future__ import annotations

import fnmatch
import functools
import os
import random
import re
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter

from llm_simulator.config.chaos import ChaosConfig, ChaosRule, ScenarioSpec
from llm_simulator.core.errors import SimulatorError
from llm_simulator.core.faults import FAULT_ACTIONS, FaultAction, FaultKind, Misbehaviour, StreamFault
from llm_simulator.core.redact import is_secret_header, mask
from llm_simulator.engine.chaos.breaker import BreakerBoard
from llm_simulator.engine.chaos.failures import DEFAULT_TIMEOUT_DELAY_S, chaos_error
from llm_simulator.engine.chaos.oneshot import OneShotBook
from llm_simulator.engine.chaos.presets import DEFAULT_MIX, DEFAULT_MIX_PROBABILITY, preset_rules
from llm_simulator.engine.chaos.scenarios import ScenarioTimeline
from llm_simulator.infra.clock import Clock
from llm_simulator.infra.rng import derive_seed


@dataclass(frozen=True, slots=True)
class RequestFacts:
    """What rules can filter on: who asks for which model on which endpoint."""

    provider: str
    endpoint: str
    model: str  # as requested
    api_key: str
    headers: Mapping[str, str]
    canonical: str = ""  # the catalogue's id for it (an alias or dated id resolved)


@dataclass(frozen=True, slots=True)
class Verdict:
    """What happens to one request (the default: nothing)."""

    error: SimulatorError | None = None
    hang: bool = False
    delay_s: float = 0.0
    latency_scale: float = 1.0
    fault: StreamFault | None = None
    rule: str | None = None
    error_type: str | None = None
    misbehave: Misbehaviour | None = None

    @property
    def disturbs(self) -> bool:
        """Whether anything at all happens to the request."""
        return self is not NO_VERDICT and (
            self.error is not None
            or self.hang
            or self.delay_s > 0
            or self.latency_scale != 1.0
            or self.fault is not None
            or self.misbehave is not None
        )

    @property
    def kind(self) -> str:
        """What the verdict injects, as the counters and the request record name it."""
        if self.error_type is not None:
            return self.error_type
        if self.misbehave is not None:
            return f"misbehave:{self.misbehave}"
        return str(self.fault.kind) if self.fault is not None else "latency"


NO_VERDICT = Verdict()


def _matches(patterns: Sequence[str], value: str) -> bool:
    """Exact ids, or globs (``gpt-5*`` is a prefix match); an empty filter matches all."""
    return not patterns or any(p == value or fnmatch.fnmatchcase(value, p) for p in patterns)


# Resolves a model id or alias, for a provider, to the catalogue's id (None if unknown).
Resolver = Callable[[str, str], str | None]


def rule_matches(rule: ChaosRule, facts: RequestFacts, resolve: Resolver | None = None) -> bool:
    """Whether every filter of ``rule`` accepts the request.

    A model pattern matches the id as requested or the catalogue's id for it; an exact
    pattern naming an alias (or a dated id) also matches every spelling of its model.
    """
    if not rule.enabled:
        return False
    if rule.providers and facts.provider not in rule.providers:
        return False
    if rule.models and not _model_matches(rule.models, facts.model, facts.canonical, facts.provider, resolve):
        return False
    if not _matches(rule.endpoints, facts.endpoint) or not _matches(rule.api_keys, facts.api_key):
        return False
    for name, pattern in rule.headers.items():
        value = facts.headers.get(name.lower())
        if value is None or not (value == pattern or fnmatch.fnmatchcase(value, pattern)):
            return False
    return True


@functools.lru_cache(maxsize=4096)
def _model_matches(
    patterns: tuple[str, ...], model: str, canonical: str, provider: str, resolve: Resolver | None
) -> bool:
    """Whether a rule's model patterns cover the request's model (cached: globs cost a regex)."""
    if _matches(patterns, model) or _matches(patterns, canonical):
        return True
    if resolve is None or not canonical:
        return False
    return any(resolve(p, provider) == canonical for p in patterns if not _GLOB.search(p))


_GLOB = re.compile(r"[*?\[]")
_SCENARIOS: TypeAdapter[tuple[ScenarioSpec, ...]] = TypeAdapter(tuple[ScenarioSpec, ...])


def _shown(rule: ChaosRule) -> dict[str, Any]:
    """A rule as the admin API shows it: API keys in filters masked (they are secrets)."""
    data = rule.model_dump(mode="json", exclude_defaults=True)
    if "api_keys" in data:
        data["api_keys"] = [mask(k) for k in data["api_keys"]]
    if "headers" in data:
        data["headers"] = {k: mask(v) if is_secret_header(k) else v for k, v in data["headers"].items()}
    return data


class ChaosController:
    """Chaos state: rules, scenarios, the breaker board, the seeded draws and counters."""

    def __init__(
        self,
        config: ChaosConfig,
        clock: Clock,
        run_seed: int | None,
        resolve: Resolver | None = None,
        *,
        default_mix: bool = True,
    ) -> None:
        self._clock = clock
        # A test scope's chaos has no default mix: a scope with no rules injects nothing.
        self._default_mix = default_mix
        self._resolve = functools.lru_cache(maxsize=1024)(resolve) if resolve is not None else None
        self.enabled = config.enabled
        self.probability = config.probability
        self.preset: str | None = config.preset
        self.rules: tuple[ChaosRule, ...] = config.rules
        # Rules an adapter derived from observed traffic (the observatory's error mix), after the user's.
        self.observed: tuple[ChaosRule, ...] = ()
        self.control_header = config.control_header
        self.scenarios = ScenarioTimeline(config.scenarios, clock, config.scenario_repeat_s)
        self.breakers = BreakerBoard(config.circuit_breaker, clock) if config.circuit_breaker.enabled else None
        seed = config.seed if config.seed is not None else run_seed
        self.seeded = seed is not None
        self._rng = random.Random(derive_seed("chaos", seed) if seed is not None else os.urandom(32))
        # Forced (control-header) requests draw from their own generator, so a test that
        # forces failures on some requests does not shift which of the others fail.
        self._forced_rng = random.Random(derive_seed("chaos-control", seed) if seed is not None else os.urandom(32))
        self.injections: Counter[str] = Counter()
        self.decisions = 0
        # "The next N requests fail with X" (engine/chaos/oneshot.py); fire even with chaos off.
        self.one_shots = OneShotBook()
        self.one_shots.on_change = self._refresh
        self.admits = False
        self._refresh()
        self._effective = self._compile()
        # Called after every change made through the admin API (a fleet publishes it).
        self.on_change: Callable[[], Awaitable[None]] | None = None

    # -- configuration (admin API) ------------------------------------------------------------

    def _refresh(self) -> None:
        """Recompute ``admits``: whether any request needs chaos's admission at all.

        Chaos on, a breaker board, or a one-shot fault armed: the one flag the hot path
        tests (``providers/admission.py`` ``needs_admission``), so arming one-shot faults
        costs requests nothing while none is armed. ``enabled`` changes only through
        ``configure``, which refreshes it.
        """
        self.admits = self.enabled or self.breakers is not None or self.one_shots.armed

    def _compile(self) -> tuple[ChaosRule, ...]:
        """User rules, then the preset's; the default mix when neither gives any rule."""
        rules = self.rules + self.observed + (preset_rules(self.preset) if self.preset else ())
        if not rules and not self.scenarios.active and self._default_mix:
            rules = (DEFAULT_MIX,)
        return rules

    def configure(
        self,
        *,
        enabled: bool | None = None,
        probability: float | None = None,
        rules: tuple[ChaosRule, ...] | None = None,
        preset: str | bool | None = False,
        scenarios: tuple[ScenarioSpec, ...] | None = None,
        repeat_s: float | bool | None = False,
    ) -> None:
        """Change what is given (``False`` for preset/repeat_s means "leave as is")."""
        if enabled is not None:
            self.enabled = enabled
        if probability is not None:
            self.probability = probability
        if rules is not None:
            self.rules = rules
        if preset is not False:
            self.preset = preset if isinstance(preset, str) else None
        if scenarios is not None or repeat_s is not False:
            specs = scenarios if scenarios is not None else self.scenarios.specs
            repeat = self.scenarios.repeat_s
            if repeat_s is not False:
                repeat = None if isinstance(repeat_s, bool) else repeat_s
            self.scenarios = ScenarioTimeline(specs, self._clock, repeat)
        self._effective = self._compile()
        self._refresh()

    def set_observed(self, rules: tuple[ChaosRule, ...]) -> None:
        """Replace the rules derived from observed traffic (evaluated after the configured ones)."""
        self.observed = rules
        self._effective = self._compile()

    def restart_scenarios(self) -> None:
        """Start the scenario timeline over from now."""
        self.scenarios.restart()

    async def changed(self) -> None:
        """Tell the fleet (if any) that the configuration changed here."""
        if self.on_change is not None:
            await self.on_change()

    def snapshot(self) -> dict[str, Any]:
        """The configuration another replica needs to behave like this one (JSON-ready).

        Counters, breakers and random draws stay per replica; the scenario clock is shared
        as its wall-clock start.
        """
        return {
            "enabled": self.enabled,
            "probability": self.probability,
            "preset": self.preset,
            "rules": [r.model_dump(mode="json") for r in self.rules],
            "scenarios": [s.model_dump(mode="json") for s in self.scenarios.specs],
            "repeat_s": self.scenarios.repeat_s,
            "scenario_started": self.scenarios.started_wall(),
            "one_shots": self.one_shots.snapshot(),
        }

    def restore(self, data: Mapping[str, Any]) -> None:
        """Take the configuration from a snapshot (validated like the admin API's input)."""
        self.configure(
            enabled=bool(data["enabled"]),
            probability=data["probability"],
            rules=tuple(ChaosRule.model_validate(r) for r in data["rules"]),
            preset=data["preset"],
            scenarios=_SCENARIOS.validate_python(data["scenarios"]),
            repeat_s=data["repeat_s"],
        )
        self.scenarios.start_from_wall(float(data["scenario_started"]))
        self.one_shots.restore(list(data.get("one_shots", ())))

    @property
    def effective_rules(self) -> tuple[ChaosRule, ...]:
        """The rules evaluated when chaos is on (user rules, preset, or the default mix)."""
        return self._effective

    # -- decisions ----------------------------------------------------------------------------

    def decide(self, facts: RequestFacts, forced: tuple[ChaosRule, ...] | None = None) -> Verdict:
        """The verdict for one request; ``forced`` rules (the control header) replace the rest."""
        if forced is not None:
            verdict = self._evaluate(forced, facts, 1.0, 1.0, check_filters=False, rng=self._forced_rng)
        elif not self.enabled:
            return NO_VERDICT
        else:
            scale = 1.0
            if self.scenarios.active:
                effect = self.scenarios.effect()
                scale = effect.latency_scale
                for error_type, probability in effect.errors:
                    if self._rng.random() < probability:
                        return self._count(self._error_verdict(error_type, None, scale, "scenario"))
            verdict = self._evaluate(self._effective, facts, self.factor, scale, check_filters=True, rng=self._rng)
        return self._count(verdict)

    def matcher(self, facts: RequestFacts) -> Callable[[ChaosRule], bool]:
        """Whether a rule's filters accept the request of ``facts`` (for one-shot faults)."""
        return lambda rule: rule_matches(rule, facts, self._resolve)

    def _count(self, verdict: Verdict) -> Verdict:
        self.decisions += 1
        if verdict.disturbs:
            self.injections[verdict.kind] += 1
        return verdict

    @property
    def factor(self) -> float:
        """The global probability in force: as set, else 1 (0.1 when the default mix applies)."""
        if self.probability is not None:
            return self.probability
        # Identity, not ==: comparing pydantic models field by field costs microseconds.
        default_mix_only = len(self._effective) == 1 and self._effective[0] is DEFAULT_MIX
        return DEFAULT_MIX_PROBABILITY if default_mix_only else 1.0

    def _evaluate(
        self,
        rules: Sequence[ChaosRule],
        facts: RequestFacts,
        factor: float,
        scale: float,
        *,
        check_filters: bool,
        rng: random.Random,
    ) -> Verdict:
        delay = 0.0
        for rule in rules:
            if check_filters and not rule_matches(rule, facts, self._resolve):
                continue
            if rng.random() >= rule.probability * factor:
                continue
            scale *= rule.latency_multiplier
            delay += rule.delay_ms / 1000.0
            error_type: str | None = rule.error_type
            if rule.error_mix:
                error_type = self._pick(rule.error_mix, rng)
            if error_type is not None:
                return self._error_verdict(error_type, rule, scale, rule.name or None, delay)
            if rule.stream_fault is not None or rule.misbehave is not None:
                return self._fault_verdict(rule, scale, delay)
        if delay == 0 and scale == 1.0:
            return NO_VERDICT
        return Verdict(delay_s=delay, latency_scale=scale)

    def _pick(self, mix: Mapping[Any, float], rng: random.Random) -> str:
        """A weighted choice in the mix's own (configured) order, so seeds replay."""
        point = rng.random() * sum(mix.values())
        for error_type, weight in mix.items():
            point -= weight
            if point < 0:
                return str(error_type)
        return str(next(reversed(list(mix))))

    def _error_verdict(
        self, error_type: str, rule: ChaosRule | None, scale: float, name: str | None, delay: float = 0.0
    ) -> Verdict:
        if error_type == "hang":
            return Verdict(hang=True, delay_s=delay, rule=name, error_type=error_type)
        if error_type == "timeout" and (rule is None or rule.delay_ms == 0):
            delay += DEFAULT_TIMEOUT_DELAY_S
        error = chaos_error(
            error_type,
            message=rule.message if rule else None,
            status=rule.status_code if rule else None,
            retry_after_s=rule.retry_after_s if rule else None,
        )
        return Verdict(error=error, delay_s=delay, latency_scale=scale, rule=name, error_type=error_type)

    def _fault_verdict(self, rule: ChaosRule, scale: float, delay: float) -> Verdict:
        """A stream fault and/or a model misbehaviour (a rule may give both)."""
        spec = rule.stream_fault
        misbehave = Misbehaviour(rule.misbehave) if rule.misbehave is not None else None
        if spec is None:
            return Verdict(delay_s=delay, latency_scale=scale, rule=rule.name or None, misbehave=misbehave)
        duration = spec.duration_ms / 1000.0
        kind = FaultKind(spec.type)
        action = FAULT_ACTIONS[kind]
        if action is FaultAction.DELAY_FIRST_BYTE:
            return Verdict(
                delay_s=delay + duration, latency_scale=scale, rule=rule.name or None, fault=None, misbehave=misbehave
            )
        error = None
        if action is FaultAction.ERROR_FRAME:
            error = chaos_error(spec.error_type, message=rule.message, retry_after_s=rule.retry_after_s)
        fault = StreamFault(kind, spec.after_tokens, duration, error)
        return Verdict(delay_s=delay, latency_scale=scale, fault=fault, rule=rule.name or None, misbehave=misbehave)

    # -- circuit breaker and status ----------------------------------------------------------

    def status(self) -> dict[str, object]:
        """Everything the admin API shows: switches, rules in force, scenarios, breakers, counts."""
        return {
            "enabled": self.enabled,
            "probability": self.probability,
            "probability_in_force": self.factor,
            "seeded": self.seeded,
            "preset": self.preset,
            "control_header": self.control_header,
            "rules": [_shown(r) for r in self.rules],
            "effective_rules": [_shown(r) for r in self._effective],
            "scenarios": self.scenarios.status(),
            "circuit_breakers": self.breakers.snapshot() if self.breakers is not None else None,
            "decisions": self.decisions,
            "injections": dict(sorted(self.injections.items())),
        }
