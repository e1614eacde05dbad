"""How far a sampled profile is from a measurement: quantile log-errors and the KS distance.

The profile is sampled as the simulator would serve the measured requests (seeded, so the
report is reproducible): TTFT = overhead + sample + prefill × prompt tokens (the measured mean
prompt length); ITL one sample per token gap, or — when the measurement holds one mean per
request (TPOT) — the mean of (output tokens − 1) samples per request; E2E = TTFT + the gaps.

- **Quantile log-error** at each quantile q the measurement has: ln(sim_q / real_q) (0 is a
  perfect match; ±0.1 is about ±10 %).
- **KS distance**: with per-request samples, the two-sample statistic sup |F_sim − F_real|;
  with a published table only, the largest |F_sim(x_q) − q| over its quantiles.
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from llm_simulator.adapters.latency.measurement import Measurement, Metric
from llm_simulator.config.distributions import LatencyProfileSpec
from llm_simulator.engine.latency.distributions import build_sampler
from llm_simulator.infra.percentile import percentile

SIM_REQUESTS = 20_000
# Bound on ITL draws when simulating per-request means (requests × tokens).
SIM_TOKEN_DRAWS = 2_000_000


@dataclass(frozen=True)
class QuantileError:
    """One quantile: the measured and simulated values (ms) and ln(sim / real)."""

    q: float
    measured: float
    simulated: float

    @property
    def log_error(self) -> float:
        """ln(simulated / measured)."""
        return math.log(max(self.simulated, 1e-9) / max(self.measured, 1e-9))


@dataclass
class MetricComparison:
    """The comparison of one metric (ttft, itl or e2e)."""

    name: str
    quantiles: list[QuantileError]
    ks: float
    ks_kind: str
    measured_count: int | None
    simulated: list[float] = field(repr=False, default_factory=list)

    @property
    def max_abs_log_error(self) -> float:
        """The largest |ln(sim / real)| over the quantiles."""
        return max((abs(e.log_error) for e in self.quantiles), default=0.0)


@dataclass
class Comparison:
    """Every metric's comparison, for one profile against one measurement."""

    profile: str
    measurement: str
    prompt_tokens: float
    output_tokens: float | None
    metrics: list[MetricComparison]
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "profile": self.profile,
            "measurement": self.measurement,
            "prompt_tokens": self.prompt_tokens,
            "output_tokens": self.output_tokens,
            "metrics": {
                m.name: {
                    "ks": round(m.ks, 4),
                    "ks_kind": m.ks_kind,
                    "measured_count": m.measured_count,
                    "max_abs_log_error": round(m.max_abs_log_error, 4),
                    "quantiles": [
                        {
                            "q": e.q,
                            "measured_ms": round(e.measured, 4),
                            "simulated_ms": round(e.simulated, 4),
                            "log_error": round(e.log_error, 4),
                        }
                        for e in m.quantiles
                    ],
                }
                for m in self.metrics
            },
            "notes": self.notes,
        }

    def to_text(self) -> str:
        """A table per metric, for people."""
        lines = [f"profile {self.profile} vs {self.measurement}"]
        lines.append(
            f"(prompt {self.prompt_tokens:.0f} tokens"
            + (f", output {self.output_tokens:.0f} tokens)" if self.output_tokens else ")")
        )
        for m in self.metrics:
            lines.append("")
            lines.append(f"{m.name.upper()}  KS {m.ks:.3f} ({m.ks_kind})  max |log error| {m.max_abs_log_error:.3f}")
            lines.append(f"  {'quantile':>8} {'measured ms':>12} {'simulated ms':>13} {'ln(sim/real)':>13}")
            for e in m.quantiles:
                lines.append(f"  {_qname(e.q):>8} {e.measured:>12.3f} {e.simulated:>13.3f} {e.log_error:>+13.3f}")
        lines.extend(f"note: {note}" for note in self.notes)
        return "\n".join(lines) + "\n"


def _qname(q: float) -> str:
    return "p" + f"{q * 100:g}"


def ks_two_sample(a: Sequence[float], b: Sequence[float]) -> float:
    """Sup |F_a − F_b| over two sorted samples (the two-sample Kolmogorov–Smirnov statistic)."""
    i = j = 0
    best = 0.0
    while i < len(a) and j < len(b):
        x = min(a[i], b[j])
        while i < len(a) and a[i] <= x:
            i += 1
        while j < len(b) and b[j] <= x:
            j += 1
        best = max(best, abs(i / len(a) - j / len(b)))
    return best


def ks_at_quantiles(simulated: Sequence[float], table: dict[float, float]) -> float:
    """Max |F_sim(x_q) − q| over a published table (the CDF at the published quantiles)."""
    n = len(simulated)
    return max((abs(bisect.bisect_right(simulated, x) / n - q) for q, x in table.items()), default=0.0)


def _simulate(
    spec: LatencyProfileSpec, prompt_tokens: float, output_tokens: float | None, itl_per_request: bool, seed: int
) -> dict[str, list[float]]:
    """TTFT, ITL and (with an output length) E2E samples of the profile, sorted."""
    rng = random.Random(seed)
    ttft_of, itl_of = build_sampler(spec.ttft), build_sampler(spec.itl)
    base = spec.overhead_ms + spec.prefill_ms_per_token * prompt_tokens
    gaps = max(round(output_tokens) - 1, 1) if output_tokens else None
    requests = SIM_REQUESTS if gaps is None else max(1000, min(SIM_REQUESTS, SIM_TOKEN_DRAWS // gaps))
    ttft: list[float] = []
    itl: list[float] = []
    e2e: list[float] = []
    for _ in range(requests):
        first = base + ttft_of(rng)
        ttft.append(first)
        if gaps is None:
            itl.append(itl_of(rng))
            continue
        decode = math.fsum(itl_of(rng) for _ in range(gaps))
        e2e.append(first + decode)
        if itl_per_request:
            itl.append(decode / gaps)
        else:
            itl.append(itl_of(rng))
    out = {"ttft": sorted(ttft), "itl": sorted(itl)}
    if e2e:
        out["e2e"] = sorted(e2e)
    return out


def _compare(name: str, measured: Metric, simulated: list[float]) -> MetricComparison:
    table = dict(measured.quantiles)
    wanted = sorted(q for q in table if 0.01 <= q <= 0.999)
    errors = [QuantileError(q, table[q], percentile(simulated, q * 100)) for q in wanted]
    if measured.samples:
        ks, kind = ks_two_sample(simulated, measured.samples), "two-sample"
    else:
        ks, kind = ks_at_quantiles(simulated, table), "at the published quantiles"
    return MetricComparison(name, errors, ks, kind, measured.count, simulated)


def compare(
    name: str,
    spec: LatencyProfileSpec,
    m: Measurement,
    *,
    seed: int = 0,
    prompt_tokens: float | None = None,
) -> Comparison:
    """Compare profile ``name`` (``spec``) with measurement ``m``."""
    prompt = prompt_tokens if prompt_tokens is not None else (m.mean_prompt_tokens or 0.0)
    notes: list[str] = []
    per_request = m.itl_kind == "request_mean" and m.mean_output_tokens is not None
    if m.itl_kind == "request_mean" and m.mean_output_tokens is None:
        notes.append("ITL: the measurement has per-request means but no output length; compared per token")
    simulated = _simulate(spec, prompt, m.mean_output_tokens, per_request, seed)
    metrics: list[MetricComparison] = []
    for metric_name, measured in (("ttft", m.ttft), ("itl", m.itl), ("e2e", m.e2e)):
        if measured is None or metric_name not in simulated:
            continue
        metrics.append(_compare(metric_name, measured, simulated[metric_name]))
    if prompt and not m.mean_prompt_tokens and prompt_tokens is None:
        notes.append("prompt length unknown: the profile's prefill is left out")
    return Comparison(name, m.describe(), prompt, m.mean_output_tokens, metrics, notes)
