"""Latency from recorded traffic: proxy cassettes and OpenTelemetry spans.

Both hold real calls rather than a benchmark's report, so a file usually mixes models: each
(provider, model) becomes one load point (``--point N`` picks it; ``Measurement.label`` names it),
in order of how many calls it has.

**Cassettes** (the proxy's JSON lines, ``src/llm_simulator/proxy/cassette.py``: ``v``,
``provider``, ``request.json``, ``status``, ``chunks[].{ms, text|b64}`` or ``body.{ms, …}``) are
read by ``wire/recorded.py``, the reader the proxy's replay and ``cassette to-profile`` use too
(the layers contract keeps ``adapters`` and ``proxy`` independent, so it lives below both). An
event carrying output is a token event: TTFT is the first one's offset, E2E the last chunk's
offset, ITL the gaps between output chunks, a chunk's gap shared among the ``k`` events it
carried. Providers often pack several tokens into one event, so these gaps are per *event*, as
a client sees them (noted). Token counts come from the usage the stream or body reports, else
the number of token events. Entries with an HTTP error status count as errors.

**Spans** (``adapters/otlp.py``): TTFT where the span has it, E2E the span's duration, and the
decode time per token (E2E − TTFT) / (output − 1) per request (``request_mean``).
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from llm_simulator.adapters.latency.measurement import Measurement, MeasurementError
from llm_simulator.adapters.latency.per_request import Collected, build_measurement
from llm_simulator.adapters.latency.tables import derived_tpot_ms
from llm_simulator.adapters.otlp import LlmSpan
from llm_simulator.wire.recorded import part_bytes, reported_tokens, stream_timing


def _measurements(groups: Mapping[str, Collected], source: str, fmt: str) -> list[Measurement]:
    """One measurement per group with a latency, the busiest group first."""
    ordered = sorted(groups.items(), key=lambda kv: -kv[1].calls)
    found = [build_measurement(source, fmt, c, label=label) for label, c in ordered if c.ttft or c.e2e]
    if not found:
        raise MeasurementError(f"{source}: no successful LLM call with a latency ({fmt})")
    return found


def read_spans_measurements(spans: Sequence[LlmSpan], source: str) -> list[Measurement]:
    """One measurement per (provider, model) of the LLM spans."""
    if not spans:
        raise MeasurementError(f"{source}: no LLM call spans (gen_ai.* attributes with a model) in the trace data")
    groups: dict[str, Collected] = defaultdict(Collected)
    for span in spans:
        c = groups[f"{span.provider}/{span.model}" if span.provider else span.model]
        c.calls += 1
        if span.error is not None:
            c.errors += 1
            continue
        c.e2e.append(span.duration_ms)
        if span.ttft_ms is not None:
            c.ttft.append(span.ttft_ms)
            if span.input_tokens is not None:
                c.pairs.append((span.input_tokens, span.ttft_ms))
        if span.output_tokens is not None:
            c.outputs.append(float(span.output_tokens))
            if span.ttft_ms is not None:
                tpot = derived_tpot_ms(span.duration_ms, span.ttft_ms, span.output_tokens)
                if tpot is not None:
                    c.tpots.append(tpot)
    return _measurements(groups, source, "otel")


# ---- cassettes -------------------------------------------------------------------------


def is_cassette_entry(row: Mapping[str, Any]) -> bool:
    """Whether a JSON record is a proxy cassette entry."""
    return isinstance(row.get("request"), Mapping) and "status" in row and ("chunks" in row or "body" in row)


def _model(entry: Mapping[str, Any]) -> str:
    request = entry["request"]
    body = request.get("json")
    if isinstance(body, Mapping) and isinstance(body.get("model"), str):
        return str(body["model"])
    path = str(request.get("path", ""))
    if "/models/" in path:  # Gemini names the model in the path
        return path.split("/models/", 1)[1].split(":", 1)[0]
    return "unknown"


def read_cassette_entries(rows: Sequence[Mapping[str, Any]], source: str) -> list[Measurement]:
    """One measurement per (provider, model) of the cassette entries (see the module doc)."""
    groups: dict[str, Collected] = defaultdict(Collected)
    for row in rows:
        if not is_cassette_entry(row):
            raise MeasurementError(f"{source}: a line that is not a cassette entry (fields {sorted(row)[:8]})")
        c = groups[f"{row.get('provider', '')}/{_model(row)}"]
        c.calls += 1
        try:
            status = int(row["status"])
        except (TypeError, ValueError):
            status = 0
        if not 200 <= status < 300:
            c.errors += 1
            continue
        if isinstance(row.get("chunks"), list):
            timing = stream_timing(row["chunks"])
            if timing is None:
                c.errors += 1  # a stream that delivered nothing
                continue
            c.ttft.append(timing.ttft_ms)
            c.gaps.extend(timing.gaps_ms)
            c.e2e.append(timing.e2e_ms)
            c.outputs.append(float(timing.output_tokens))
            if timing.prompt_tokens is not None:
                c.pairs.append((timing.prompt_tokens, timing.ttft_ms))
            continue
        body = row.get("body")
        if not isinstance(body, Mapping) or not isinstance(body.get("ms"), int | float):
            c.errors += 1
            continue
        c.e2e.append(float(body["ms"]))
        with contextlib.suppress(ValueError):
            output = reported_tokens(part_bytes(body))[1]
            if output is not None:
                c.outputs.append(float(output))
    return _measurements(groups, source, "cassette")
