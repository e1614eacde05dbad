"""Prometheus families of the load-aware engines (this worker's): vLLM's names where it has them.

Labels follow vLLM: ``model_name`` (the deployment, or ``deployment/model`` for a model's own
instance of the default deployment) and ``engine`` (the replica index). With several
workers, each worker runs its own engines: a scrape shows the engines of the worker it reached.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from llm_simulator.engine.load.live import BATCH_SIZE_EDGES, STEP_SECONDS_EDGES, LiveEngine

PREFIX = "llm_simulator_engine_"


def _buckets(edges: tuple[float, ...], counts: list[int]) -> list[tuple[str, float]]:
    out: list[tuple[str, float]] = []
    total = 0
    for edge, count in zip(edges, counts, strict=False):
        total += count
        out.append((f"{edge:g}", total))
    out.append(("+Inf", total + counts[-1]))
    return out


class EngineCollector(Collector):
    """Reads every live engine's replicas at scrape time (nothing is recorded per token)."""

    def __init__(self, engines: Callable[[], Mapping[str, LiveEngine]]) -> None:
        self._engines = engines

    def collect(self) -> Iterator[Metric]:
        """Yield the engine families (nothing when no engine has served a request yet)."""
        engines = self._engines()
        if not engines:
            return
        labels = ["model_name", "engine"]
        running = GaugeMetricFamily(
            "vllm:num_requests_running", "Requests in the engine's running batch.", labels=labels
        )
        waiting = GaugeMetricFamily("vllm:num_requests_waiting", "Requests waiting for admission.", labels=labels)
        kv = GaugeMetricFamily("vllm:kv_cache_usage_perc", "KV-cache usage (1 = full).", labels=labels)
        preempt = CounterMetricFamily("vllm:num_preemptions", "Sequences preempted (recompute).", labels=labels)
        queries = CounterMetricFamily(
            "vllm:prefix_cache_queries", "Prompt tokens looked up in the prefix cache.", labels=labels
        )
        hits = CounterMetricFamily("vllm:prefix_cache_hits", "Prompt tokens found in the prefix cache.", labels=labels)
        rejected = CounterMetricFamily(PREFIX + "rejected", "Requests refused: queue full or too large.", labels=labels)
        timed_out = CounterMetricFamily(PREFIX + "timed_out", "Requests refused after waiting too long.", labels=labels)
        step = HistogramMetricFamily(PREFIX + "step_seconds", "Duration of engine steps.", labels=labels)
        batch = HistogramMetricFamily(PREFIX + "batch_size", "Sequences per engine step.", labels=labels)
        for name, engine in sorted(engines.items()):
            for replica, hist in zip(engine.replicas, engine.histograms, strict=True):
                values = [name, str(replica.index)]
                counters = replica.counters
                running.add_metric(values, len(replica.running))
                waiting.add_metric(values, len(replica.waiting))
                kv.add_metric(values, replica.kv.usage())
                preempt.add_metric(values, counters.preemptions)
                queries.add_metric(values, replica.kv.lookups)
                hits.add_metric(values, replica.kv.hits)
                rejected.add_metric(values, counters.rejected)
                timed_out.add_metric(values, counters.timed_out)
                step.add_metric(values, _buckets(STEP_SECONDS_EDGES, hist.step_counts), sum_value=hist.step_sum)
                batch.add_metric(
                    values,
                    _buckets(tuple(float(e) for e in BATCH_SIZE_EDGES), hist.batch_counts),
                    sum_value=float(hist.batch_sum),
                )
        yield from (running, waiting, kv, preempt, queries, hits, rejected, timed_out, step, batch)
