"""The percentile of a sample: one definition for the load generator's reports and the simulate report.

(Histograms estimate quantiles from bucket counts instead: ``telemetry/histogram.py``.)
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(sorted_samples: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (0–100) of already sorted samples, linearly interpolated.

    ``h = (n − 1)·p/100``; the result lies between ``x[⌊h⌋]`` and ``x[⌈h⌉]`` in proportion
    to the fractional part of ``h``. Raises ValueError on an empty sample or p outside 0–100.
    """
    if not sorted_samples:
        raise ValueError("percentile of an empty sample")
    if not 0.0 <= p <= 100.0:
        raise ValueError(f"percentile {p} outside 0-100")
    h = (len(sorted_samples) - 1) * p / 100.0
    low = math.floor(h)
    high = min(low + 1, len(sorted_samples) - 1)
    return sorted_samples[low] + (h - low) * (sorted_samples[high] - sorted_samples[low])
