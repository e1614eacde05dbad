"""Fit a sampled latency profile (this project's ``LatencyProfileSpec``) to a measurement.

TTFT and ITL become log-normals fitted by **quantile matching**, which a few extreme values
cannot drag around the way moments can:

- from samples: μ = ln p50 and σ = (ln p90 − ln p10) / (2 · z₀.₉), z₀.₉ = Φ⁻¹(0.9) ≈ 1.2816;
- from a published table: μ = ln p50 and σ by least squares through the table's other
  quantiles between p5 and p95: σ = Σ zᵢ·(ln xᵢ − μ) / Σ zᵢ², zᵢ = Φ⁻¹(qᵢ).

**Cold starts.** A TTFT sample more than max(k·σ, ln 4) above μ in log space (at least 4× the
median) is a cold start when such samples are at most 25 % of the data; k = max(4, Φ⁻¹(1 −
0.01/n)) for n samples, so a clean log-normal sample shows a false one about 1 % of the time: the profile's TTFT
becomes a mixture of the body (refitted without them) and a cold component of that weight,
fitted the same way (σ = 0.5 when fewer than 3 cold samples exist). From a table, a published
p99 more than 3× what the body predicts is modelled as a 1 % cold component centred between
the p99 and the maximum (the table cannot say more). A cold start the document states (the
seed's ``cold_start.probability``) is used as given.

**Prefill.** When requests of different prompt lengths are listed, TTFT = a + b·prompt is
fitted by least squares on the warm requests; b ≥ 0 becomes ``prefill_ms_per_token`` and the
TTFT distribution holds TTFT − b·prompt, as the built-in derived profiles do.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from statistics import NormalDist

from llm_simulator.adapters.latency.measurement import Measurement, MeasurementError, Metric
from llm_simulator.adapters.latency.tables import derived_tpot_ms
from llm_simulator.config.distributions import (
    DistributionSpec,
    LatencyProfileSpec,
    LogNormalSpec,
    MixtureComponent,
    MixtureSpec,
)

_NORMAL = NormalDist()
Z90 = _NORMAL.inv_cdf(0.9)
Z99 = _NORMAL.inv_cdf(0.99)
# Cold-start detection: at least this many σ, and at least this factor, above the median.
COLD_SIGMAS = 4.0
COLD_MIN_FACTOR = 4.0
COLD_MAX_SHARE = 0.25
FALSE_COLD_PROBABILITY = 0.01
# A published p99 this many times above the body's prediction marks a tail of cold starts.
TABLE_TAIL_FACTOR = 3.0
TABLE_TAIL_WEIGHT = 0.01
# σ of a cold component known from fewer than 3 samples (or from a table's extremes).
DEFAULT_COLD_SIGMA = 0.5
# Prefill regression needs this many requests spanning at least this prompt-length ratio.
PREFILL_MIN_REQUESTS = 10
PREFILL_MIN_SPREAD = 1.5
# No latency is fitted below this (a log-normal needs a positive median).
FLOOR_MS = 0.01


class FitError(MeasurementError):
    """The measurement does not hold what a profile needs."""


@dataclass(frozen=True)
class LogNormal:
    """A log-normal by the (μ, σ) of its logarithm; values in ms."""

    mu: float
    sigma: float

    @property
    def median(self) -> float:
        """e^μ."""
        return math.exp(self.mu)

    def quantile(self, q: float) -> float:
        """e^(μ + σ·Φ⁻¹(q))."""
        return math.exp(self.mu + self.sigma * _NORMAL.inv_cdf(q))

    def spec(self) -> LogNormalSpec:
        """The spec in this project's terms: by p50/p99 (4 significant digits)."""
        return LogNormalSpec(p50_ms=_round(self.median), p99_ms=_round(self.quantile(0.99)))


def _round(value: float) -> float:
    return float(f"{max(value, FLOOR_MS):.4g}")


def fit_samples(samples: Sequence[float]) -> LogNormal:
    """Quantile matching on sorted samples: μ = ln p50, σ = (ln p90 − ln p10) / (2·z₀.₉)."""
    metric = Metric.from_samples(samples)
    if metric is None:
        raise FitError("no samples to fit")
    ordered = metric.samples

    def at(q: float) -> float:
        h = (len(ordered) - 1) * q
        low = math.floor(h)
        high = min(low + 1, len(ordered) - 1)
        return max(ordered[low] + (h - low) * (ordered[high] - ordered[low]), FLOOR_MS)

    mu = math.log(at(0.5))
    sigma = (math.log(at(0.9)) - math.log(at(0.1))) / (2 * Z90)
    return LogNormal(mu, max(sigma, 0.0))


def fit_table(metric: Metric) -> LogNormal:
    """Least squares through a published table's quantiles (p5…p95) around μ = ln p50.

    Falls back to the p99, then to mean and median (mean = e^(μ+σ²/2)), then to mean and
    standard deviation (moments) when the table has no other quantile.
    """
    table = {q: max(x, FLOOR_MS) for q, x in metric.quantiles.items() if x > 0}
    mean = metric.mean
    if 0.5 in table:
        mu = math.log(table[0.5])
    elif mean and metric.std is not None:
        sigma2 = math.log1p((metric.std / mean) ** 2)
        return LogNormal(math.log(mean) - sigma2 / 2, math.sqrt(sigma2))
    elif mean:
        return LogNormal(math.log(mean), 0.0)
    else:
        raise FitError("a table without a median or a mean")
    points = [(_NORMAL.inv_cdf(q), math.log(x) - mu) for q, x in table.items() if 0.05 <= q <= 0.95 and q != 0.5]
    if points:
        sigma = sum(z * d for z, d in points) / sum(z * z for z, _ in points)
    elif 0.99 in table:
        sigma = (math.log(table[0.99]) - mu) / Z99
    elif mean and mean > table[0.5]:
        sigma = math.sqrt(2 * math.log(mean / table[0.5]))
    elif mean and metric.std:
        sigma = math.sqrt(math.log1p((metric.std / mean) ** 2))
    else:
        sigma = 0.0
    return LogNormal(mu, max(sigma, 0.0))


def fit_metric(metric: Metric) -> LogNormal:
    """Samples when the metric has them, else its table."""
    return fit_samples(metric.samples) if metric.samples else fit_table(metric)


@dataclass(frozen=True)
class ColdFit:
    """A cold-start component: its weight and distribution, and how it was found."""

    weight: float
    dist: LogNormal
    evidence: str


def split_cold(samples: Sequence[float]) -> tuple[list[float], list[float]]:
    """(warm, cold) samples: cold ones lie more than max(k·σ, ln 4) above μ in log space (module docstring)."""
    body = fit_samples(samples)
    # Far enough that a clean log-normal sample of this size crosses it with probability ~1 %.
    sigmas = max(COLD_SIGMAS, _NORMAL.inv_cdf(1.0 - FALSE_COLD_PROBABILITY / len(samples)))
    threshold = body.mu + max(sigmas * body.sigma, math.log(COLD_MIN_FACTOR))
    warm = [x for x in samples if x <= 0 or math.log(x) <= threshold]
    cold = [x for x in samples if x > 0 and math.log(x) > threshold]
    if not cold or len(cold) > COLD_MAX_SHARE * len(samples):
        return list(samples), []
    return warm, cold


def _cold_from_samples(cold: Sequence[float], total: int) -> ColdFit:
    if len(cold) >= 3:
        dist = fit_samples(cold)
    else:
        dist = LogNormal(math.fsum(math.log(x) for x in cold) / len(cold), DEFAULT_COLD_SIGMA)
    return ColdFit(len(cold) / total, dist, f"{len(cold)} of {total} requests at ≥ {COLD_MIN_FACTOR:g}× the median")


def _cold_from_table(metric: Metric, body: LogNormal) -> ColdFit | None:
    p99 = metric.quantiles.get(0.99)
    if p99 is None or p99 <= TABLE_TAIL_FACTOR * body.quantile(0.99):
        return None
    top = metric.max if metric.max is not None and metric.max > p99 else p99
    centre = math.sqrt(p99 * top)
    return ColdFit(
        TABLE_TAIL_WEIGHT,
        LogNormal(math.log(centre), DEFAULT_COLD_SIGMA),
        f"published p99 {p99:.4g} ms is over {TABLE_TAIL_FACTOR:g}× the body's {body.quantile(0.99):.4g} ms",
    )


@dataclass(frozen=True)
class FitOptions:
    """What the user fixed: the prefill cost (else fitted when the data allows), cold starts."""

    prefill_ms_per_token: float | None = None
    cold_start: bool = True


@dataclass
class FitResult:
    """The fitted profile and what it rests on (for the report and the YAML comments)."""

    spec: LatencyProfileSpec
    ttft: LogNormal
    itl: LogNormal
    cold: ColdFit | None
    prefill_ms_per_token: float
    notes: list[str] = field(default_factory=list)


def _prefill_slope(pairs: Sequence[tuple[int, float]]) -> float | None:
    """Least-squares slope of TTFT on prompt tokens; None when the prompts hardly vary."""
    if len(pairs) < PREFILL_MIN_REQUESTS:
        return None
    prompts = [p for p, _ in pairs]
    if min(prompts) <= 0 or max(prompts) < PREFILL_MIN_SPREAD * min(prompts):
        return None
    mx = math.fsum(prompts) / len(prompts)
    my = math.fsum(t for _, t in pairs) / len(pairs)
    sxx = math.fsum((p - mx) ** 2 for p in prompts)
    return math.fsum((p - mx) * (t - my) for p, t in pairs) / sxx


def _ttft_samples(m: Measurement, options: FitOptions, notes: list[str]) -> tuple[list[float], float]:
    """The TTFT samples with the prefill part removed, and the prefill cost per token."""
    assert m.ttft is not None
    samples = list(m.ttft.samples)
    pairs = m.prompt_ttft if len(m.prompt_ttft) == len(samples) else ()
    prefill = options.prefill_ms_per_token
    if prefill is None and pairs:
        warm, _ = split_cold([t for _, t in pairs]) if options.cold_start else (samples, [])
        warm_set = set(warm)
        slope = _prefill_slope([(p, t) for p, t in pairs if t in warm_set])
        if slope is not None and slope > 0:
            prefill = slope
            notes.append(f"prefill: TTFT grows {slope:.4g} ms per prompt token (least squares)")
        elif slope is not None:
            notes.append("prefill: TTFT does not grow with the prompt in this data; 0 ms per token")
    if prefill is None:
        prefill = 0.0
        if m.mean_prompt_tokens:
            notes.append(
                f"prefill: prompts hardly vary (mean {m.mean_prompt_tokens:.0f} tokens): the TTFT includes their "
                "prefill and does not change with prompt length (set --prefill-ms-per-token to split it)"
            )
    if prefill and pairs:
        samples = [max(t - prefill * p, FLOOR_MS) for p, t in pairs]
    elif prefill and m.mean_prompt_tokens:
        samples = [max(t - prefill * m.mean_prompt_tokens, FLOOR_MS) for t in samples]
    return samples, prefill


def _table_minus(metric: Metric, shift: float) -> Metric:
    """A table with ``shift`` ms taken off every quantile and the mean (the prefill part)."""
    if not shift:
        return metric
    return Metric(
        quantiles={q: max(x - shift, FLOOR_MS) for q, x in metric.quantiles.items()},
        mean=None if metric.mean is None else max(metric.mean - shift, FLOOR_MS),
        std=metric.std,
        min=metric.min,
        max=None if metric.max is None else max(metric.max - shift, FLOOR_MS),
        count=metric.count,
    )


def _fit_ttft(m: Measurement, options: FitOptions, notes: list[str]) -> tuple[LogNormal, ColdFit | None, float]:
    if m.ttft is None:
        raise FitError(f"{m.source}: no TTFT in this measurement (a non-streaming run?): cannot fit a profile")
    if m.ttft.samples:
        samples, prefill = _ttft_samples(m, options, notes)
        warm, cold = split_cold(samples) if options.cold_start else (samples, [])
        body = fit_samples(warm)
        cold_fit = _cold_from_samples(cold, len(samples)) if cold else None
        return body, cold_fit, prefill
    prefill = options.prefill_ms_per_token or 0.0
    table = _table_minus(m.ttft, prefill * (m.mean_prompt_tokens or 0.0))
    body = fit_table(table)
    if m.cold_start is not None:
        stated = ColdFit(m.cold_start.probability, fit_metric(m.cold_start.ttft), "stated by the document")
        return body, stated if options.cold_start else None, prefill
    return body, _cold_from_table(table, body) if options.cold_start else None, prefill


def _fit_itl(m: Measurement, notes: list[str]) -> LogNormal:
    if m.itl is not None:
        if m.itl_kind == "request_mean":
            notes.append(
                "ITL: fitted to each request's mean decode time per token (TPOT); the per-token jitter is "
                "not in the data, so the spread is a lower bound"
            )
        return fit_metric(m.itl)
    tpot = derived_tpot_ms(m.e2e.mean if m.e2e else None, m.ttft.mean if m.ttft else None, m.mean_output_tokens)
    if tpot is None:
        raise FitError(
            f"{m.source}: no inter-token latency, and no E2E with output lengths to derive it from: cannot fit ITL"
        )
    notes.append(f"ITL: derived from mean E2E, TTFT and output length ({tpot:.4g} ms per token), no spread")
    return LogNormal(math.log(tpot), 0.0)


def fit_profile(m: Measurement, options: FitOptions | None = None) -> FitResult:
    """The sampled profile that best matches ``m`` (see the module docstring for the method)."""
    options = options or FitOptions()
    notes: list[str] = []
    body, cold, prefill = _fit_ttft(m, options, notes)
    itl = _fit_itl(m, notes)
    ttft_spec: DistributionSpec = body.spec()
    if cold is not None:
        notes.append(f"cold start: {cold.weight:.2%} of requests, median {cold.dist.median:.4g} ms ({cold.evidence})")
        ttft_spec = MixtureSpec(
            components=(
                MixtureComponent(weight=_round(1.0 - cold.weight), dist=body.spec()),
                MixtureComponent(weight=float(f"{cold.weight:.4g}"), dist=cold.dist.spec()),
            )
        )
    spec = LatencyProfileSpec(
        ttft=ttft_spec,
        itl=itl.spec(),
        overhead_ms=0.0,
        prefill_ms_per_token=float(f"{prefill:.4g}"),
        description=f"Fitted from {m.describe()}",
    )
    return FitResult(spec, body, itl, cold, prefill, notes)


def merge(measurements: Sequence[Measurement]) -> Measurement:
    """One measurement from several per-request files of the same endpoint (samples pooled).

    Summary reports cannot be pooled (their quantiles do not add up): give one at a time.
    """
    if len(measurements) == 1:
        return measurements[0]
    tables = [m.source for m in measurements if m.ttft is not None and not m.ttft.samples]
    if tables:
        raise FitError(f"{tables[0]}: a summary report cannot be pooled with other files; fit it on its own")

    def pooled(metrics: Sequence[Metric | None]) -> Metric | None:
        return Metric.from_samples(x for metric in metrics if metric is not None for x in metric.samples)

    kinds = {m.itl_kind for m in measurements if m.itl is not None}
    first = measurements[0]
    return Measurement(
        source=", ".join(m.source for m in measurements),
        format="+".join(sorted({m.format for m in measurements})),
        ttft=pooled([m.ttft for m in measurements]),
        itl=pooled([m.itl for m in measurements]),
        itl_kind="request_mean" if "request_mean" in kinds else "gap",
        e2e=pooled([m.e2e for m in measurements]),
        prompt_ttft=tuple(p for m in measurements for p in m.prompt_ttft)
        if all(len(m.prompt_ttft) == (m.ttft.count if m.ttft else 0) for m in measurements)
        else (),
        mean_prompt_tokens=first.mean_prompt_tokens,
        mean_output_tokens=first.mean_output_tokens,
        errors=sum(m.errors for m in measurements),
    )
