"""Read any supported measurement file, whichever tool wrote it.

The file is decoded (JSON, JSON lines, CSV, YAML), then the tool is recognised by its field
names and the file handed to that tool's reader.

Nothing is guessed from the file name: the same export renamed still reads, and a file no
reader recognises is refused with the fields it has, so the user sees why.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from llm_simulator.adapters.latency import per_request, recorded, summaries
from llm_simulator.adapters.latency.measurement import Measurement, MeasurementError
from llm_simulator.adapters.otlp import OtlpError, read_spans

FORMATS: tuple[str, ...] = (
    "llmperf",
    "llmperf-summary",
    "inference-perf",
    "aiperf",
    "genai-perf",
    "guidellm",
    "benchmark",
    "benchmark-csv",
    "seed-profile",
    "cassette",
    "otel",
)
"""Every format name a measurement can carry (``Measurement.format``)."""

# Files larger than this are refused before parsing (a per-request export of a long run is
# tens of MB; a few hundred MB would take the process's memory several times over).
MAX_BYTES = 256 * 1024 * 1024


def read_file(path: Path) -> list[Measurement]:
    """Every load point in the measurement file at ``path``."""
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise MeasurementError(f"{path}: {size} bytes is larger than the {MAX_BYTES}-byte limit")
        data = path.read_bytes()
    except OSError as exc:
        raise MeasurementError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return parse(data, str(path))


def parse(data: bytes, source: str) -> list[Measurement]:
    """Every load point in a measurement document; ``source`` names it in errors."""
    if not data.strip():
        raise MeasurementError(f"{source}: empty file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise MeasurementError(f"{source}: not UTF-8 text (a binary file?)") from None
    doc = _decode(text, source)
    if isinstance(doc, str):  # a CSV
        return [per_request.read_benchmark_csv(doc, source)]
    return _dispatch(doc, source)


def _decode(text: str, source: str) -> Any:
    """JSON, else JSON lines, else this project's CSV, else YAML (the seed's documents)."""
    try:
        return json.loads(text)
    except ValueError as exc:
        json_error = exc
    lines = [line for line in text.splitlines() if line.strip()]
    if text.lstrip().startswith(("{", "[")):
        if len(lines) == 1 or not lines[0].lstrip().startswith("{"):
            raise MeasurementError(f"{source}: invalid JSON: {json_error}")
        records = []
        for index, line in enumerate(lines, 1):
            try:
                records.append(json.loads(line))
            except ValueError as exc:
                raise MeasurementError(f"{source}: line {index}: invalid JSON lines record: {exc}") from None
        return records
    header = lines[0].split(",") if lines else []
    if all(column in header for column in per_request.BENCHMARK_CSV_COLUMNS):
        return text
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise MeasurementError(f"{source}: not JSON, JSON lines, CSV or YAML: {_first_line(exc)}") from None
    if not isinstance(doc, Mapping | list):
        raise MeasurementError(f"{source}: not a measurement document (JSON, JSON lines, CSV or YAML)")
    return doc


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _rows(doc: Any) -> list[Mapping[str, Any]]:
    return [row for row in doc if isinstance(row, Mapping)] if isinstance(doc, list) else []


def _spans(docs: list[Mapping[str, Any]], source: str) -> list[Measurement]:
    try:
        return recorded.read_spans_measurements(read_spans(docs, source), source)
    except OtlpError as exc:
        raise MeasurementError(str(exc)) from None


def _dispatch(doc: Any, source: str) -> list[Measurement]:
    """Pick the reader by the document's fields."""
    if isinstance(doc, Mapping) and ("resourceSpans" in doc or recorded.is_cassette_entry(doc)):
        doc = [doc]
    rows = _rows(doc)
    if rows:
        first = rows[0]
        if "resourceSpans" in first:
            return _spans(rows, source)
        if recorded.is_cassette_entry(first):
            return recorded.read_cassette_entries(rows, source)
        list_readers: Sequence[tuple[Callable[[Mapping[str, Any]], bool], Callable[..., Measurement]]] = (
            (lambda r: "ttft_s" in r or "end_to_end_latency_s" in r, per_request.read_llmperf_requests),
            (lambda r: "info" in r and "start_time" in r, per_request.read_inference_perf_requests),
            (lambda r: "metrics" in r and "metadata" in r, per_request.read_aiperf_records),
        )
        for matches, reader in list_readers:
            if matches(first):
                return [reader(rows, source)]
        raise MeasurementError(f"{source}: a list of records with unknown fields {sorted(first)[:12]}")
    if not isinstance(doc, Mapping):
        raise MeasurementError(f"{source}: expected a JSON object or a list of request records")
    if any(key.startswith("results_ttft_s") for key in doc):
        return [summaries.read_llmperf_summary(doc, source)]
    if isinstance(doc.get("successes"), Mapping) and "latency" in doc["successes"]:
        return [summaries.read_inference_perf_summary(doc, source)]
    if isinstance(doc.get("experiments"), list):
        return per_request.read_genai_perf_experiments(doc, source)
    if isinstance(doc.get("benchmarks"), list):
        return summaries.read_guidellm_report(doc, source)
    if isinstance(doc.get("latency_ms"), Mapping):
        return [summaries.read_benchmark_json(doc, source)]
    if isinstance(doc.get("time_to_first_token"), Mapping) or isinstance(doc.get("request_latency"), Mapping):
        return [summaries.read_aiperf_summary(doc, source)]
    profile = doc.get("latency_profile")
    if isinstance(profile, Mapping):
        return [summaries.read_seed_profile(profile, source)]
    if any(isinstance(doc.get(key), Mapping) for key in ("ttft", "ttft_ms", "total", "total_ms")):
        return [summaries.read_seed_profile(doc, source)]
    raise MeasurementError(
        f"{source}: not a known measurement format (fields: {', '.join(sorted(map(str, doc))[:12])}); "
        f"known: {', '.join(FORMATS)}"
    )
