"""Configuration of telemetry: Prometheus metrics, OpenTelemetry traces, and event sinks."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from llm_simulator.config.requestlog import RequestLogConfig
from llm_simulator.core.event_types import EVENT_TYPES


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Price(_Data):
    """A model's list price in US dollars per million tokens (for the simulated cost)."""

    input_per_mtok: float = Field(ge=0)
    output_per_mtok: float = Field(ge=0)


class MetricsConfig(_Data):
    """``/metrics`` (Prometheus text format) and the aggregates behind ``/admin/stats``."""

    enabled: bool = Field(default=True, description="Serve /metrics.")
    vllm_names: bool = Field(
        default=True,
        description="Also export vLLM's metric names (vllm:num_requests_running, ...) so vLLM dashboards work.",
    )
    prices: dict[str, Price] = Field(
        default_factory=dict,
        description="Model id → price per million tokens; overrides and extends the built-in table.",
    )
    loop_lag_interval_s: float = Field(
        default=0.5, gt=0, le=60, description="How often the event-loop lag probe wakes up (seconds)."
    )
    flush_interval_s: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="With several workers: how often each writes its aggregates for the others to merge.",
    )
    multiprocess_dir: str | None = Field(
        default=None,
        description="Directory shared by the workers of one server (set by `serve --workers N`; "
        "leave unset otherwise).",
    )


class TracingConfig(_Data):
    """OpenTelemetry spans, one per request, exported over OTLP/HTTP (the ``otel`` extra)."""

    otlp_endpoint: str | None = Field(
        default=None,
        description="OTLP/HTTP collector base URL (e.g. http://localhost:4318); tracing is off without it.",
    )
    service_name: str = Field(default="llm-simulator", min_length=1)
    sample_ratio: float = Field(default=1.0, ge=0, le=1, description="Share of new traces recorded.")
    headers: dict[str, str] = Field(default_factory=dict, description="Extra headers sent to the collector.")
    export_timeout_s: float = Field(default=10.0, gt=0, le=300)


SinkType = Literal["jsonl", "stdout", "webhook", "otlp"]


class SinkConfig(_Data):
    """One destination for lifecycle events (see docs/events.md)."""

    type: SinkType
    name: str | None = Field(
        default=None,
        min_length=1,
        description="Label of the sink in /metrics and /admin/stats (default: its type and target).",
    )
    path: str | None = Field(default=None, description="jsonl: the file to append to (parent directories are created).")
    url: str | None = Field(default=None, description="webhook: the http(s) URL batches are POSTed to.")
    headers: dict[str, str] = Field(default_factory=dict, description="webhook/otlp: extra request headers.")
    endpoint: str | None = Field(
        default=None, description="otlp: collector base URL (defaults to telemetry.tracing.otlp_endpoint)."
    )
    events: tuple[str, ...] = Field(default=(), description="Event types to send (empty: all).")
    batch_size: int = Field(default=100, ge=1, le=10_000, description="Events per delivery at most.")
    flush_interval_s: float = Field(
        default=1.0, gt=0, le=60, description="Longest wait before a partial batch is delivered (seconds)."
    )
    queue_size: int = Field(default=10_000, ge=1, le=1_000_000, description="Events held before new ones drop.")
    max_retries: int = Field(default=5, ge=0, le=50, description="webhook: attempts after the first.")
    backoff_s: float = Field(default=0.5, gt=0, le=60, description="webhook: first retry delay (doubles).")
    timeout_s: float = Field(
        default=5.0,
        gt=0,
        le=120,
        description="webhook/otlp: per-request timeout; every sink: the longest shutdown waits to deliver the queue.",
    )

    @field_validator("events")
    @classmethod
    def _known_events(cls, events: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [e for e in events if e not in EVENT_TYPES]
        if unknown:
            names = ", ".join(repr(e) for e in unknown)
            raise ValueError(f"unknown event type {names}; valid types: {', '.join(EVENT_TYPES)}")
        return events

    @model_validator(mode="after")
    def _destination(self) -> SinkConfig:
        if self.type == "jsonl" and not self.path:
            raise ValueError("a jsonl sink needs `path` (the file events are appended to)")
        if self.type == "webhook":
            if not self.url:
                raise ValueError("a webhook sink needs `url` (the http:// or https:// URL batches are POSTed to)")
            _check_http_url("url", self.url)
        if self.endpoint is not None:
            _check_http_url("endpoint", self.endpoint)
        return self

    @property
    def sink_name(self) -> str:
        """The sink's label: ``name`` when set, else its type and target (a URL without query or credentials)."""
        if self.name:
            return self.name
        if self.type == "jsonl":
            return f"jsonl:{self.path}"
        if self.type == "webhook" and self.url:
            return f"webhook:{_public_url(self.url)}"
        if self.type == "otlp" and self.endpoint:
            return f"otlp:{_public_url(self.endpoint)}"
        return self.type


def _check_http_url(key: str, url: str) -> None:
    """Reject anything but an absolute http(s) URL with a host, naming ``key``."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"{key} must start with http:// or https://, got {url!r}")
    if not parts.hostname:
        raise ValueError(f"{key} has no host: {url!r}")
    try:
        parts.port  # noqa: B018 - parsing the port is the check
    except ValueError:
        raise ValueError(f"{key} has an invalid port: {url!r}") from None


def _public_url(url: str) -> str:
    """``url`` without credentials, query or fragment (a token there must not reach /metrics)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 literal goes back in brackets
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


class EventsConfig(_Data):
    """Request lifecycle events (schema ``llm_simulator.event/v1``) and where they go."""

    sinks: tuple[SinkConfig, ...] = Field(default=(), description="Event destinations; none: events are off.")

    @model_validator(mode="after")
    def _distinct_names(self) -> EventsConfig:
        # The name labels the sink's counters in /metrics: two sinks with one name would
        # export clashing series.
        seen: set[str] = set()
        for spec in self.sinks:
            if spec.sink_name in seen:
                raise ValueError(f"two event sinks are named {spec.sink_name!r}; give each a distinct `name`")
            seen.add(spec.sink_name)
        return self


class TelemetryConfig(_Data):
    """Metrics, traces and events."""

    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    tracing: TracingConfig = Field(default_factory=TracingConfig)
    events: EventsConfig = Field(default_factory=EventsConfig)
    request_log: RequestLogConfig = Field(default_factory=RequestLogConfig)
