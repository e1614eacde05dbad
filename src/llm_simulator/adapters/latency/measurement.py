"""What a latency measurement holds once read, whatever tool wrote it.

Every reader in ``formats`` turns its tool's file into ``Measurement`` objects (one per load
point). All times are milliseconds. A metric has per-request (or per-token) samples when the
file lists requests, and otherwise only the summary table the tool published (quantiles,
mean, min, max, ...). The fit and the comparison work from either.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from llm_simulator.infra.percentile import percentile


class MeasurementError(ValueError):
    """A measurement file cannot be read: the message names the file and the problem."""


# The quantiles a summary from samples publishes (and compare reports), as fractions.
SUMMARY_QUANTILES: tuple[float, ...] = (0.5, 0.9, 0.95, 0.99)

ItlKind = Literal["gap", "request_mean"]
"""``gap``: one sample per gap between streamed tokens (what the simulator samples);
``request_mean``: one sample per request, its mean decode time per token (TPOT)."""


@dataclass(frozen=True)
class Metric:
    """One latency metric in milliseconds: sorted samples and/or a published quantile table.

    ``quantiles`` maps a fraction (0.5 for the median) to its value; when there are samples
    it is computed from them (linear interpolation), so callers can always read it.
    """

    samples: tuple[float, ...] = ()
    quantiles: Mapping[float, float] = field(default_factory=dict)
    mean: float | None = None
    std: float | None = None
    min: float | None = None
    max: float | None = None
    count: int | None = None

    @classmethod
    def from_samples(cls, values: Iterable[float]) -> Metric | None:
        """A metric from raw samples (ms); None when there are none."""
        ordered = tuple(sorted(v for v in values if math.isfinite(v) and v >= 0))
        if not ordered:
            return None
        n = len(ordered)
        mean = math.fsum(ordered) / n
        std = math.sqrt(math.fsum((v - mean) ** 2 for v in ordered) / (n - 1)) if n > 1 else 0.0
        table = {q: percentile(ordered, q * 100) for q in SUMMARY_QUANTILES}
        return cls(ordered, table, mean, std, ordered[0], ordered[-1], n)

    @property
    def median(self) -> float | None:
        """The median (p50), when known."""
        return self.quantiles.get(0.5)

    def scaled(self, factor: float) -> Metric:
        """The same metric with every value multiplied by ``factor`` (a unit conversion)."""

        def mul(value: float | None) -> float | None:
            return None if value is None else value * factor

        return Metric(
            tuple(v * factor for v in self.samples),
            {q: v * factor for q, v in self.quantiles.items()},
            mul(self.mean),
            mul(self.std),
            mul(self.min),
            mul(self.max),
            self.count,
        )


@dataclass(frozen=True)
class ColdStart:
    """A cold-start component stated by the file itself: its probability and its TTFT."""

    probability: float
    ttft: Metric


@dataclass(frozen=True)
class Measurement:
    """Measured latency of one load point of one run.

    ``prompt_ttft`` pairs each request's prompt length with its TTFT (when the file gives
    both per request), for the prefill-cost fit. ``load`` holds what the file says about the
    load (``concurrency``, ``rate``), ``throughput`` its throughput figures.
    """

    source: str
    format: str
    ttft: Metric | None = None
    itl: Metric | None = None
    itl_kind: ItlKind = "gap"
    e2e: Metric | None = None
    prompt_ttft: tuple[tuple[int, float], ...] = ()
    mean_prompt_tokens: float | None = None
    mean_output_tokens: float | None = None
    cold_start: ColdStart | None = None
    load: Mapping[str, float] = field(default_factory=dict)
    throughput: Mapping[str, float] = field(default_factory=dict)
    label: str = ""
    errors: int = 0

    @property
    def requests(self) -> int | None:
        """Successful requests behind the TTFT (or E2E) figures, when known."""
        for metric in (self.ttft, self.e2e):
            if metric is not None and metric.count is not None:
                return metric.count
        return None

    def describe(self) -> str:
        """One line: format, source, load point and size."""
        parts = [f"{self.format} {self.source}"]
        if self.label:
            parts.append(self.label)
        if self.load:
            parts.append(", ".join(f"{k} {v:g}" for k, v in sorted(self.load.items())))
        if self.requests is not None:
            parts.append(f"{self.requests} requests")
        return " · ".join(parts)


def mean_or_none(values: Iterable[float]) -> float | None:
    """The mean of ``values``; None for none."""
    items = list(values)
    return math.fsum(items) / len(items) if items else None
