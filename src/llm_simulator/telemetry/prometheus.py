"""``/metrics``: the aggregates rendered in the Prometheus text format by ``prometheus_client``.

Nothing here runs on the request path. A custom collector (the library's pattern for
values kept elsewhere) turns the merged ``Stats`` into metric families at scrape time, so
recording costs a request a few dict updates instead of a locked update per metric.

Adding a metric for a new feature is one line in ``collect``: a counter from a ``Counter``
field of ``Stats``, or a gauge from a value of the hub.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from llm_simulator.engine.load.live import LiveEngine
from llm_simulator.telemetry.engine_metrics import EngineCollector
from llm_simulator.telemetry.histogram import Histogram
from llm_simulator.telemetry.hub import Telemetry
from llm_simulator.telemetry.stats import ModelTotals, Stats

PREFIX = "llm_simulator_"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Exposed edges of the fine emit-error histogram: every 5th (×1.78) from 10 µs to 1 s.
_EMIT_EDGE_STEP = 5
_EMIT_EDGE_MAX = 1.0

# Every metric name the server exports (without the _total/_bucket/... sample suffixes), for
# the docs and for the test that checks the deploy/ dashboards and rules against the code.
METRIC_NAMES = (
    "llm_simulator_requests_total",
    "llm_simulator_request_duration_seconds",
    "llm_simulator_e2e_request_latency_seconds",
    "llm_simulator_ttft_seconds",
    "llm_simulator_itl_seconds",
    "llm_simulator_tokens_input_total",
    "llm_simulator_tokens_output_total",
    "llm_simulator_stream_chunks_total",
    "llm_simulator_cost_dollars_total",
    "llm_simulator_errors_total",
    "llm_simulator_chaos_injections_total",
    "llm_simulator_rate_limit_hits_total",
    "llm_simulator_auth_failures_total",
    "llm_simulator_active_requests",
    "llm_simulator_active_streams",
    "llm_simulator_queue_depth",
    "llm_simulator_queue_capacity",
    "llm_simulator_emit_error_seconds",
    "llm_simulator_emit_early_seconds",
    "llm_simulator_event_loop_lag_seconds",
    "llm_simulator_event_loop_lag_last_seconds",
    "llm_simulator_events_sent_total",
    "llm_simulator_events_dropped_total",
    "llm_simulator_stats_since_seconds",
    "llm_simulator_workers",
    "llm_simulator_worker_restarts_total",
    "vllm:num_requests_running",
    "vllm:num_requests_waiting",
    "vllm:time_to_first_token_seconds",
    "vllm:inter_token_latency_seconds",
    "vllm:e2e_request_latency_seconds",
    "vllm:prompt_tokens_total",
    "vllm:generation_tokens_total",
)


def _histogram(name: str, doc: str, labels: list[str]) -> HistogramMetricFamily:
    return HistogramMetricFamily(name, doc, labels=labels)


def _add(family: HistogramMetricFamily, labels: list[str], buckets: Histogram) -> None:
    family.add_metric(labels, buckets.cumulative(), sum_value=buckets.sum)


def _fine(family: HistogramMetricFamily, hist: Histogram) -> None:
    edges = [(f"{edge:.3g}", count) for edge, count in hist.cumulative_every(_EMIT_EDGE_STEP, _EMIT_EDGE_MAX)]
    family.add_metric([], [*edges, ("+Inf", hist.count)], sum_value=hist.sum)


class SimulatorCollector(Collector):
    """Builds every family from the hub's (merged) aggregates at each scrape."""

    def __init__(self, hub: Telemetry, capacity: Callable[[], int], engine_gauges: bool = False) -> None:
        self._hub = hub
        self._capacity = capacity
        # With engines configured, the engine collector owns vLLM's running/waiting gauges.
        self._engine_gauges = engine_gauges

    def collect(self) -> Iterator[Metric]:
        """Yield the metric families (called by ``generate_latest``)."""
        hub = self._hub
        stats = hub.merged_stats()
        yield from self._requests(stats)
        yield from self._models(stats)
        yield from self._causes(stats)
        running, waiting = stats.running, stats.waiting
        gauges = (
            ("active_requests", "Requests in flight.", stats.active_requests),
            ("active_streams", "Event streams in flight.", stats.active_streams),
            ("queue_depth", "Generation requests admitted and not yet at their first token.", waiting),
            (
                "queue_capacity",
                "Most requests served at once, over every worker (0: unlimited).",
                self._capacity() * stats.workers,
            ),
            ("event_loop_lag_last_seconds", "The event-loop lag at the last probe.", hub.last_loop_lag_s),
            ("stats_since_seconds", "When the counters were last reset (epoch seconds).", stats.since),
            ("workers", "Worker processes whose aggregates this scrape merged.", stats.workers),
        )
        for name, doc, value in gauges:
            yield GaugeMetricFamily(PREFIX + name, doc, value=value)
        emit = _histogram(PREFIX + "emit_error_seconds", "Token releases later than scheduled: by how much.", [])
        _fine(emit, stats.emit_error.late)
        yield emit
        early = _histogram(PREFIX + "emit_early_seconds", "Token releases earlier than scheduled: by how much.", [])
        _fine(early, stats.emit_error.early)
        yield early
        lag = _histogram(PREFIX + "event_loop_lag_seconds", "How late the event loop wakes a sleeping task.", [])
        _add(lag, [], stats.loop_lag)
        yield lag
        yield CounterMetricFamily(
            PREFIX + "worker_restarts",
            "Worker processes that died without shutting down (killed, crashed) and were replaced.",
            value=stats.worker_restarts,
        )
        sent = CounterMetricFamily(PREFIX + "events_sent", "Lifecycle events delivered, by sink.", labels=["sink"])
        dropped = CounterMetricFamily(
            PREFIX + "events_dropped", "Lifecycle events dropped (queue full or delivery failed).", labels=["sink"]
        )
        for name, (sent_count, dropped_count) in sorted(stats.sinks.items()):
            sent.add_metric([name], sent_count)
            dropped.add_metric([name], dropped_count)
        yield sent
        yield dropped
        if hub.config.telemetry.metrics.vllm_names:
            yield from self._vllm(stats, running, waiting)

    def _requests(self, stats: Stats) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            PREFIX + "requests", "Requests served.", labels=["provider", "model", "endpoint", "status"]
        )
        for (provider, model, endpoint, status), count in sorted(stats.requests.items()):
            requests.add_metric([provider, model, endpoint, str(status)], count)
        yield requests
        duration = _histogram(
            PREFIX + "request_duration_seconds", "Time from request to last byte.", ["provider", "endpoint"]
        )
        for (provider, endpoint), buckets in sorted(stats.endpoint_durations().items()):
            _add(duration, [provider, endpoint], buckets)
        yield duration

    def _models(self, stats: Stats) -> Iterator[Metric]:
        labels = ["provider", "model"]
        e2e = _histogram(PREFIX + "e2e_request_latency_seconds", "Model requests, arrival to last byte.", labels)
        ttft = _histogram(PREFIX + "ttft_seconds", "Time to first token of streamed responses.", labels)
        itl = _histogram(PREFIX + "itl_seconds", "Time between consecutive tokens of streamed responses.", labels)
        tokens_in = CounterMetricFamily(PREFIX + "tokens_input", "Prompt tokens of answered requests.", labels=labels)
        tokens_out = CounterMetricFamily(PREFIX + "tokens_output", "Output tokens produced.", labels=labels)
        chunks = CounterMetricFamily(PREFIX + "stream_chunks", "Event-stream chunks sent.", labels=labels)
        cost = CounterMetricFamily(
            PREFIX + "cost_dollars", "Simulated cost at the model's list price (US dollars).", labels=labels
        )
        durations = stats.model_durations()
        for (provider, model), t in sorted(stats.models.items()):
            key = [provider, model]
            if (provider, model) in durations:
                _add(e2e, key, durations[(provider, model)])
            _add(ttft, key, t.ttft)
            _add(itl, key, t.itl)
            tokens_in.add_metric(key, t.input_tokens)
            tokens_out.add_metric(key, t.output_tokens)
            chunks.add_metric(key, t.chunks)
            cost.add_metric(key, t.cost)
        yield from (e2e, ttft, itl, tokens_in, tokens_out, chunks, cost)

    def _causes(self, stats: Stats) -> Iterator[Metric]:
        errors = CounterMetricFamily(
            PREFIX + "errors", "Failed requests by error type.", labels=["provider", "error_type"]
        )
        for (provider, error_type), count in sorted(stats.errors.items()):
            errors.add_metric([provider, error_type], count)
        yield errors
        for name, doc, label, counter in (
            ("chaos_injections", "Requests chaos disturbed, by what it did.", "type", stats.chaos),
            ("rate_limit_hits", "Requests refused by a rate-limit tier.", "tier", stats.rate_limits),
            ("auth_failures", "Requests refused by authentication or authorization.", "reason", stats.auth_failures),
        ):
            family = CounterMetricFamily(PREFIX + name, doc, labels=[label])
            for value, count in sorted(counter.items()):
                family.add_metric([value], count)
            yield family

    def _vllm(self, stats: Stats, running: int, waiting: int) -> Iterator[Metric]:
        """The same values under vLLM's names, so vLLM dashboards and autoscalers work unchanged."""
        if not self._engine_gauges:
            yield GaugeMetricFamily("vllm:num_requests_running", "Requests emitting tokens.", value=running)
            yield GaugeMetricFamily(
                "vllm:num_requests_waiting", "Requests waiting for their first token.", value=waiting
            )
        # vLLM labels by model only: fold the providers serving one model id together.
        by_model: dict[str, ModelTotals] = {}
        e2e_by_model: dict[str, Histogram] = {}
        for (_, model), totals in stats.models.items():
            by_model.setdefault(model, ModelTotals()).merge_data(totals.to_data())
        for (_, model), hist in stats.model_durations().items():
            e2e_by_model.setdefault(model, Histogram(hist.edges)).merge_data(hist.to_data())
        ttft = _histogram("vllm:time_to_first_token_seconds", "Time to first token.", ["model_name"])
        itl = _histogram("vllm:inter_token_latency_seconds", "Inter-token latency.", ["model_name"])
        e2e = _histogram("vllm:e2e_request_latency_seconds", "End-to-end request latency.", ["model_name"])
        prompt = CounterMetricFamily("vllm:prompt_tokens", "Prompt tokens processed.", labels=["model_name"])
        generation = CounterMetricFamily("vllm:generation_tokens", "Generation tokens.", labels=["model_name"])
        for model, t in sorted(by_model.items()):
            _add(ttft, [model], t.ttft)
            _add(itl, [model], t.itl)
            if model in e2e_by_model:
                _add(e2e, [model], e2e_by_model[model])
            prompt.add_metric([model], t.input_tokens)
            generation.add_metric([model], t.output_tokens)
        yield from (ttft, itl, e2e, prompt, generation)


class MetricsEndpoint:
    """Renders ``/metrics`` from a registry holding the simulator's and the process's collectors."""

    def __init__(
        self, hub: Telemetry, capacity: Callable[[], int], engines: Callable[[], Mapping[str, LiveEngine]] | None = None
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(SimulatorCollector(hub, capacity, engines is not None))
        if engines is not None:
            self.registry.register(EngineCollector(engines))
        # The serving worker's own CPU, memory and file descriptors (process_* names).
        ProcessCollector(registry=self.registry)
        self._hub = hub

    def render(self) -> bytes:
        """The exposition text (writing this worker's share first, so the merge is current)."""
        return generate_latest(self.registry)
