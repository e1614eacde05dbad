"""Readers of summary reports: published quantile tables instead of per-request samples.

- llmperf ``*_summary.json``: flat keys ``results_<metric>_quantiles_p50``, ``..._mean``,
  ``..._min``, ``..._max``, ``..._stddev`` for ``ttft_s``, ``inter_token_latency_s`` and
  ``end_to_end_latency_s`` (seconds), ``num_concurrent_requests``.
- inference-perf ``stage_N_lifecycle_metrics.json`` / ``summary_lifecycle_metrics.json``:
  ``successes.latency.{time_to_first_token, time_per_output_token, request_latency}`` tables
  (seconds), ``successes.output_len``, ``load_summary.requested_rate``.
- aiperf ``profile_export_aiperf.json`` and genai-perf ``profile_export_genai_perf.json``:
  top-level ``{time_to_first_token, inter_token_latency, request_latency}: {unit, avg, p50, …}``.
- guidellm report: ``benchmarks[].metrics.{time_to_first_token_ms, inter_token_latency_ms,
  request_latency}.successful`` (a guidellm distribution summary); per-request rows when the
  report kept them.
- this project's ``benchmark`` JSON: ``latency_ms.{ttft, tpot, itl, e2e}`` ``{count, mean,
  min, p50, p90, p95, p99, max}``, ``parameters.concurrency`` / ``rate``.
- the seed's latency-profile document: ``ttft``/``itl``/``total`` tables ``{min, max, mean,
  std, p50, p95, p99}`` in ms, ``cold_start: {probability, ttft}``, ``throughput``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from llm_simulator.adapters.latency.measurement import ColdStart, Measurement, MeasurementError, Metric
from llm_simulator.adapters.latency.per_request import read_guidellm_requests
from llm_simulator.adapters.latency.tables import (
    GUIDELLM_PERCENTILES,
    UNIT_TO_MS,
    derived_tpot_ms,
    number,
    rescaled,
    table_metric,
)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _need_ttft(measurement: Measurement) -> Measurement:
    if measurement.ttft is None and measurement.e2e is None:
        raise MeasurementError(f"{measurement.source}: {measurement.format} report without TTFT or request latency")
    return measurement


def read_llmperf_summary(doc: Mapping[str, Any], source: str) -> Measurement:
    """Llmperf's flat summary (seconds); its ITL, which includes the TTFT, is re-centred."""

    def metric(name: str) -> Metric | None:
        prefix = f"results_{name}_"
        table = {
            key.removeprefix(prefix).removeprefix("quantiles_"): value
            for key, value in doc.items()
            if key.startswith(prefix)
        }
        if "stddev" in table:
            table["std"] = table.pop("stddev")
        return table_metric(table, 1000.0)

    ttft, e2e, itl = metric("ttft_s"), metric("end_to_end_latency_s"), metric("inter_token_latency_s")
    outputs = number(doc.get("mean_output_tokens"))
    tpot = derived_tpot_ms(e2e.mean if e2e else None, ttft.mean if ttft else None, outputs)
    if itl is not None and tpot is not None:
        itl = rescaled(itl, tpot)
    concurrency = number(doc.get("num_concurrent_requests"))
    return _need_ttft(
        Measurement(
            source=source,
            format="llmperf-summary",
            ttft=ttft,
            itl=itl,
            itl_kind="request_mean",
            e2e=e2e,
            mean_prompt_tokens=number(doc.get("mean_input_tokens")),
            mean_output_tokens=outputs,
            load={"concurrency": concurrency} if concurrency is not None else {},
            label=str(doc.get("model", "")),
        )
    )


def read_inference_perf_summary(doc: Mapping[str, Any], source: str) -> Measurement:
    """inference-perf's lifecycle metrics of one stage (seconds).

    Its per-token tables count SSE events (about two per token), so the decode time per
    token is derived from E2E, TTFT and the output length, and the
    ``time_per_output_token`` table only lends its shape.
    """
    successes = _mapping(doc.get("successes"))
    latency = _mapping(successes.get("latency"))
    ttft = table_metric(_mapping(latency.get("time_to_first_token")), 1000.0)
    e2e = table_metric(_mapping(latency.get("request_latency")), 1000.0)
    shape = table_metric(_mapping(latency.get("time_per_output_token")), 1000.0)
    output_len = table_metric(_mapping(successes.get("output_len")))
    prompt_len = table_metric(_mapping(successes.get("prompt_len")))
    outputs = output_len.mean if output_len else None
    tpot = derived_tpot_ms(e2e.mean if e2e else None, ttft.mean if ttft else None, outputs)
    itl = rescaled(shape, tpot) if shape is not None and tpot is not None else shape
    load_summary = _mapping(doc.get("load_summary"))
    rate = number(load_summary.get("requested_rate"))
    throughput = {k: v for k, raw in _mapping(successes.get("throughput")).items() if (v := number(raw)) is not None}
    failures = number(_mapping(doc.get("failures")).get("count"))
    return _need_ttft(
        Measurement(
            source=source,
            format="inference-perf",
            ttft=ttft,
            itl=itl,
            itl_kind="request_mean",
            e2e=e2e,
            mean_prompt_tokens=prompt_len.mean if prompt_len else None,
            mean_output_tokens=outputs,
            load={"rate": rate} if rate is not None else {},
            throughput=throughput,
            errors=int(failures or 0),
        )
    )


def _unit_table(stats: Any) -> Metric | None:
    """An aiperf/genai-perf ``{unit, avg, p50, ...}`` block in ms (None if absent or not a time)."""
    if not isinstance(stats, Mapping):
        return None
    factor = UNIT_TO_MS.get(str(stats.get("unit", "ms")))
    return None if factor is None else table_metric(stats, factor)


def read_aiperf_summary(doc: Mapping[str, Any], source: str) -> Measurement:
    """Aiperf's (or genai-perf's) aggregated statistics."""
    config = _mapping(doc.get("input_config"))
    loadgen = _mapping(config.get("loadgen"))
    load = {k: v for k in ("concurrency", "request_rate") if (v := number(loadgen.get(k))) is not None}
    osl = _mapping(doc.get("output_sequence_length"))
    isl = _mapping(doc.get("input_sequence_length"))
    throughput = {
        k: v
        for k in ("request_throughput", "output_token_throughput")
        if (v := number(_mapping(doc.get(k)).get("avg"))) is not None
    }
    return _need_ttft(
        Measurement(
            source=source,
            format="aiperf" if "input_config" in doc else "genai-perf",
            ttft=_unit_table(doc.get("time_to_first_token")),
            itl=_unit_table(doc.get("inter_token_latency")),
            itl_kind="request_mean",
            e2e=_unit_table(doc.get("request_latency")),
            mean_prompt_tokens=number(isl.get("avg")),
            mean_output_tokens=number(osl.get("avg")),
            load=load,
            throughput=throughput,
        )
    )


def _guidellm_metric(metrics: Mapping[str, Any], name: str, scale: float) -> Metric | None:
    summary = _mapping(metrics.get(name))
    successful = _mapping(summary.get("successful")) or summary
    return table_metric(successful, scale, GUIDELLM_PERCENTILES)


def _guidellm_load(benchmark: Mapping[str, Any]) -> dict[str, float]:
    """The load a guidellm benchmark ran at: its strategy's rate or concurrency (streams)."""
    strategy = _mapping(_mapping(benchmark.get("config")).get("strategy")) or _mapping(benchmark.get("args"))
    load: dict[str, float] = {}
    for key, name in (("rate", "rate"), ("streams", "concurrency"), ("max_concurrency", "concurrency")):
        value = number(strategy.get(key))
        if value is not None:
            load[name] = value
    return load


def read_guidellm_report(doc: Mapping[str, Any], source: str) -> list[Measurement]:
    """One measurement per guidellm benchmark (load point): its requests, else its tables."""
    found: list[Measurement] = []
    for index, benchmark in enumerate(doc.get("benchmarks") or []):
        if not isinstance(benchmark, Mapping):
            continue
        label = f"benchmark {index}"
        load = _guidellm_load(benchmark)
        rows = _mapping(benchmark.get("requests")).get("successful")
        if isinstance(rows, list) and rows:
            found.append(read_guidellm_requests(rows, source, load=load, label=label))
            continue
        metrics = _mapping(benchmark.get("metrics"))
        found.append(
            _need_ttft(
                Measurement(
                    source=source,
                    format="guidellm",
                    ttft=_guidellm_metric(metrics, "time_to_first_token_ms", 1.0),
                    itl=_guidellm_metric(metrics, "inter_token_latency_ms", 1.0),
                    itl_kind="request_mean",
                    e2e=_guidellm_metric(metrics, "request_latency", 1000.0),
                    load=load,
                    label=label,
                )
            )
        )
    if not found:
        raise MeasurementError(f"{source}: guidellm report without benchmarks")
    return found


def read_benchmark_json(doc: Mapping[str, Any], source: str) -> Measurement:
    """The summary of this project's ``llm-simulator benchmark --format json`` (ms)."""
    latency = _mapping(doc.get("latency_ms"))
    parameters = _mapping(doc.get("parameters"))
    load = {k: v for k in ("concurrency", "rate") if (v := number(parameters.get(k))) is not None}
    if parameters.get("mode") == "open":
        load.pop("concurrency", None)
    tpot = table_metric(_mapping(latency.get("tpot")))
    itl = table_metric(_mapping(latency.get("itl")))
    throughput = {k: v for k, raw in _mapping(doc.get("throughput")).items() if (v := number(raw)) is not None}
    return _need_ttft(
        Measurement(
            source=source,
            format="benchmark",
            ttft=table_metric(_mapping(latency.get("ttft"))),
            itl=itl if itl is not None else tpot,
            itl_kind="gap" if itl is not None else "request_mean",
            e2e=table_metric(_mapping(latency.get("e2e"))),
            mean_output_tokens=number(_mapping(doc.get("output_tokens")).get("mean_per_request")),
            load=load,
            throughput=throughput,
            label=str(parameters.get("model", "")),
        )
    )


def read_seed_profile(doc: Mapping[str, Any], source: str) -> Measurement:
    """The seed's latency-profile document (ms), with its cold-start component if any."""
    cold = _mapping(doc.get("cold_start"))
    cold_start: ColdStart | None = None
    probability = number(cold.get("probability"))
    cold_ttft = table_metric(_mapping(cold.get("ttft") or cold.get("ttft_ms")))
    if probability is not None and cold_ttft is not None:
        if not 0.0 <= probability < 1.0:
            raise MeasurementError(f"{source}: cold_start.probability must be in [0, 1), got {probability}")
        if probability > 0:
            cold_start = ColdStart(probability, cold_ttft)
    throughput = {k: v for k, raw in _mapping(doc.get("throughput")).items() if (v := number(raw)) is not None}
    samples = number(doc.get("sample_count"))

    def metric(*names: str) -> Metric | None:
        for name in names:
            found = table_metric(_mapping(doc.get(name)))
            if found is not None:
                if samples is not None and found.count is None:
                    return Metric(
                        found.samples, found.quantiles, found.mean, found.std, found.min, found.max, int(samples)
                    )
                return found
        return None

    return _need_ttft(
        Measurement(
            source=source,
            format="seed-profile",
            ttft=metric("ttft", "ttft_ms"),
            itl=metric("itl", "itl_ms"),
            e2e=metric("total", "total_ms", "e2e", "e2e_ms"),
            cold_start=cold_start,
            throughput=throughput,
            label=str(doc.get("name") or doc.get("model") or ""),
        )
    )
