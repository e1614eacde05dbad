"""Configuration of chaos engineering: rules, time-based scenarios, presets, circuit breaker.

Everything here is data validated at load; the engine compiles it (``engine/chaos``). The
admin API replaces the rules and scenarios at run time with the same models, so a rule sent
over HTTP is checked exactly like one in a file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from llm_simulator.core import names as core_names
from llm_simulator.core.faults import FAULT_KINDS, MISBEHAVIOURS

ErrorType = Literal[
    "rate_limit",
    "quota_exhausted",
    "overloaded",
    "server_error",
    "bad_gateway",
    "unavailable",
    "timeout",
    "hang",
    "authentication",
    "permission",
    "invalid_request",
    "context_length",
    "content_filter",
]
ERROR_TYPES: tuple[str, ...] = ErrorType.__args__  # type: ignore[attr-defined]

# The fault kinds are core's ``FaultKind``: a literal built from it, so the schema, its
# error messages and the reference list exactly its values (a checker sees a string).
if TYPE_CHECKING:
    FaultType = str
    MisbehaviourType = str
else:
    FaultType = Literal[FAULT_KINDS]
    MisbehaviourType = Literal[MISBEHAVIOURS]
FAULT_TYPES: tuple[str, ...] = FAULT_KINDS

PresetName = Literal["intermittent_timeouts", "rate_limit_stress", "high_latency", "partial_outage", "full_outage"]
PRESET_NAMES: tuple[str, ...] = PresetName.__args__  # type: ignore[attr-defined]

Provider = core_names.Provider


class _Data(BaseModel):
    # No inf/nan: an infinite delay or retry hint would hang a request or break a header.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


# Upper bounds that keep every chaos effect finite and every header printable.
MAX_DELAY_MS = 3_600_000.0  # one hour
MAX_RETRY_AFTER_S = 86_400.0  # one day
MAX_LATENCY_MULTIPLIER = 1000.0
MAX_WINDOW_S = 31_536_000.0  # one year


class StreamFaultSpec(_Data):
    """A failure inside a stream (or, for ``slow_first_byte``/``stall``, a delay in any response)."""

    type: FaultType
    after_tokens: int = Field(default=0, ge=0, description="Tokens sent before the fault strikes.")
    duration_ms: float = Field(
        default=5000.0, ge=0, le=MAX_DELAY_MS, description="Length of a stall or of the first-byte delay."
    )
    error_type: ErrorType = Field(default="overloaded", description="The in-stream error of an error_event fault.")


class ChaosRule(_Data):
    """One ordered rule: filters, a probability, and what happens when it fires.

    A rule fires for a matching request with probability ``probability`` × the global
    ``chaos.probability``; the first rule that fires decides. Its effect is an error
    (``error_type``, or a weighted ``error_mix``), a stream fault, extra latency, or a mix of
    the latter two.
    """

    name: str = ""
    enabled: bool = True
    probability: float = Field(default=1.0, ge=0, le=1)
    # Filters: an empty list matches everything.
    providers: tuple[Provider, ...] = ()
    models: tuple[str, ...] = Field(default=(), description="Exact ids or globs (gpt-5* is a prefix match).")
    endpoints: tuple[str, ...] = Field(
        default=(),
        description=(
            "Endpoint names: chat, completion, embedding, responses, messages, generate, moderation, image, "
            "speech, transcription, translation, converse, invoke; globs allowed."
        ),
    )
    api_keys: tuple[str, ...] = Field(default=(), description="Caller API keys, exact or glob.")
    headers: dict[str, str] = Field(default_factory=dict, description="Header name → required value (glob).")
    # Effects.
    error_type: ErrorType | None = None
    error_mix: dict[ErrorType, float] = Field(default_factory=dict, description="Weighted choice of error types.")
    status_code: int | None = Field(default=None, ge=400, le=599)
    message: str | None = None
    delay_ms: float = Field(
        default=0.0, ge=0, le=MAX_DELAY_MS, description="Added before the response (or before the error)."
    )
    retry_after_s: float | None = Field(
        default=None,
        ge=0,
        le=MAX_RETRY_AFTER_S,
        description="Retry hint of the error (retry-after headers, Gemini RetryInfo).",
    )
    latency_multiplier: float = Field(
        default=1.0, gt=0, le=MAX_LATENCY_MULTIPLIER, description="Scales TTFT and every ITL."
    )
    stream_fault: StreamFaultSpec | None = None
    misbehave: MisbehaviourType | None = Field(
        default=None, description="A model misbehaviour: the response's content is replaced (docs/chaos.md)."
    )

    @model_validator(mode="after")
    def _one_effect(self) -> ChaosRule:
        if self.error_type is not None and self.error_mix:
            raise ValueError("give error_type or error_mix, not both")
        if any(w < 0 for w in self.error_mix.values()) or (self.error_mix and sum(self.error_mix.values()) <= 0):
            raise ValueError("error_mix weights must be non-negative and not all zero")
        has_error = self.error_type is not None or bool(self.error_mix)
        if has_error and self.misbehave is not None:
            raise ValueError("give an error or misbehave, not both")
        quiet = self.delay_ms == 0 and self.latency_multiplier == 1
        if not has_error and self.stream_fault is None and self.misbehave is None and quiet:
            raise ValueError(
                "a rule needs an effect: error_type, error_mix, stream_fault, misbehave, delay_ms or latency_multiplier"
            )
        return self


class _Window(_Data):
    start_s: float = Field(default=0.0, ge=0, le=MAX_WINDOW_S, description="Seconds after the scenario clock starts.")
    duration_s: float = Field(gt=0, le=MAX_WINDOW_S)


class Brownout(_Window):
    """Latency × ``latency_multiplier`` for the window."""

    type: Literal["brownout"]
    latency_multiplier: float = Field(default=3.0, gt=0, le=MAX_LATENCY_MULTIPLIER)


class Outage(_Window):
    """Every matching request fails with ``error_type`` during the window."""

    type: Literal["outage"]
    error_type: ErrorType = "unavailable"


class ErrorBurst(_Window):
    """Requests fail with ``error_type`` at ``probability`` during the window."""

    type: Literal["error_burst"]
    error_type: ErrorType = "server_error"
    probability: float = Field(default=0.5, ge=0, le=1)


class Degradation(_Window):
    """Latency and error rate ramp linearly from normal to the targets over the window, then hold."""

    type: Literal["degradation"]
    latency_multiplier: float = Field(default=4.0, gt=0, le=MAX_LATENCY_MULTIPLIER)
    error_type: ErrorType = "server_error"
    error_probability: float = Field(default=0.2, ge=0, le=1)


class PeriodicOutage(_Data):
    """An outage of ``duration_s`` every ``period_s``, the first at ``start_s``."""

    type: Literal["periodic_outage"]
    start_s: float = Field(default=0.0, ge=0, le=MAX_WINDOW_S)
    period_s: float = Field(gt=0, le=MAX_WINDOW_S)
    duration_s: float = Field(gt=0, le=MAX_WINDOW_S)
    error_type: ErrorType = "unavailable"

    @model_validator(mode="after")
    def _fits(self) -> PeriodicOutage:
        if self.duration_s >= self.period_s:
            raise ValueError("duration_s must be shorter than period_s")
        return self


ScenarioSpec = Annotated[Brownout | Outage | ErrorBurst | Degradation | PeriodicOutage, Field(discriminator="type")]


class CircuitBreakerConfig(_Data):
    """A simulated circuit breaker per model, fed by every request's real outcome."""

    enabled: bool = False
    failure_threshold: int = Field(default=5, ge=1)
    failure_window_s: float = Field(default=60.0, gt=0)
    recovery_timeout_s: float = Field(default=30.0, ge=0)
    success_threshold: int = Field(default=3, ge=1)


class ChaosConfig(_Data):
    """Chaos engineering (off by default; the control header works regardless)."""

    enabled: bool = False
    probability: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Global factor on every rule's probability (default 1; 0.1 for the default mix).",
    )
    seed: int | None = Field(default=None, description="Seed of the failure draws (default: the run seed).")
    preset: PresetName | None = None
    rules: tuple[ChaosRule, ...] = ()
    scenarios: tuple[ScenarioSpec, ...] = ()
    scenario_repeat_s: float | None = Field(
        default=None, gt=0, le=MAX_WINDOW_S, description="Restart the scenario timeline every this many seconds."
    )
    control_header: bool = Field(default=True, description="Honour the per-request x-simulator-chaos header.")
    circuit_breaker: CircuitBreakerConfig = Field(default_factory=CircuitBreakerConfig)
