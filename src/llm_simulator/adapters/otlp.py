"""OTLP/JSON trace spans of LLM calls, read into one flat record per call.

Shared by the latency lens (spans as a measurement) and the observatory (spans as behaviour).
The input is the OTLP/HTTP JSON encoding of an ``ExportTraceServiceRequest``
(``{"resourceSpans": [{"resource": {...}, "scopeSpans": [{"spans": [...]}]}]}``); a file may
also hold one such document per line, as the OpenTelemetry Collector's file exporter writes.

A span is an LLM call when it carries the OpenTelemetry GenAI semantic conventions: a model
(``gen_ai.response.model`` or ``gen_ai.request.model``) and an inference operation
(``gen_ai.operation.name`` of chat, text_completion or generate_content, or none). The
provider is ``gen_ai.provider.name`` (``gen_ai.system`` before semconv 1.37). Tokens are
``gen_ai.usage.input_tokens``/``output_tokens`` (or the older ``prompt_tokens``/``completion_tokens``).
There is no span attribute for the time to first token in the conventions (it is a metric),
so the ones instrumentations write are accepted, in seconds, and otherwise a span event whose
name mentions the first token or chunk.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

# Operations that are model inference (the others — embeddings, tools, agents — are skipped).
INFERENCE_OPERATIONS = frozenset({"chat", "text_completion", "generate_content", "completion", ""})
# Time-to-first-token attributes instrumentations write (seconds).
TTFT_ATTRIBUTES = (
    "gen_ai.response.time_to_first_chunk",
    "gen_ai.response.time_to_first_token",
    "gen_ai.server.time_to_first_token",
    "gen_ai.client.operation.time_to_first_chunk",
)
STATUS_CODE_ERROR = 2  # OTLP Status.code: 0 unset, 1 ok, 2 error


class OtlpError(ValueError):
    """The document is not OTLP/JSON trace data: the message names the source and the problem."""


@dataclass(frozen=True, slots=True)
class LlmSpan:
    """One LLM call seen in a trace (times in ms)."""

    provider: str
    model: str
    operation: str
    start_unix_ns: int
    duration_ms: float
    ttft_ms: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    # ``error.type`` (an exception class or an HTTP status), else "error" for a span whose status is ERROR.
    error: str | None = None
    http_status: int | None = None
    streaming: bool | None = None


def any_value(value: Any) -> Any:
    """The Python value of an OTLP ``AnyValue`` (int64s arrive as JSON strings)."""
    if not isinstance(value, Mapping):
        return None
    if "stringValue" in value:
        return value["stringValue"]
    if "intValue" in value:
        try:
            return int(value["intValue"])
        except (TypeError, ValueError):
            return None
    if "doubleValue" in value:
        try:
            return float(value["doubleValue"])
        except (TypeError, ValueError):
            return None
    if "boolValue" in value:
        return bool(value["boolValue"])
    if "arrayValue" in value and isinstance(value["arrayValue"], Mapping):
        return [any_value(v) for v in value["arrayValue"].get("values") or []]
    return None


def attributes(items: Any) -> dict[str, Any]:
    """A ``KeyValue`` list as a dict (entries without a string key are skipped)."""
    if not isinstance(items, list):
        return {}
    return {
        item["key"]: any_value(item.get("value"))
        for item in items
        if isinstance(item, Mapping) and isinstance(item.get("key"), str)
    }


def decode_documents(data: bytes, source: str) -> list[Mapping[str, Any]]:
    """The OTLP/JSON documents in ``data``: one JSON document, or one per line."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise OtlpError(f"{source}: not UTF-8 JSON (OTLP/protobuf is not read; export OTLP/JSON)") from None
    if not text.strip():
        raise OtlpError(f"{source}: empty trace document")
    try:
        docs: list[Any] = [json.loads(text)]
    except ValueError:
        docs = []
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    docs.append(json.loads(line))
                except ValueError as exc:
                    raise OtlpError(f"{source}: line {number}: invalid JSON: {exc}") from None
    return docs


def _spans(doc: Mapping[str, Any], source: str) -> Iterator[tuple[dict[str, Any], Mapping[str, Any]]]:
    """Every span of one document with its resource's attributes; raises on a malformed structure."""
    for i, resource_spans in enumerate(doc["resourceSpans"]):
        if not isinstance(resource_spans, Mapping):
            raise OtlpError(f"{source}: resourceSpans[{i}] is not an object")
        resource = attributes((resource_spans.get("resource") or {}).get("attributes"))
        scopes = resource_spans.get("scopeSpans", resource_spans.get("instrumentationLibrarySpans", []))
        if not isinstance(scopes, list):
            raise OtlpError(f"{source}: resourceSpans[{i}].scopeSpans is not a list")
        for j, scope in enumerate(scopes):
            spans = scope.get("spans", []) if isinstance(scope, Mapping) else None
            if not isinstance(spans, list):
                raise OtlpError(f"{source}: resourceSpans[{i}].scopeSpans[{j}].spans is not a list")
            for k, span in enumerate(spans):
                if not isinstance(span, Mapping):
                    raise OtlpError(f"{source}: resourceSpans[{i}].scopeSpans[{j}].spans[{k}] is not an object")
                yield resource, span


def _nanos(span: Mapping[str, Any], key: str, where: str) -> int:
    try:
        return int(span[key])
    except (KeyError, TypeError, ValueError):
        raise OtlpError(f"{where}: {key} missing or not an integer") from None


def _ttft_ms(attrs: Mapping[str, Any], span: Mapping[str, Any], start: int) -> float | None:
    for key in TTFT_ATTRIBUTES:
        value = attrs.get(key)
        if isinstance(value, int | float) and value >= 0:
            return float(value) * 1000.0
    for event in span.get("events") or []:
        name = str(event.get("name", "")).lower() if isinstance(event, Mapping) else ""
        if "first" in name and ("token" in name or "chunk" in name):
            try:
                return max(0.0, (int(event["timeUnixNano"]) - start) / 1e6)
            except (KeyError, TypeError, ValueError):
                continue
    return None


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0 else None


def llm_span(resource: Mapping[str, Any], span: Mapping[str, Any], where: str) -> LlmSpan | None:
    """The LLM call ``span`` records, or None when it is not one (see the module doc)."""
    attrs = attributes(span.get("attributes"))
    model = attrs.get("gen_ai.response.model") or attrs.get("gen_ai.request.model")
    operation = str(attrs.get("gen_ai.operation.name") or "")
    if not isinstance(model, str) or not model or operation not in INFERENCE_OPERATIONS:
        return None
    start, end = _nanos(span, "startTimeUnixNano", where), _nanos(span, "endTimeUnixNano", where)
    if end < start:
        raise OtlpError(f"{where}: ends before it starts")
    provider = attrs.get("gen_ai.provider.name") or attrs.get("gen_ai.system") or resource.get("service.name") or ""
    status = span.get("status")
    code = status.get("code") if isinstance(status, Mapping) else None
    failed = code in (STATUS_CODE_ERROR, "STATUS_CODE_ERROR")
    http_status = _int(attrs.get("http.response.status_code") or attrs.get("http.status_code"))
    error = attrs.get("error.type")
    if error is None and (failed or (http_status is not None and http_status >= 400)):
        error = str(http_status) if http_status and http_status >= 400 else "error"
    stream = attrs.get("gen_ai.request.stream", attrs.get("llm.is_streaming"))
    return LlmSpan(
        provider=str(provider),
        model=model,
        operation=operation or "chat",
        start_unix_ns=start,
        duration_ms=(end - start) / 1e6,
        ttft_ms=_ttft_ms(attrs, span, start),
        input_tokens=_int(attrs.get("gen_ai.usage.input_tokens", attrs.get("gen_ai.usage.prompt_tokens"))),
        output_tokens=_int(attrs.get("gen_ai.usage.output_tokens", attrs.get("gen_ai.usage.completion_tokens"))),
        error=str(error) if error is not None else None,
        http_status=http_status,
        streaming=stream if isinstance(stream, bool) else None,
    )


def read_spans(docs: list[Mapping[str, Any]], source: str) -> list[LlmSpan]:
    """Every LLM call in the OTLP/JSON documents ``docs`` (other spans are skipped)."""
    found: list[LlmSpan] = []
    for doc in docs:
        if not isinstance(doc, Mapping) or not isinstance(doc.get("resourceSpans"), list):
            raise OtlpError(f"{source}: not OTLP/JSON trace data (expected an object with a resourceSpans list)")
    for d, doc in enumerate(docs):
        for n, (resource, span) in enumerate(_spans(doc, source)):
            where = f"{source}: document {d + 1} span {n + 1}" if len(docs) > 1 else f"{source}: span {n + 1}"
            call = llm_span(resource, span, where)
            if call is not None:
                found.append(call)
    return found


def parse_spans(data: bytes, source: str) -> list[LlmSpan]:
    """Every LLM call in an OTLP/JSON trace file or request body."""
    return read_spans(decode_documents(data, source), source)
