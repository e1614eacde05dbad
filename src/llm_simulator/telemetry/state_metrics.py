"""``/metrics`` families of the shared state backend (read at scrape time; none in memory).

- ``llm_simulator_state_backend_up{backend}``: 1 while the last operation reached it.
- ``llm_simulator_state_backend_errors_total{backend}``: operations that failed.
- ``llm_simulator_state_backend_fallbacks_total{backend}``: served from local state (fail_open).
- ``llm_simulator_state_backend_refusals_total{backend}``: answered 503 (fail_closed).
- ``llm_simulator_state_backend_transitions_total{backend}``: up → down and back.

Like the engine's families, these are the answering worker's own (with ``--workers N``
each worker has its own connection); a fleet view sums them over replicas.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from llm_simulator.infra.state.guard import Guard

METRIC_NAMES = (
    "llm_simulator_state_backend_up",
    "llm_simulator_state_backend_errors_total",
    "llm_simulator_state_backend_fallbacks_total",
    "llm_simulator_state_backend_refusals_total",
    "llm_simulator_state_backend_transitions_total",
)
"""Every name this collector exports (with the sample suffix of counters)."""


class StateCollector(Collector):
    """Reads the backend's guard at each scrape."""

    def __init__(self, backend: str, guard: Guard | None) -> None:
        self._backend = backend
        self._guard = guard

    def collect(self) -> Iterator[Metric]:
        """Yield the families (none for the memory backend)."""
        guard = self._guard
        if guard is None:
            return
        labels = [self._backend]
        up = GaugeMetricFamily(
            "llm_simulator_state_backend_up", "1 while the state backend answers.", labels=["backend"]
        )
        up.add_metric(labels, 1.0 if guard.up else 0.0)
        yield up
        for name, value, text in (
            ("errors", guard.errors, "State backend operations that failed."),
            ("fallbacks", guard.fallbacks, "Operations served from local state while the backend was down."),
            ("refusals", guard.refusals, "Requests answered 503 while the backend was down (fail_closed)."),
            ("transitions", guard.transitions, "State backend up/down transitions."),
        ):
            family = CounterMetricFamily(f"llm_simulator_state_backend_{name}", text, labels=["backend"])
            family.add_metric(labels, float(value))
            yield family
