"""What the observed LLM calls say, per (provider, model), and the behaviour that reproduces it.

``summarise`` groups LLM spans (``adapters/otlp.py``) and reports, per group: calls, errors,
the error rate and its mix of chaos error types, TTFT/E2E and token-length quantiles.
``behaviour`` turns one summary into what the simulator serves for that model:

- a **latency profile**, fitted by the latency lens (``fit_profile``) on the group's successful
  calls, as their ``Measurement`` (``adapters/latency/recorded.py``);
- an **output-length distribution**: an empirical distribution of the observed output token
  counts (at most ``MAX_LENGTH_VALUES`` values, taken at evenly spaced quantiles);
- a **chaos rule**: probability = the observed error rate, ``error_mix`` = the observed errors
  mapped onto the simulator's error types (``error_type_of``).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from llm_simulator.adapters.latency.fit import fit_profile
from llm_simulator.adapters.latency.measurement import MeasurementError
from llm_simulator.adapters.latency.recorded import read_spans_measurements
from llm_simulator.adapters.otlp import LlmSpan
from llm_simulator.config.chaos import ChaosRule
from llm_simulator.config.distributions import EmpiricalSpec, LatencyProfileSpec
from llm_simulator.infra.percentile import percentile

MAX_LENGTH_VALUES = 256
# HTTP statuses as the simulator's chaos error types.
_BY_STATUS = {
    400: "invalid_request",
    401: "authentication",
    403: "permission",
    408: "timeout",
    413: "context_length",
    429: "rate_limit",
    500: "server_error",
    502: "bad_gateway",
    503: "unavailable",
    504: "timeout",
    529: "overloaded",
}
# Exception class names (error.type) the SDKs raise, by a word they contain (checked in order).
_BY_NAME = (
    ("ratelimit", "rate_limit"),
    ("timeout", "timeout"),
    ("overload", "overloaded"),
    ("unavailable", "unavailable"),
    ("connection", "unavailable"),
    ("authentication", "authentication"),
    ("permission", "permission"),
    ("badrequest", "invalid_request"),
    ("contextlength", "context_length"),
    ("contentfilter", "content_filter"),
    ("internalserver", "server_error"),
)
# Provider names of the GenAI conventions (gen_ai.provider.name / gen_ai.system) → simulator providers.
PROVIDERS = {
    "openai": "openai",
    "azure.ai.openai": "openai",
    "az.ai.openai": "openai",
    "anthropic": "anthropic",
    "aws.bedrock": "bedrock",
    "gcp.gemini": "gemini",
    "gcp.vertex_ai": "gemini",
    "gcp.gen_ai": "gemini",
    "gemini": "gemini",
    "vertex_ai": "gemini",
    "ollama": "ollama",
}


def error_type_of(span: LlmSpan) -> str:
    """The chaos error type a failed call maps to: its HTTP status, else its exception's name, else server_error."""
    status = span.http_status
    text = (span.error or "").strip()
    if status is None and text.isdigit():
        status = int(text)
    if status is not None and status in _BY_STATUS:
        return _BY_STATUS[status]
    folded = text.lower().replace("_", "").replace(" ", "")
    for word, kind in _BY_NAME:
        if word in folded:
            return kind
    return "server_error"


def _quantiles(values: Sequence[float]) -> dict[str, float]:
    ordered = sorted(values)
    if not ordered:
        return {}
    return {f"p{q}": round(percentile(ordered, q), 3) for q in (50, 90, 99)} | {
        "mean": round(math.fsum(ordered) / len(ordered), 3)
    }


@dataclass
class ModelSummary:
    """The observed calls of one (provider, model)."""

    provider: str
    model: str
    spans: list[LlmSpan] = field(default_factory=list)

    @property
    def calls(self) -> int:
        """Every call seen."""
        return len(self.spans)

    @property
    def ok(self) -> list[LlmSpan]:
        """The successful calls."""
        return [s for s in self.spans if s.error is None]

    @property
    def errors(self) -> Counter[str]:
        """Failed calls per chaos error type."""
        return Counter(error_type_of(s) for s in self.spans if s.error is not None)

    @property
    def error_rate(self) -> float:
        """Failed calls ÷ calls."""
        return sum(self.errors.values()) / self.calls if self.calls else 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: counts, error rate and mix, latency and token quantiles (ms, tokens)."""
        ok = self.ok
        return {
            "provider": self.provider,
            "model": self.model,
            "calls": self.calls,
            "errors": sum(self.errors.values()),
            "error_rate": round(self.error_rate, 5),
            "error_mix": dict(self.errors),
            "ttft_ms": _quantiles([s.ttft_ms for s in ok if s.ttft_ms is not None]),
            "e2e_ms": _quantiles([s.duration_ms for s in ok]),
            "input_tokens": _quantiles([float(s.input_tokens) for s in ok if s.input_tokens is not None]),
            "output_tokens": _quantiles([float(s.output_tokens) for s in ok if s.output_tokens is not None]),
        }


def summarise(spans: Sequence[LlmSpan]) -> list[ModelSummary]:
    """One summary per (provider, model), most calls first."""
    groups: dict[tuple[str, str], ModelSummary] = defaultdict(lambda: ModelSummary("", ""))
    for span in spans:
        key = (span.provider, span.model)
        if key not in groups:
            groups[key] = ModelSummary(*key)
        groups[key].spans.append(span)
    return sorted(groups.values(), key=lambda s: (-s.calls, s.provider, s.model))


@dataclass(frozen=True)
class Behaviour:
    """What one model is served with: any of a profile, an output-length distribution, a chaos rule."""

    profile: LatencyProfileSpec | None
    output_tokens: EmpiricalSpec | None
    rule: ChaosRule | None
    notes: tuple[str, ...] = ()


def _lengths(values: Sequence[int]) -> EmpiricalSpec | None:
    ordered = sorted(v for v in values if v > 0)
    if not ordered:
        return None
    if len(ordered) > MAX_LENGTH_VALUES:
        n = MAX_LENGTH_VALUES
        ordered = [ordered[round(i * (len(ordered) - 1) / (n - 1))] for i in range(n)]
    return EmpiricalSpec(values_ms=tuple(float(v) for v in ordered))


def behaviour(summary: ModelSummary, *, latency: bool = True, lengths: bool = True, errors: bool = True) -> Behaviour:
    """The behaviour reproducing ``summary`` (see the module doc); parts that cannot be derived are None."""
    notes: list[str] = []
    profile = None
    ok = summary.ok
    if latency and ok:
        try:
            (measurement,) = read_spans_measurements(ok, "observed")
            if measurement.ttft is None:
                notes.append("no time-to-first-token on the spans: latency profile not derived")
            else:
                profile = fit_profile(measurement).spec
        except MeasurementError as exc:
            notes.append(f"latency profile not derived: {exc}")
    output = _lengths([s.output_tokens for s in ok if s.output_tokens is not None]) if lengths else None
    rule = None
    mix = summary.errors
    if errors and mix:
        rule = ChaosRule(
            name=f"observed:{summary.model}",
            models=(summary.model,),
            probability=min(1.0, summary.error_rate),
            error_mix={kind: float(count) for kind, count in mix.items()},  # type: ignore[misc]
        )
    return Behaviour(profile, output, rule, tuple(notes))
