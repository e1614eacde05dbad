"""The ``otlp`` event sink: each lifecycle event as an OpenTelemetry log record over OTLP/HTTP.

A record's body is the event's name (``request.completed`` ...), its attributes are the
event's flat fields, and it carries the request's trace id, so a backend shows a request's
events next to its span. Batching, the bounded queue and retries are the OpenTelemetry SDK's
(``BatchLogRecordProcessor``); ``emit`` only appends to that queue.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sized
from typing import TYPE_CHECKING, Any

import orjson

from llm_simulator._version import __version__
from llm_simulator.config.loader import ConfigError
from llm_simulator.config.schema import SimulatorConfig
from llm_simulator.config.telemetry import SinkConfig
from llm_simulator.telemetry import events as ev
from llm_simulator.telemetry.tracing import missing_extra, signal_url

if TYPE_CHECKING:
    from opentelemetry._logs import Logger
    from opentelemetry.sdk._logs import LoggerProvider

# Events that report something going wrong get the WARN severity, the others INFO.
_WARNING_EVENTS = frozenset({ev.FAILED, ev.CHAOS_INJECTED, ev.RATE_LIMITED})
_PRIMITIVES = (str, bool, int, float)


def attribute_value(value: Any) -> Any:
    """``value`` as an OTLP attribute: primitives and lists of one primitive type as they are, the rest as JSON."""
    if isinstance(value, _PRIMITIVES):
        return value
    if isinstance(value, list | tuple) and value:
        kind = type(value[0])
        if kind in _PRIMITIVES and all(type(item) is kind for item in value):
            return list(value)
    return orjson.dumps(value, default=str).decode()


class OtlpLogSink:
    """Sends events as OTLP log records (``type: otlp``); counts what it hands over and what it drops."""

    def __init__(self, spec: SinkConfig, config: SimulatorConfig) -> None:
        tracing = config.telemetry.tracing
        endpoint = spec.endpoint or tracing.otlp_endpoint
        if not endpoint:
            raise ConfigError("an otlp event sink needs an endpoint (or telemetry.tracing.otlp_endpoint)")
        try:
            from opentelemetry._logs import SeverityNumber
            from opentelemetry.context import Context
            from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
            from opentelemetry.sdk._logs import LoggerProvider
            from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
            from opentelemetry.sdk.resources import Resource
            from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, set_span_in_context
        except ImportError as exc:
            raise missing_extra("the otlp event sink") from exc

        self.name = "otlp"
        self.sent = 0
        self.dropped = 0
        self.events = frozenset(spec.events)
        self.flush_timeout_ms = int(spec.timeout_s * 1000)
        self._closed = False
        self._queue_size = spec.queue_size
        resource = Resource.create({"service.name": tracing.service_name, "service.version": __version__})
        self._provider: LoggerProvider = LoggerProvider(resource=resource)
        exporter = OTLPLogExporter(
            endpoint=signal_url(endpoint, "logs"),
            headers={**tracing.headers, **spec.headers},
            timeout=spec.timeout_s,
        )
        processor = BatchLogRecordProcessor(
            exporter,
            schedule_delay_millis=spec.flush_interval_s * 1000,
            max_export_batch_size=min(spec.batch_size, spec.queue_size),
            max_queue_size=spec.queue_size,
        )
        self._provider.add_log_record_processor(processor)
        self._logger: Logger = self._provider.get_logger("llm_simulator.events", __version__)
        # The SDK's queue drops the oldest record (with a warning per record) when it is full.
        # Peeking at its length lets the sink drop the newest instead, quietly and counted,
        # like the other sinks; without that private attribute, the SDK's behaviour stands.
        inner = getattr(processor, "_batch_processor", None)
        queue = getattr(inner, "_queue", None)
        self._sdk_queue: Sized | None = queue if isinstance(queue, Sized) else None
        self._info = SeverityNumber.INFO
        self._warn = SeverityNumber.WARN
        self._context = Context
        self._span_context = SpanContext
        self._span = NonRecordingSpan
        self._sampled = TraceFlags(TraceFlags.SAMPLED)
        self._in_context = set_span_in_context

    def wants(self, event: str) -> bool:
        """Whether this sink takes events of this type (all of them when ``events`` is empty)."""
        return not self.events or event in self.events

    def emit(self, event: dict[str, Any]) -> None:
        """Hand one event to the SDK's batch queue (drop and count it when the queue is full)."""
        if self._closed or (self._sdk_queue is not None and len(self._sdk_queue) >= self._queue_size):
            self.dropped += 1
            return
        try:
            self._emit(event)
        except Exception:  # a sink never fails the request it reports on
            self.dropped += 1
        else:
            self.sent += 1

    def _emit(self, event: dict[str, Any]) -> None:
        name = str(event.get("event", ""))
        attributes = {key: attribute_value(value) for key, value in event.items() if value is not None}
        attributes["event.name"] = name
        context = self._context()
        trace_id = event.get("trace_id")
        if trace_id:
            # Events name the trace; the request's span id comes along when the event has it.
            span_id = event.get("span_id")
            span = self._span_context(
                int(trace_id, 16), int(span_id, 16) if span_id else 0, is_remote=False, trace_flags=self._sampled
            )
            context = self._in_context(self._span(span), context)
        ts = event.get("ts")
        self._logger.emit(
            timestamp=round(ts * 1_000_000) * 1000 if isinstance(ts, int | float) else None,
            context=context,
            severity_number=self._warn if name in _WARNING_EVENTS else self._info,
            severity_text="WARN" if name in _WARNING_EVENTS else "INFO",
            body=name,
            attributes=attributes,
            event_name=name,
        )

    def start(self) -> None:
        """Nothing to start: the SDK's batch processor runs its own export thread."""

    async def close(self) -> None:
        """Export what is queued (bounded by the sink's ``timeout_s`` per request), then stop."""
        if self._closed:
            return
        self._closed = True
        await asyncio.to_thread(self._flush_and_stop)

    def _flush_and_stop(self) -> None:
        try:
            self._provider.force_flush(self.flush_timeout_ms)
        finally:
            self._provider.shutdown()
