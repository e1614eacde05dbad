"""Latency from recorded traffic: proxy cassettes and OpenTelemetry spans.

Both hold real calls rather than a benchmark's report, so a file usually mixes models: each
(provider, model) becomes one load point (``--point N`` picks it; ``Measurement.label`` names it),
in order of how many calls it has.

**Cassettes** (the proxy's JSON lines, ``src/llm_simulator/proxy/cassette.py``: ``v``,
``provider``, ``request.json``, ``status``, ``chunks[].{ms, text|b64}`` or ``body.{ms, …}``) are
read as data here, not through the proxy package: the layers contract keeps ``adapters`` and
``proxy`` independent. A stream's chunks are joined and split into SSE events; an event ends at
the offset of the chunk that completes it. An event carrying output text (an OpenAI chat delta,
a Responses ``output_text.delta``, an Anthropic ``content_block_delta``, a Gemini part) is a
token event: TTFT is the first one's offset, ITL the gaps between them, E2E the last chunk's
offset. Providers often pack several tokens into one event, so these gaps are per *event*, as
a client sees them (noted). Token counts come from the usage the stream or body reports, else
the number of token events. Entries with an HTTP error status count as errors.

**Spans** (``adapters/otlp.py``): TTFT where the span has it, E2E the span's duration, and the
decode time per token (E2E − TTFT) / (output − 1) per request (``request_mean``).
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from llm_simulator.adapters.latency.measurement import Measurement, MeasurementError
from llm_simulator.adapters.latency.per_request import Collected, build_measurement
from llm_simulator.adapters.latency.tables import derived_tpot_ms
from llm_simulator.adapters.otlp import LlmSpan


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


def _text(part: Any) -> str:
    if not isinstance(part, Mapping):
        return ""
    if "b64" in part:
        try:
            return base64.b64decode(str(part["b64"])).decode("utf-8", "replace")
        except ValueError:
            return ""
    return str(part.get("text", ""))


def _events(chunks: Sequence[Any]) -> list[tuple[float, Any]]:
    """(offset ms, parsed data) of each complete SSE event of a recorded stream."""
    events: list[tuple[float, Any]] = []
    buffer = ""
    for chunk in chunks:
        if not isinstance(chunk, Mapping):
            continue
        try:
            offset = float(chunk.get("ms", 0.0))
        except (TypeError, ValueError):
            continue
        buffer += _text(chunk).replace("\r\n", "\n")
        *complete, buffer = buffer.split("\n\n")
        for event in complete:
            data = "\n".join(line[5:].lstrip() for line in event.split("\n") if line.startswith("data:"))
            if not data or data == "[DONE]":
                continue
            try:
                events.append((offset, json.loads(data)))
            except ValueError:
                continue
    return events


def _carries_text(event: Any) -> bool:
    """Whether an SSE event delivers output (any of the four providers' stream shapes)."""
    if not isinstance(event, Mapping):
        return False
    kind = event.get("type")
    if kind in ("content_block_delta", "response.output_text.delta"):
        return True
    for choice in event.get("choices") or []:
        delta = choice.get("delta") if isinstance(choice, Mapping) else None
        if isinstance(delta, Mapping) and (delta.get("content") or delta.get("tool_calls")):
            return True
    for candidate in event.get("candidates") or []:
        content = candidate.get("content") if isinstance(candidate, Mapping) else None
        parts = content.get("parts") if isinstance(content, Mapping) else None
        if isinstance(parts, list) and any(isinstance(p, Mapping) and p.get("text") for p in parts):
            return True
    return False


def _usage(event: Any) -> tuple[int | None, int | None]:
    """(input, output) tokens an event or body reports, when it does."""
    if not isinstance(event, Mapping):
        return None, None
    for holder in (event, event.get("response"), event.get("message")):
        if not isinstance(holder, Mapping):
            continue
        usage = holder.get("usage")
        if isinstance(usage, Mapping):
            prompt = usage.get("prompt_tokens", usage.get("input_tokens"))
            output = usage.get("completion_tokens", usage.get("output_tokens"))
            return (prompt if isinstance(prompt, int) else None), (output if isinstance(output, int) else None)
        meta = holder.get("usageMetadata")
        if isinstance(meta, Mapping):
            prompt, output = meta.get("promptTokenCount"), meta.get("candidatesTokenCount")
            return (prompt if isinstance(prompt, int) else None), (output if isinstance(output, int) else None)
    return None, None


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
        prompt: int | None = None
        output: int | None = None
        if isinstance(row.get("chunks"), list):
            events = _events(row["chunks"])
            times = [ms for ms, event in events if _carries_text(event)]
            for _, event in events:
                p, o = _usage(event)
                prompt, output = p if p is not None else prompt, o if o is not None else output
            last = [float(ch.get("ms", 0.0)) for ch in row["chunks"] if isinstance(ch, Mapping)]
            if not times or not last:
                c.errors += 1  # a stream that delivered nothing
                continue
            c.ttft.append(times[0])
            c.gaps.extend(b - a for a, b in itertools.pairwise(times))
            c.e2e.append(max(last))
            output = output if output is not None else len(times)
            if prompt is not None:
                c.pairs.append((prompt, times[0]))
        else:
            body = row.get("body")
            if not isinstance(body, Mapping) or not isinstance(body.get("ms"), int | float):
                c.errors += 1
                continue
            c.e2e.append(float(body["ms"]))
            with contextlib.suppress(ValueError):
                prompt, output = _usage(json.loads(_text(body)))
        if output is not None:
            c.outputs.append(float(output))
    return _measurements(groups, source, "cassette")
