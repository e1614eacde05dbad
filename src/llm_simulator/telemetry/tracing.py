"""OpenTelemetry spans, one per request, exported over OTLP/HTTP (the ``otel`` extra).

The span is made when the request has ended, from its ``RequestRecord``: its start and end
times are given explicitly, so nothing of OpenTelemetry runs while the request is served,
and ending it only appends to the batch processor's queue (a background thread exports).
The span keeps the ids the hub gave the request (the ones its log lines and lifecycle
events carry), and the caller's span, when a ``traceparent`` came in, as its parent. Names
and attributes follow the OpenTelemetry GenAI and HTTP semantic conventions.

OpenTelemetry is imported only here, and only when tracing is configured: without the extra
the server refuses to start with an error saying what to install.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from llm_simulator._version import __version__
from llm_simulator.config.loader import ConfigError
from llm_simulator.config.schema import SimulatorConfig
from llm_simulator.core.record import RequestRecord

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Tracer as OtelTracer

log = logging.getLogger("llm_simulator.telemetry")

INSTALL_HINT = "pip install 'llm-simulator[otel]'"

# Route endpoint → gen_ai.operation.name (GenAI semantic conventions). Other endpoints
# (models, count_tokens, health, admin ...) are plain HTTP spans.
OPERATIONS = {
    "chat": "chat",
    "responses": "chat",
    "messages": "chat",
    "generate": "generate_content",
    "converse": "chat",
    "invoke": "chat",
    "completion": "text_completion",
    "embedding": "embeddings",
}
# Simulator provider → (gen_ai.system, gen_ai.provider.name). The conventions renamed the
# attribute (and Azure's value); both are set so backends of either generation group them.
SYSTEMS = {
    "openai": ("openai", "openai"),
    "anthropic": ("anthropic", "anthropic"),
    "gemini": ("gcp.gemini", "gcp.gemini"),
    "ollama": ("ollama", "ollama"),
    "bedrock": ("aws.bedrock", "aws.bedrock"),
}
AZURE_SYSTEM = ("az.ai.openai", "azure.ai.openai")
AZURE_PREFIX = "/openai/deployments/"
# Gemini and Claude on Vertex AI: their provider's wire format, Vertex's system.
VERTEX_SYSTEM = ("gcp.vertex_ai", "gcp.vertex_ai")
VERTEX_MARKER = "/publishers/"


def system_of(rec: RequestRecord) -> tuple[str, str]:
    """(gen_ai.system, gen_ai.provider.name) of a request: Azure and Vertex AI by their paths."""
    if rec.path.startswith(AZURE_PREFIX):
        return AZURE_SYSTEM
    if VERTEX_MARKER in rec.path:
        return VERTEX_SYSTEM
    return SYSTEMS.get(rec.provider, ("", ""))


def missing_extra(feature: str) -> ConfigError:
    """The error for a configured OpenTelemetry feature without the ``otel`` extra installed."""
    return ConfigError(f"{feature} needs the OpenTelemetry packages: {INSTALL_HINT}")


async def finish_within(work: Callable[[], object], deadline_s: float, name: str) -> bool:
    """Run ``work`` (a blocking flush and stop) in a daemon thread; wait at most ``deadline_s``.

    True when it finished in time. The OpenTelemetry SDK's ``force_flush`` ignores its
    timeout (it exports every queued batch, each waiting up to the export timeout) and its
    ``shutdown`` joins for 30 s, so against a collector that never answers only a bounded
    wait keeps shutdown bounded. The thread is a daemon: left behind, it cannot hold the
    process at exit (and ``asyncio.to_thread`` would: the loop waits for its executor).
    """
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()

    def finished() -> None:
        if not done.done():
            done.set_result(None)

    def run() -> None:
        try:
            work()
        except Exception:
            log.warning("%s: flushing failed", name, exc_info=True)
        finally:
            # The loop may have closed while this ran: then nobody is listening.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(finished)

    threading.Thread(target=run, name=name, daemon=True).start()
    try:
        await asyncio.wait_for(done, deadline_s)
    except TimeoutError:
        return False
    return True


def signal_url(base: str, signal: str) -> str:
    """The OTLP/HTTP URL of ``signal`` ("traces", "logs") under a collector base URL.

    A URL already ending in the signal's path is used as given, so both the base
    (``http://collector:4318``) and the full URL work.
    """
    base = base.rstrip("/")
    path = f"/v1/{signal}"
    return base if base.endswith(path) else base + path


def operation_of(rec: RequestRecord) -> str | None:
    """``gen_ai.operation.name`` of the request, or None when it is not a model call."""
    if rec.method != "POST":  # GET/DELETE of a stored response is not a generation
        return None
    return OPERATIONS.get(rec.endpoint)


def span_name(rec: RequestRecord) -> str:
    """``{operation} {model}`` for model calls (GenAI conventions), ``{method} {endpoint}`` otherwise."""
    operation = operation_of(rec)
    if operation is None:
        return f"{rec.method} {rec.endpoint}"
    return f"{operation} {rec.model}" if rec.model else operation


def span_attributes(rec: RequestRecord, output_tokens: int, cost: float) -> dict[str, Any]:
    """The span's attributes (GenAI ones only for model calls)."""
    attrs: dict[str, Any] = {
        "http.request.method": rec.method,
        "http.response.status_code": rec.status,
        "url.path": rec.path,
        "llm_simulator.request_id": rec.request_id,
        "llm_simulator.provider": rec.provider,
        "llm_simulator.endpoint": rec.endpoint,
        "llm_simulator.stream": rec.stream,
    }
    operation = operation_of(rec)
    if operation is not None:
        system, provider = system_of(rec)
        if system:
            attrs["gen_ai.system"] = system
            attrs["gen_ai.provider.name"] = provider
        attrs["gen_ai.operation.name"] = operation
        if rec.model:
            attrs["gen_ai.request.model"] = rec.model
            if rec.status < 400:
                attrs["gen_ai.response.model"] = rec.model
        attrs["gen_ai.usage.input_tokens"] = rec.prompt_tokens
        attrs["gen_ai.usage.output_tokens"] = output_tokens
        if rec.finish_reason:
            attrs["gen_ai.response.finish_reasons"] = [rec.finish_reason]
        attrs["llm_simulator.cost_dollars"] = round(cost, 8)
    if rec.status >= 400 or rec.broken:
        attrs["error.type"] = rec.error_type or str(rec.status)
    if rec.chaos:
        attrs["llm_simulator.chaos"] = rec.chaos
    if rec.rate_limited:
        attrs["llm_simulator.rate_limit.tier"] = rec.rate_limited
    return attrs


def _ns(epoch_s: float) -> int:
    """Epoch nanoseconds, at microsecond precision (a float holds no more for today's epoch)."""
    return round(epoch_s * 1_000_000) * 1000


class _PresetIds(Protocol):
    """The id generator's slots: the ids of the record being exported (0: draw random ones)."""

    trace_id: int
    span_id: int


class OtlpTracer:
    """The hub's ``Tracer``: one SERVER span per finished request, batched to an OTLP collector."""

    def __init__(self, provider: TracerProvider, ids: _PresetIds, flush_timeout_s: float) -> None:
        from opentelemetry.context import Context
        from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags, set_span_in_context
        from opentelemetry.trace.status import Status, StatusCode

        self._provider = provider
        self._tracer: OtelTracer = provider.get_tracer("llm_simulator", __version__)
        self._ids = ids
        self._flush_timeout_ms = int(flush_timeout_s * 1000)
        self._closed = False
        self._warned = False
        # Resolved once: export runs for every request.
        self._context = Context
        self._remote_parent = NonRecordingSpan
        self._span_context = SpanContext
        self._sampled = TraceFlags(TraceFlags.SAMPLED)
        self._in_context = set_span_in_context
        self._server = SpanKind.SERVER
        self._status = Status
        self._error = StatusCode.ERROR

    def export(self, rec: RequestRecord, duration_s: float, output_tokens: int, cost: float) -> None:
        """Build the request's span and hand it to the batch processor (never blocks, never raises)."""
        if self._closed:
            return
        try:
            self._export(rec, duration_s, output_tokens, cost)
        except Exception:  # a malformed record must not fail the request that produced it
            if not self._warned:
                self._warned = True
                log.warning("cannot export the span of %s", rec.request_id, exc_info=True)

    def _export(self, rec: RequestRecord, duration_s: float, output_tokens: int, cost: float) -> None:
        trace_id = int(rec.trace_id, 16) if rec.trace_id else 0
        context = self._context()
        if trace_id and rec.parent_span_id:
            parent = self._span_context(
                trace_id, int(rec.parent_span_id, 16), is_remote=True, trace_flags=self._sampled
            )
            context = self._in_context(self._remote_parent(parent), context)
        start_ns = _ns(rec.started_wall)
        # The generator hands these ids to the span started next; the event loop is the only
        # caller, so no other span can take them in between.
        self._ids.trace_id = trace_id
        self._ids.span_id = int(rec.span_id, 16) if rec.span_id else 0
        try:
            span = self._tracer.start_span(
                span_name(rec),
                context=context,
                kind=self._server,
                attributes=span_attributes(rec, output_tokens, cost),
                start_time=start_ns,
            )
        finally:
            self._ids.trace_id = self._ids.span_id = 0
        if not span.is_recording():  # sampled out: nothing to fill in
            return
        ttft = rec.ttft_s
        if ttft is not None:
            span.add_event(
                "gen_ai.first_token",
                {"llm_simulator.ttft_ms": round(ttft * 1000, 3)},
                timestamp=start_ns + round(ttft * 1e9),
            )
        if rec.chaos:
            span.add_event("chaos.injected", {"chaos.type": rec.chaos}, timestamp=start_ns)
        if rec.rate_limited:
            span.add_event("rate_limit.rejected", {"rate_limit.tier": rec.rate_limited}, timestamp=start_ns)
        # HTTP server conventions: a 4xx is the client's fault and leaves the status unset.
        if rec.status >= 500 or rec.broken:
            reason = "stream broken" if rec.broken else f"HTTP {rec.status}"
            span.set_status(self._status(self._error, rec.error_type or reason))
        span.end(end_time=start_ns + round(duration_s * 1e9))

    async def close(self) -> None:
        """Export the queued spans and stop the exporter, off the event loop, within the export timeout."""
        if self._closed:
            return
        self._closed = True
        if not await finish_within(self._flush_and_stop, self._flush_timeout_ms / 1000, "otlp-traces-shutdown"):
            log.warning(
                "the collector did not take the queued spans within %s s: they are dropped",
                self._flush_timeout_ms / 1000,
            )

    def _flush_and_stop(self) -> None:
        try:
            if not self._provider.force_flush(self._flush_timeout_ms):
                log.warning("not every span reached the collector before shutdown")
        finally:
            self._provider.shutdown()


def build_tracer(config: SimulatorConfig) -> OtlpTracer:
    """The tracer for ``telemetry.tracing`` (its ``otlp_endpoint`` must be set).

    Raises ``ConfigError`` naming the ``otel`` extra when OpenTelemetry is not installed.
    """
    tracing = config.telemetry.tracing
    if not tracing.otlp_endpoint:
        raise ConfigError("telemetry.tracing.otlp_endpoint is not set")
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
        from opentelemetry.sdk.trace.id_generator import IdGenerator, RandomIdGenerator
        from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
    except ImportError as exc:
        raise missing_extra("tracing (telemetry.tracing.otlp_endpoint)") from exc

    class RecordIds(IdGenerator):
        """Hands out the ids preset from the record being exported (random ones when unset)."""

        def __init__(self) -> None:
            self.trace_id = 0
            self.span_id = 0
            self._random = RandomIdGenerator()

        def generate_trace_id(self) -> int:
            """The record's trace id."""
            return self.trace_id or self._random.generate_trace_id()

        def generate_span_id(self) -> int:
            """The record's span id."""
            return self.span_id or self._random.generate_span_id()

    ids = RecordIds()
    resource = Resource.create({"service.name": tracing.service_name, "service.version": __version__})
    provider = TracerProvider(
        sampler=ParentBased(TraceIdRatioBased(tracing.sample_ratio)),
        resource=resource,
        id_generator=ids,
        # Closed by the server's shutdown, bounded; at exit it would wait 30 s on a hung collector.
        shutdown_on_exit=False,
    )
    exporter = OTLPSpanExporter(
        endpoint=signal_url(tracing.otlp_endpoint, "traces"),
        headers=dict(tracing.headers),
        timeout=tracing.export_timeout_s,
    )
    # Queue size, batch size and delay keep the SDK's defaults and its OTEL_BSP_* variables.
    provider.add_span_processor(BatchSpanProcessor(exporter, export_timeout_millis=tracing.export_timeout_s * 1000))
    return OtlpTracer(provider, ids, tracing.export_timeout_s)
