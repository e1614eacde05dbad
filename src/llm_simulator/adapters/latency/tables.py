"""Summary tables as the benchmark tools publish them, turned into ``Metric`` objects.

Each tool names its statistics its own way: inference-perf ``median``/``p0.1``/``p99.9`` in
seconds, aiperf ``avg``/``p50`` with a ``unit``, guidellm ``mean``/``median`` plus
``percentiles.p001…p999`` (``p01`` is the 1st percentile, ``p001`` the 0.1th), this
project's benchmark ``mean``/``p50`` in ms, the seed's profile document ``min``/``max``/
``mean``/``std``/``p50``/``p95``/``p99``. ``table_metric`` reads all of them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from llm_simulator.adapters.latency.measurement import Metric

# A plain percentile key: p50, p99, p99.9, p0.1 (the number is the percentile itself).
_PERCENTILE_KEY = re.compile(r"^p(\d+(?:\.\d+)?)$")
# guidellm spells 0.1 %, 1 %, 5 % and 99.9 % with leading zeros instead of a dot.
GUIDELLM_PERCENTILES: Mapping[str, float] = {
    "p001": 0.001,
    "p01": 0.01,
    "p05": 0.05,
    "p10": 0.10,
    "p25": 0.25,
    "p50": 0.50,
    "p75": 0.75,
    "p90": 0.90,
    "p95": 0.95,
    "p99": 0.99,
    "p999": 0.999,
}
# Units a tool may state, as a factor to milliseconds.
UNIT_TO_MS: Mapping[str, float] = {
    "ns": 1e-6,
    "us": 1e-3,
    "µs": 1e-3,
    "ms": 1.0,
    "s": 1000.0,
    "sec": 1000.0,
    "seconds": 1000.0,
}


def number(value: Any) -> float | None:
    """``value`` as a finite float (bools and non-numbers: None)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    result = float(value)
    return result if math.isfinite(result) else None


def quantile_of_key(key: str) -> float | None:
    """The fraction a plain statistics key names (``p99.9`` → 0.999, ``median`` → 0.5)."""
    if key == "median":
        return 0.5
    match = _PERCENTILE_KEY.match(key)
    if match is None:
        return None
    fraction = round(float(match.group(1)) / 100.0, 9)  # 99.9 / 100 is 0.9990000000000001
    return fraction if 0.0 < fraction < 1.0 else None


def table_metric(
    stats: Mapping[str, Any], scale: float = 1.0, percentiles: Mapping[str, float] | None = None
) -> Metric | None:
    """A metric from one summary table, every value times ``scale`` (to ms).

    ``percentiles`` names the keys of a nested ``percentiles`` mapping (guidellm); plain
    ``pNN`` keys and ``median`` are read everywhere. None when the table holds no quantile
    and no mean (nothing to fit).
    """
    quantiles: dict[float, float] = {}
    for key, value in stats.items():
        fraction = quantile_of_key(key)
        amount = number(value)
        if fraction is not None and amount is not None:
            quantiles[fraction] = amount * scale
    nested = stats.get("percentiles")
    if isinstance(nested, Mapping):
        names = percentiles if percentiles is not None else {}
        for key, value in nested.items():
            fraction = names.get(key, quantile_of_key(key))
            amount = number(value)
            if fraction is not None and amount is not None:
                quantiles[fraction] = amount * scale

    def pick(*keys: str) -> float | None:
        for key in keys:
            amount = number(stats.get(key))
            if amount is not None:
                return amount * scale
        return None

    mean = pick("mean", "avg", "average")
    if not quantiles and mean is None:
        return None
    count = number(stats.get("count"))
    return Metric(
        quantiles=dict(sorted(quantiles.items())),
        mean=mean,
        std=pick("std", "std_dev", "stddev", "stdev"),
        min=pick("min"),
        max=pick("max"),
        count=int(count) if count is not None else None,
    )


def rescaled(metric: Metric, target_mean: float) -> Metric:
    """``metric`` scaled so that its mean (or median) becomes ``target_mean``.

    For tools whose per-token figure is off by a known factor (llmperf's "ITL" includes the
    TTFT; inference-perf counts SSE events, about two per token): the table keeps its shape
    and takes its centre from the decode time derived from E2E, TTFT and output length.
    """
    centre = metric.mean if metric.mean else metric.median
    if not centre or target_mean <= 0:
        return metric
    return metric.scaled(target_mean / centre)


def derived_tpot_ms(e2e_ms: float | None, ttft_ms: float | None, output_tokens: float | None) -> float | None:
    """Mean decode time per token: ``(E2E − TTFT) / (output tokens − 1)`` (None when undefined)."""
    if e2e_ms is None or ttft_ms is None or output_tokens is None or output_tokens < 2 or e2e_ms <= ttft_ms:
        return None
    return (e2e_ms - ttft_ms) / (output_tokens - 1)
