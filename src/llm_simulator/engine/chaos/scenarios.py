"""Time-based chaos scenarios: brownouts, outages, error bursts, degradations, periodic outages.

A ``ScenarioTimeline`` starts its own clock at construction (or ``restart``) and, at any
instant, folds every scenario active at that elapsed time into one ``ScenarioEffect``: a
latency scale and the error sources to draw from. Drawing the errors is the caller's job, so
this module stays pure and deterministic.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from llm_simulator.config.chaos import Brownout, Degradation, ErrorBurst, Outage, PeriodicOutage, ScenarioSpec
from llm_simulator.infra.clock import Clock


@dataclass(frozen=True, slots=True)
class ScenarioEffect:
    """What the active scenarios do to a request at one instant.

    ``latency_scale`` multiplies TTFT and every ITL. ``errors`` lists ``(error_type,
    probability)`` for every active error source, in config order; the caller draws each.
    """

    latency_scale: float = 1.0
    errors: tuple[tuple[str, float], ...] = ()


NO_EFFECT = ScenarioEffect()


@dataclass(frozen=True, slots=True)
class _Contribution:
    """One active scenario's share of the effect."""

    latency_scale: float = 1.0
    error: tuple[str, float] | None = None


def _in_window(start_s: float, duration_s: float, e: float) -> bool:
    """Whether elapsed time ``e`` lies in the half-open window ``[start_s, start_s + duration_s)``."""
    return start_s <= e < start_s + duration_s


def _degradation_fraction(spec: Degradation, e: float) -> float:
    """How far the ramp has progressed at elapsed time ``e``: ``f = clamp((e - start_s) / duration_s, 0, 1)``."""
    return min(1.0, max(0.0, (e - spec.start_s) / spec.duration_s))


def _contribution(spec: ScenarioSpec, e: float) -> _Contribution | None:
    """What ``spec`` contributes at elapsed time ``e``, or ``None`` when it is inactive.

    Degradation at ramp fraction ``f`` (see ``_degradation_fraction``) scales latency by
    ``1 + f × (latency_multiplier − 1)`` and fails with probability ``f × error_probability``:
    normal at the start of the window, the full targets at its end, held from then on.
    """
    match spec:
        case Brownout():
            if not _in_window(spec.start_s, spec.duration_s, e):
                return None
            return _Contribution(latency_scale=spec.latency_multiplier)
        case Outage():
            if not _in_window(spec.start_s, spec.duration_s, e):
                return None
            return _Contribution(error=(spec.error_type, 1.0))
        case ErrorBurst():
            if not _in_window(spec.start_s, spec.duration_s, e):
                return None
            return _Contribution(error=(spec.error_type, spec.probability))
        case Degradation():
            # Unlike the others it has no end: after the window it holds at the targets.
            if e < spec.start_s:
                return None
            f = _degradation_fraction(spec, e)
            return _Contribution(
                latency_scale=1.0 + f * (spec.latency_multiplier - 1.0),
                error=(spec.error_type, f * spec.error_probability),
            )
        case PeriodicOutage():
            # Outage k covers [start_s + k × period_s, start_s + k × period_s + duration_s).
            if e < spec.start_s or (e - spec.start_s) % spec.period_s >= spec.duration_s:
                return None
            return _Contribution(error=(spec.error_type, 1.0))


class ScenarioTimeline:
    """The configured scenarios on a clock of their own, optionally repeating every ``repeat_s``."""

    def __init__(self, specs: Sequence[ScenarioSpec], clock: Clock, repeat_s: float | None = None) -> None:
        if repeat_s is not None and repeat_s <= 0:
            raise ValueError("repeat_s must be positive")
        self._specs: tuple[ScenarioSpec, ...] = tuple(specs)
        self._clock = clock
        self._repeat_s = repeat_s
        self._t0 = clock.now()

    @property
    def active(self) -> bool:
        """Whether there are any scenarios at all (active or not right now)."""
        return bool(self._specs)

    @property
    def specs(self) -> tuple[ScenarioSpec, ...]:
        """The scenarios, in configured order."""
        return self._specs

    @property
    def repeat_s(self) -> float | None:
        """The repeat period, if the timeline repeats."""
        return self._repeat_s

    def restart(self) -> None:
        """Start the timeline over: elapsed time is 0 now."""
        self._t0 = self._clock.now()

    def started_wall(self) -> float:
        """The wall-clock (Unix) time the timeline started: how replicas agree on its clock."""
        return self._clock.wall() - (self._clock.now() - self._t0)

    def start_from_wall(self, started: float) -> None:
        """Run the timeline from a wall-clock start another replica published."""
        self._t0 = self._clock.now() - (self._clock.wall() - started)

    def elapsed(self) -> float:
        """Seconds since the timeline started, modulo ``repeat_s`` when it repeats."""
        e = self._clock.now() - self._t0
        return e if self._repeat_s is None else e % self._repeat_s

    def effect(self) -> ScenarioEffect:
        """The combined effect of the scenarios active now.

        Latency scales multiply (two overlapping brownouts ×2 and ×3 give ×6); error sources
        accumulate in config order. ``NO_EFFECT`` itself when nothing is active, so callers can
        test identity on the hot path.
        """
        if not self._specs:
            return NO_EFFECT
        e = self.elapsed()
        scale = 1.0
        errors: list[tuple[str, float]] = []
        any_active = False
        for spec in self._specs:
            part = _contribution(spec, e)
            if part is None:
                continue
            any_active = True
            scale *= part.latency_scale
            if part.error is not None:
                errors.append(part.error)
        if not any_active:
            return NO_EFFECT
        return ScenarioEffect(scale, tuple(errors))

    def status(self) -> dict[str, object]:
        """The timeline for the admin API (JSON-serialisable).

        ``elapsed_s``, ``repeat_s`` and ``scenarios``: per scenario its ``index`` in the config,
        ``type`` and ``active``; a degradation adds ``progress`` (its ramp fraction, 0–1), a
        periodic outage ``next_outage_in_s`` (see ``_next_outage_in``).
        """
        e = self.elapsed()
        scenarios: list[dict[str, object]] = []
        for index, spec in enumerate(self._specs):
            entry: dict[str, object] = {"index": index, "type": spec.type, "active": _contribution(spec, e) is not None}
            if isinstance(spec, Degradation):
                entry["progress"] = _degradation_fraction(spec, e)
            elif isinstance(spec, PeriodicOutage):
                entry["next_outage_in_s"] = self._next_outage_in(spec, e)
            scenarios.append(entry)
        return {"elapsed_s": e, "repeat_s": self._repeat_s, "scenarios": scenarios}

    def _next_outage_in(self, spec: PeriodicOutage, e: float) -> float | None:
        """Seconds until the next outage of ``spec`` begins (after the current one, if in one).

        Outages begin at ``start_s + k × period_s``; the next is the first such time after
        ``e``. When the timeline repeats and that time falls past the end of the cycle, the
        next outage is the first one of the following cycle, at ``start_s`` into it — or
        never (``None``) if ``start_s`` lies beyond the cycle.
        """
        if e < spec.start_s:
            until = spec.start_s - e
        else:
            k = math.floor((e - spec.start_s) / spec.period_s) + 1
            until = spec.start_s + k * spec.period_s - e
        if self._repeat_s is not None and e + until >= self._repeat_s:
            if spec.start_s >= self._repeat_s:
                return None
            until = self._repeat_s - e + spec.start_s
        return until
