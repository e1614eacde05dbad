"""``/metrics`` families of the adapters and of the infra they share (read at scrape time).

- ``llm_simulator_adapter_up{adapter,upstream}``: 1 while the upstream's last load succeeded,
  0 while it fails (older data or the built-in default serves).
- ``llm_simulator_adapter_loads_total{adapter,upstream,outcome}``: loads by outcome, ``ok``,
  ``failed`` or ``refused`` (circuit open: no call made).
- ``llm_simulator_adapter_data_age_seconds{adapter,upstream}``: since the last good load.
- ``llm_simulator_infra_cache_{hits,misses,evictions,expirations}_total`` and
  ``llm_simulator_infra_cache_entries``: the shared TTL cache.
- ``llm_simulator_infra_retries_total``, ``llm_simulator_infra_retry_budget_remaining``.
- ``llm_simulator_infra_breaker_state{upstream,state}`` (1 for the current state) and
  ``llm_simulator_infra_breaker_transitions_total{upstream,state}``.
- whatever an adapter adds through its ``collect_metrics()`` (the observatory's
  ``llm_simulator_observatory_*``).

Nothing is exported while no adapter is enabled.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from llm_simulator.adapters.registry import AdapterRegistry
from llm_simulator.infra.circuit_breaker import BreakerState

PREFIX = "llm_simulator_"

METRIC_NAMES = (
    "llm_simulator_adapter_up",
    "llm_simulator_adapter_loads_total",
    "llm_simulator_adapter_data_age_seconds",
    "llm_simulator_infra_cache_hits_total",
    "llm_simulator_infra_cache_misses_total",
    "llm_simulator_infra_cache_evictions_total",
    "llm_simulator_infra_cache_expirations_total",
    "llm_simulator_infra_cache_entries",
    "llm_simulator_infra_retries_total",
    "llm_simulator_infra_retry_budget_remaining",
    "llm_simulator_infra_breaker_state",
    "llm_simulator_infra_breaker_transitions_total",
    "llm_simulator_observatory_spans_received_total",
    "llm_simulator_observatory_documents_rejected_total",
    "llm_simulator_observatory_models_applied",
)
"""Every name this collector exports (with the sample suffix of counters)."""


class AdapterCollector(Collector):
    """Reads the registry's adapters, upstreams and infra at each scrape."""

    def __init__(self, registry: AdapterRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterator[Metric]:
        """Yield the families (none while no adapter is enabled)."""
        registry = self._registry
        if not registry.enabled:
            return
        labels = ["adapter", "upstream"]
        up = GaugeMetricFamily(PREFIX + "adapter_up", "1 while the upstream's last load succeeded.", labels=labels)
        loads = CounterMetricFamily(
            PREFIX + "adapter_loads", "Upstream loads by outcome (ok, failed, refused).", labels=[*labels, "outcome"]
        )
        age = GaugeMetricFamily(
            PREFIX + "adapter_data_age_seconds", "Seconds since the upstream's last good load.", labels=labels
        )
        now = time.time()
        for adapter in registry.adapters:
            for upstream in adapter.upstreams:
                values = [adapter.name, upstream.location]
                up.add_metric(values, 1.0 if upstream.status == "ok" else 0.0)
                counters = upstream.counters
                for outcome, count in (("ok", counters.ok), ("failed", counters.failed), ("refused", counters.refused)):
                    loads.add_metric([*values, outcome], count)
                if upstream.last_success_at is not None:
                    age.add_metric(values, max(0.0, now - upstream.last_success_at))
        yield from (up, loads, age)
        yield from self._infra()
        for adapter in registry.adapters:
            own = getattr(adapter, "collect_metrics", None)
            if callable(own):
                yield from own()

    def _infra(self) -> Iterator[Metric]:
        infra = self._registry.infra
        stats = infra.cache_stats()
        for name, value, doc in (
            ("hits", stats.hits, "Shared adapter cache hits."),
            ("misses", stats.misses, "Shared adapter cache misses (loads)."),
            ("evictions", stats.evictions, "Entries evicted at capacity."),
            ("expirations", stats.expirations, "Entries expired by their TTL."),
        ):
            yield CounterMetricFamily(PREFIX + f"infra_cache_{name}", doc, value=value)
        yield GaugeMetricFamily(
            PREFIX + "infra_cache_entries", "Entries in the shared adapter cache.", value=stats.size
        )
        counters = self._registry.counters
        yield CounterMetricFamily(PREFIX + "infra_retries", "Retries of upstream calls.", value=counters.retries)
        budget = infra.retry_policy.budget
        if budget is not None:
            yield GaugeMetricFamily(
                PREFIX + "infra_retry_budget_remaining",
                "Retries the shared budget still allows.",
                value=budget.remaining,
            )
        state = GaugeMetricFamily(
            PREFIX + "infra_breaker_state", "1 for each breaker's current state.", labels=["upstream", "state"]
        )
        for adapter in self._registry.adapters:
            for upstream in adapter.upstreams:
                current = infra.breaker(upstream.breaker_name).state
                for candidate in BreakerState:
                    state.add_metric([upstream.breaker_name, str(candidate)], 1.0 if candidate is current else 0.0)
        yield state
        transitions = CounterMetricFamily(
            PREFIX + "infra_breaker_transitions", "Breaker state changes, by new state.", labels=["upstream", "state"]
        )
        for (name, new), count in sorted(counters.transitions.items()):
            transitions.add_metric([name, new], count)
        yield transitions
