"""Readers of per-request measurement files: one sample per request (or per token).

- llmperf ``*_individual_responses.json``: a list of ``{ttft_s, end_to_end_latency_s,
  inter_token_latency_s, number_input_tokens, number_output_tokens, error_code}``. llmperf's
  ``inter_token_latency_s`` averages the request's token gaps *including the TTFT*, so the
  decode time per token is derived instead: (E2E − TTFT) / (output tokens − 1).
- inference-perf ``per_request_lifecycle_metrics.json``: a list of ``{start_time, end_time,
  info: {input_tokens, output_tokens, output_token_times}, error}`` (monotonic seconds).
- aiperf ``profile_export.jsonl``: one ``{metadata, metrics: {name: {value, unit}}, error}``
  per line.
- genai-perf / perf_analyzer ``profile_export.json``: ``{experiments: [{experiment,
  requests: [{timestamp, response_timestamps}]}]}`` in nanoseconds.
- guidellm: ``benchmarks[].requests.successful[]`` with ``time_to_first_token_ms``,
  ``inter_token_latency_ms`` (decode only) and ``request_latency`` (seconds).
- this project's ``benchmark --format csv``: ``ttft_ms, e2e_ms, itl_mean_ms, output_tokens, ok``.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from llm_simulator.adapters.latency.measurement import ItlKind, Measurement, MeasurementError, Metric, mean_or_none
from llm_simulator.adapters.latency.tables import UNIT_TO_MS, derived_tpot_ms, number


@dataclass
class Collected:
    """What a reader gathers from the requests of one load point or one model (times in ms)."""

    ttft: list[float] = field(default_factory=list)
    gaps: list[float] = field(default_factory=list)
    tpots: list[float] = field(default_factory=list)
    e2e: list[float] = field(default_factory=list)
    pairs: list[tuple[int, float]] = field(default_factory=list)
    outputs: list[float] = field(default_factory=list)
    errors: int = 0
    calls: int = 0  # requests seen, successful or not (orders a file's models by traffic)


def build_measurement(source: str, fmt: str, c: Collected, **extra: Any) -> Measurement:
    """A measurement from per-request lists; per-token gaps win over per-request TPOT."""
    if not c.ttft and not c.e2e:
        raise MeasurementError(f"{source}: no successful request with a TTFT or an end-to-end latency ({fmt})")
    itl_kind: ItlKind = "gap" if c.gaps else "request_mean"
    return Measurement(
        source=source,
        format=fmt,
        ttft=Metric.from_samples(c.ttft),
        itl=Metric.from_samples(c.gaps or c.tpots),
        itl_kind=itl_kind,
        e2e=Metric.from_samples(c.e2e),
        prompt_ttft=tuple(c.pairs),
        mean_prompt_tokens=mean_or_none(float(p) for p, _ in c.pairs),
        mean_output_tokens=mean_or_none(c.outputs),
        errors=c.errors,
        **extra,
    )


def read_llmperf_requests(rows: Sequence[Mapping[str, Any]], source: str) -> Measurement:
    """Llmperf's individual responses (seconds)."""
    c = Collected()
    for row in rows:
        first = number(row.get("ttft_s"))
        total = number(row.get("end_to_end_latency_s"))
        if row.get("error_code") not in (None, 0) or first is None or total is None:
            c.errors += 1
            continue
        c.ttft.append(first * 1000)
        c.e2e.append(total * 1000)
        out = number(row.get("number_output_tokens"))
        if out is not None:
            c.outputs.append(out)
            tpot = derived_tpot_ms(total * 1000, first * 1000, out)
            if tpot is not None:
                c.tpots.append(tpot)
        prompt = number(row.get("number_input_tokens"))
        if prompt is not None:
            c.pairs.append((int(prompt), first * 1000))
    return build_measurement(source, "llmperf", c)


def read_inference_perf_requests(rows: Sequence[Mapping[str, Any]], source: str) -> Measurement:
    """inference-perf per-request lifecycle records (monotonic seconds).

    Token gaps are used only when the record has one timestamp per output token; otherwise
    (inference-perf often records about two SSE events per token) the request's mean decode
    time per token is used.
    """
    c = Collected()
    for row in rows:
        info = row.get("info")
        start = number(row.get("start_time"))
        end = number(row.get("end_time"))
        times = info.get("output_token_times") if isinstance(info, Mapping) else None
        if row.get("error") or start is None or end is None or not isinstance(times, list) or not times:
            c.errors += 1
            continue
        stamps = [t for t in (number(x) for x in times) if t is not None]
        if not stamps:
            c.errors += 1
            continue
        first_ms = (stamps[0] - start) * 1000
        c.ttft.append(first_ms)
        c.e2e.append((end - start) * 1000)
        out = number(info.get("output_tokens")) if isinstance(info, Mapping) else None
        if out is not None:
            c.outputs.append(out)
            if abs(len(stamps) - out) <= 1:
                c.gaps.extend((b - a) * 1000 for a, b in itertools.pairwise(stamps))
            else:
                tpot = derived_tpot_ms((stamps[-1] - start) * 1000, first_ms, out)
                if tpot is not None:
                    c.tpots.append(tpot)
        prompt = number(info.get("input_tokens")) if isinstance(info, Mapping) else None
        if prompt is not None:
            c.pairs.append((int(prompt), first_ms))
    return build_measurement(source, "inference-perf", c)


def _aiperf_value(metric: Any) -> tuple[Any, float] | None:
    """An aiperf ``{value, unit}`` pair as (value, factor to ms); None if not a timed value."""
    if not isinstance(metric, Mapping):
        return None
    factor = UNIT_TO_MS.get(str(metric.get("unit", "ms")))
    return None if factor is None else (metric.get("value"), factor)


def read_aiperf_records(records: Sequence[Mapping[str, Any]], source: str) -> Measurement:
    """Aiperf per-request JSONL records (each value with its unit)."""
    c = Collected()
    for record in records:
        metrics = record.get("metrics")
        if record.get("error") or not isinstance(metrics, Mapping):
            c.errors += 1
            continue
        first = _aiperf_value(metrics.get("time_to_first_token"))
        latency = _aiperf_value(metrics.get("request_latency"))
        first_ms = number(first[0]) if first else None
        if first_ms is not None and first is not None:
            first_ms *= first[1]
            c.ttft.append(first_ms)
        if latency is not None and (total := number(latency[0])) is not None:
            c.e2e.append(total * latency[1])
        chunks = _aiperf_value(metrics.get("inter_chunk_latency"))
        if chunks is not None and isinstance(chunks[0], list):
            c.gaps.extend(v * chunks[1] for v in (number(x) for x in chunks[0]) if v is not None)
        else:
            itl = _aiperf_value(metrics.get("inter_token_latency"))
            if itl is not None and (mean_itl := number(itl[0])) is not None:
                c.tpots.append(mean_itl * itl[1])
        out = metrics.get("output_sequence_length") or metrics.get("output_token_count")
        if isinstance(out, Mapping) and (count := number(out.get("value"))) is not None:
            c.outputs.append(count)
        isl = metrics.get("input_sequence_length")
        if isinstance(isl, Mapping) and (prompt := number(isl.get("value"))) is not None and first_ms is not None:
            c.pairs.append((int(prompt), first_ms))
    return build_measurement(source, "aiperf", c)


def read_genai_perf_experiments(doc: Mapping[str, Any], source: str) -> list[Measurement]:
    """genai-perf's raw profile export: one measurement per experiment (nanosecond stamps)."""
    found: list[Measurement] = []
    for experiment in doc.get("experiments") or []:
        if not isinstance(experiment, Mapping):
            continue
        c = Collected()
        for request in experiment.get("requests") or []:
            start = number(request.get("timestamp")) if isinstance(request, Mapping) else None
            stamps = request.get("response_timestamps") if isinstance(request, Mapping) else None
            if start is None or not isinstance(stamps, list) or not stamps:
                c.errors += 1
                continue
            times = [t for t in (number(x) for x in stamps) if t is not None]
            if not times:
                c.errors += 1
                continue
            c.ttft.append((times[0] - start) / 1e6)
            c.e2e.append((times[-1] - start) / 1e6)
            c.gaps.extend((b - a) / 1e6 for a, b in itertools.pairwise(times))
        info = experiment.get("experiment")
        load: dict[str, float] = {}
        if isinstance(info, Mapping) and (value := number(info.get("value"))) is not None:
            load[str(info.get("mode", "concurrency"))] = value
        found.append(build_measurement(source, "genai-perf", c, load=load))
    if not found:
        raise MeasurementError(f"{source}: genai-perf export without experiments")
    return found


def read_guidellm_requests(rows: Sequence[Any], source: str, **extra: Any) -> Measurement:
    """Guidellm's successful request stats of one benchmark (TTFT and ITL in ms, latency in s)."""
    c = Collected()
    for row in rows:
        if not isinstance(row, Mapping):
            continue
        first = number(row.get("time_to_first_token_ms"))
        if first is not None:
            c.ttft.append(first)
        if (itl := number(row.get("inter_token_latency_ms"))) is not None:
            c.tpots.append(itl)
        if (latency := number(row.get("request_latency"))) is not None:
            c.e2e.append(latency * 1000)
        if (out := number(row.get("output_tokens"))) is not None:
            c.outputs.append(out)
        if (prompt := number(row.get("prompt_tokens"))) is not None and first is not None:
            c.pairs.append((int(prompt), first))
    return build_measurement(source, "guidellm", c, **extra)


BENCHMARK_CSV_COLUMNS = ("ttft_ms", "e2e_ms")


def read_benchmark_csv(text: str, source: str) -> Measurement:
    """Rows of this project's ``benchmark --format csv`` (one row per request, times in ms)."""
    c = Collected()
    for row in csv.DictReader(io.StringIO(text)):
        if row.get("ok") not in ("True", "true", "1"):
            c.errors += 1
            continue
        try:
            total = float(row["e2e_ms"])
            first = float(row["ttft_ms"]) if row.get("ttft_ms") else None
            out = float(row["output_tokens"]) if row.get("output_tokens") else None
        except (KeyError, ValueError) as exc:
            raise MeasurementError(f"{source}: bad benchmark CSV row {row!r}: {exc}") from None
        c.e2e.append(total)
        if first is not None:
            c.ttft.append(first)
        if out is not None:
            c.outputs.append(out)
            if (tpot := derived_tpot_ms(total, first, out)) is not None:
                c.tpots.append(tpot)
    return build_measurement(source, "benchmark-csv", c)
