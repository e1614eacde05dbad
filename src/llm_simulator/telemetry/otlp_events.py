"""The ``otlp`` event sink: each lifecycle event as an OpenTelemetry log record over OTLP/HTTP.

A record's body is the event's name (``request.completed`` ...), its attributes are the
event's flat fields, and it carries the request's trace id, so a backend shows a request's
events next to its span. Batching, the bounded queue and retries are the OpenTelemetry SDK's
(``BatchLogRecordProcessor``); ``emit`` only appends to that queue.

``sent`` counts the records the collector acknowledged; ``dropped`` those refused at
``emit`` (queue full, closed, unusable), those whose export failed, and those still queued
when shutdown gave up after ``timeout_s``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence, Sized
from typing import TYPE_CHECKING, Any

import orjson

from llm_simulator._version import __version__
from llm_simulator.config.loader import ConfigError
from llm_simulator.config.schema import SimulatorConfig
from llm_simulator.config.telemetry import SinkConfig
from llm_simulator.telemetry import events as ev
from llm_simulator.telemetry.tracing import finish_within, missing_extra, signal_url

if TYPE_CHECKING:
    from opentelemetry._logs import Logger
    from opentelemetry.sdk._logs import LoggerProvider

log = logging.getLogger("llm_simulator.telemetry")

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
            from opentelemetry.sdk._logs import LoggerProvider, ReadableLogRecord
            from opentelemetry.sdk._logs.export import (
                BatchLogRecordProcessor,
                LogRecordExporter,
                LogRecordExportResult,
            )
            from opentelemetry.sdk.resources import Resource
            from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, set_span_in_context
        except ImportError as exc:
            raise missing_extra("the otlp event sink") from exc

        self.name = "otlp"
        self.events = frozenset(spec.events)
        self.timeout_s = spec.timeout_s
        self.flush_timeout_ms = int(spec.timeout_s * 1000)
        self._closed = False
        self._queue_size = spec.queue_size
        # Written on the event loop (accepted, refused) and by the export thread (exported,
        # failed): each counter has one writer, so no lock is needed for them.
        self._accepted = 0
        self._refused = 0
        self._exported = 0
        self._failed = 0
        self._lost = 0
        resource = Resource.create({"service.name": tracing.service_name, "service.version": __version__})
        # Closed by the server's shutdown, bounded; at exit it would wait 30 s on a hung collector.
        self._provider: LoggerProvider = LoggerProvider(resource=resource, shutdown_on_exit=False)
        otlp = OTLPLogExporter(
            endpoint=signal_url(endpoint, "logs"),
            headers={**tracing.headers, **spec.headers},
            timeout=spec.timeout_s,
        )
        sink = self
        # force_flush and the SDK's worker may export at once, and close may freeze the counts.
        lock = self._lock = threading.Lock()
        self._counting = True

        class Counting(LogRecordExporter):
            """The OTLP exporter, counting what the collector acknowledged and what it did not."""

            def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
                """Export and count the batch (a raise counts as a failure, then propagates)."""
                ok = False
                try:
                    result = otlp.export(batch)
                    ok = result is LogRecordExportResult.SUCCESS
                    return result
                finally:
                    with lock:
                        if not sink._counting:
                            pass
                        elif ok:
                            sink._exported += len(batch)
                        else:
                            sink._failed += len(batch)

            def shutdown(self) -> None:
                """Stop the inner exporter."""
                otlp.shutdown()  # type: ignore[no-untyped-call]

            def force_flush(self, timeout_millis: int = 30000) -> bool:
                """Nothing buffered here."""
                return otlp.force_flush(timeout_millis)

        processor = BatchLogRecordProcessor(
            Counting(),
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

    @property
    def sent(self) -> int:
        """Events the collector acknowledged."""
        return self._exported

    @property
    def dropped(self) -> int:
        """Events refused at ``emit``, whose export failed, or left queued when shutdown gave up."""
        return self._refused + self._failed + self._lost

    def wants(self, event: str) -> bool:
        """Whether this sink takes events of this type (all of them when ``events`` is empty)."""
        return not self.events or event in self.events

    def emit(self, event: dict[str, Any]) -> None:
        """Hand one event to the SDK's batch queue (drop and count it when the queue is full)."""
        if self._closed or (self._sdk_queue is not None and len(self._sdk_queue) >= self._queue_size):
            self._refused += 1
            return
        try:
            self._emit(event)
        except Exception:  # a sink never fails the request it reports on
            self._refused += 1
        else:
            self._accepted += 1

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
        """Export what is queued within the sink's ``timeout_s``, then stop; what is left counts as dropped."""
        if self._closed:
            return
        self._closed = True
        if not await finish_within(self._flush_and_stop, self.timeout_s, "otlp-events-shutdown"):
            # The counts freeze here: what the abandoned flush still does later is not counted
            # (the process is about to exit), so sent + dropped stays the number of events.
            with self._lock:
                self._counting = False
                self._lost = max(0, self._accepted - self._exported - self._failed)
            log.warning(
                "event sink %s: the collector did not take the queue within %s s: %d events dropped",
                self.name,
                self.timeout_s,
                self._lost,
            )

    def _flush_and_stop(self) -> None:
        try:
            self._provider.force_flush(self.flush_timeout_ms)
        finally:
            self._provider.shutdown()
