"""A fixed-memory log-bucketed histogram with percentile estimates."""

from __future__ import annotations

import bisect
import math
from typing import Any


def log_buckets(low: float, high: float, per_decade: int) -> list[float]:
    """Upper bucket edges from ``low`` to ``high``, ``per_decade`` per factor of ten."""
    edges = []
    decades = math.log10(high / low)
    for i in range(round(decades * per_decade) + 1):
        edges.append(low * 10 ** (i / per_decade))
    return edges


class Histogram:
    """Counts of non-negative values in log buckets; percentiles are bucket upper edges.

    With 20 buckets per decade an estimate is within about 12 % of the true value.
    """

    __slots__ = ("_counts", "_edges", "count", "max", "total")

    def __init__(self, low: float = 1e-5, high: float = 100.0, per_decade: int = 20) -> None:
        self._edges = log_buckets(low, high, per_decade)
        self._counts = [0] * (len(self._edges) + 1)
        self.count = 0
        self.total = 0.0
        self.max = 0.0

    def observe(self, value: float) -> None:
        """Add one value."""
        self._counts[bisect.bisect_left(self._edges, value)] += 1
        self.count += 1
        self.total += value
        self.max = max(self.max, value)

    def percentile(self, q: float) -> float:
        """The estimated ``q``-quantile (0..1): the upper edge of the bucket holding it."""
        if self.count == 0:
            return 0.0
        rank = q * self.count
        seen = 0
        for i, c in enumerate(self._counts):
            seen += c
            if seen >= rank and c:
                # The bucket's upper edge, but never above the largest value seen.
                return min(self._edges[i], self.max) if i < len(self._edges) else self.max
        return self.max

    def summary(self, scale: float = 1000.0) -> dict[str, float | int]:
        """Count, mean, p50/p90/p99 and max, scaled (default seconds → milliseconds)."""
        mean = self.total / self.count if self.count else 0.0
        return {
            "count": self.count,
            "mean": round(mean * scale, 4),
            "p50": round(self.percentile(0.5) * scale, 4),
            "p90": round(self.percentile(0.9) * scale, 4),
            "p99": round(self.percentile(0.99) * scale, 4),
            "max": round(self.max * scale, 4),
        }

    def to_data(self) -> dict[str, Any]:
        """Plain data for another worker to merge."""
        return {"counts": self._counts, "total": self.total, "count": self.count, "max": self.max}

    def merge_data(self, data: dict[str, Any]) -> None:
        """Add another worker's ``to_data`` (same bucket layout)."""
        counts = data["counts"]
        if len(counts) != len(self._counts):
            return
        self._counts = [a + b for a, b in zip(self._counts, counts, strict=True)]
        self.count += int(data["count"])
        self.total += float(data["total"])
        self.max = max(self.max, float(data["max"]))

    def cumulative(self, every: int, up_to: float) -> list[tuple[float, int]]:
        """Prometheus ``le`` buckets from every ``every``-th edge up to ``up_to`` (cumulative counts).

        The fine buckets stay the recording format; coarser exposition edges are a subset of
        them, so the counts are exact sums with no extra work per observation.
        """
        out = []
        running = 0
        for i, edge in enumerate(self._edges):
            running += self._counts[i]
            if i % every == 0 and edge <= up_to * 1.000001:
                out.append((edge, running))
        return out
