"""The simulator's one histogram: fixed bucket edges, PromQL-style quantiles, mergeable across workers.

Recording is one ``bisect`` and three additions, so finishing a request stays cheap; the
cumulative ``le`` buckets Prometheus wants are built only when ``/metrics`` is scraped. The
edges are chosen per use: the Prometheus sets below for request timings, ``log_edges`` (fine,
logarithmic) for the simulator's own release error. (Token buckets, the rate-limit kind, are
``infra/buckets.py``: a different thing that only shares the word.)
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from typing import Any

# Time to first token: hosted APIs sit at 0.2-2 s, local servers at 10-100 ms, and long
# prompts or overloaded backends reach tens of seconds (vLLM's own edges, plus finer low ones).
TTFT_EDGES = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75,
              1.0, 1.5, 2.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0)  # fmt: skip
# Inter-token latency: 5-40 ms for most models; stalls and brownouts push it to seconds.
ITL_EDGES = (0.001, 0.0025, 0.005, 0.0075, 0.01, 0.0125, 0.015, 0.0175, 0.02, 0.025, 0.03, 0.04, 0.05,
             0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0, 2.5)  # fmt: skip
# Whole requests: milliseconds with latency off, minutes for long reasoning streams.
DURATION_EDGES = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 5.0,
                  7.5, 10.0, 15.0, 20.0, 30.0, 60.0, 120.0, 240.0, 480.0)  # fmt: skip
# The simulator's own timing error and event-loop lag: sub-millisecond when healthy.
PRECISION_EDGES = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)


def log_edges(low: float, high: float, per_decade: int) -> tuple[float, ...]:
    """Upper bucket edges from ``low`` to ``high``, ``per_decade`` per factor of ten.

    With 20 per decade neighbouring edges are 12 % apart, so a quantile estimate is within
    about that of the true value.
    """
    decades = math.log10(high / low)
    return tuple(low * 10 ** (i / per_decade) for i in range(round(decades * per_decade) + 1))


# The release error of tokens (``/admin/stats`` emit_error): 10 µs to 100 s, 20 per decade.
FINE_EDGES = log_edges(1e-5, 100.0, 20)


class Histogram:
    """Counts per bucket (the last one is +Inf), the sum, the count and the largest value."""

    __slots__ = ("count", "counts", "edges", "max", "sum")

    def __init__(self, edges: Sequence[float]) -> None:
        self.edges = tuple(edges)
        self.counts = [0] * (len(self.edges) + 1)
        self.count = 0
        self.sum = 0.0
        self.max = 0.0

    def observe(self, value: float) -> None:
        """Add one value (seconds)."""
        self.counts[bisect.bisect_left(self.edges, value)] += 1
        self.count += 1
        self.sum += value
        self.max = max(self.max, value)

    def observe_many(self, values: Sequence[float]) -> None:
        """Add many values (a stream's inter-token gaps) in one call."""
        if not values:
            return
        edges = self.edges
        counts = self.counts
        find = bisect.bisect_left
        for value in values:
            counts[find(edges, value)] += 1
        self.count += len(values)
        self.sum += sum(values)
        top = max(values)  # not max(self.max, *values): that copies the values into a tuple first
        self.max = max(self.max, top)

    def cumulative(self) -> list[tuple[str, int]]:
        """``(le, count)`` pairs as Prometheus exposes them, ending with ``+Inf``."""
        out = []
        running = 0
        for edge, count in zip(self.edges, self.counts, strict=False):
            running += count
            out.append((_le(edge), running))
        out.append(("+Inf", self.count))
        return out

    def cumulative_every(self, every: int, up_to: float) -> list[tuple[float, int]]:
        """``(edge, cumulative count)`` at every ``every``-th edge up to ``up_to`` (no +Inf).

        For exposing fine edges coarser: the exposed edges are a subset of the recorded ones,
        so their counts are exact sums with no extra work per observation.
        """
        out = []
        running = 0
        for i, edge in enumerate(self.edges):
            running += self.counts[i]
            if i % every == 0 and edge <= up_to * 1.000001:
                out.append((edge, running))
        return out

    def quantile(self, q: float) -> float:
        """The ``q``-quantile (0..1), interpolated linearly inside its bucket.

        The same estimate as PromQL's ``histogram_quantile``: with the rank r = q × count
        falling in bucket (lo, hi] that holds c values of which ``below`` precede it, the
        estimate is lo + (hi - lo) × (r - below) / c. The +Inf bucket answers the largest
        value seen; no estimate exceeds it.
        """
        if self.count == 0:
            return 0.0
        rank = q * self.count
        below = 0
        for i, c in enumerate(self.counts):
            if c and below + c >= rank:
                if i >= len(self.edges):
                    return self.max
                low = self.edges[i - 1] if i else 0.0
                high = self.edges[i]
                return min(self.max, low + (high - low) * (rank - below) / c)
            below += c
        return self.max

    def summary_ms(self, digits: int = 3) -> dict[str, float | int]:
        """Count, mean, p50/p90/p99 and max in milliseconds (for ``/admin/stats``)."""
        mean = self.sum / self.count if self.count else 0.0
        return {
            "count": self.count,
            "mean": round(mean * 1000, digits),
            "p50": round(self.quantile(0.5) * 1000, digits),
            "p90": round(self.quantile(0.9) * 1000, digits),
            "p99": round(self.quantile(0.99) * 1000, digits),
            "max": round(self.max * 1000, digits),
        }

    def to_data(self) -> dict[str, Any]:
        """Plain data for another worker to merge."""
        return {"counts": self.counts, "sum": self.sum, "count": self.count, "max": self.max}

    def merge_data(self, data: dict[str, Any]) -> None:
        """Add another worker's ``to_data`` (same edges)."""
        counts = data["counts"]
        if len(counts) != len(self.counts):
            return  # written by a different version: skip rather than misattribute
        self.counts = [a + b for a, b in zip(self.counts, counts, strict=True)]
        self.count += int(data["count"])
        self.sum += float(data["sum"])
        self.max = max(self.max, float(data["max"]))


def _le(edge: float) -> str:
    """An edge as Prometheus clients print it (``0.1``, ``1.0``, ``2.5``)."""
    return repr(float(edge))
