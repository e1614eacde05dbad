"""Configuration of telemetry: Prometheus metrics, OpenTelemetry traces, and event sinks."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


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
    """One destination for lifecycle events."""

    type: SinkType
    path: str | None = Field(default=None, description="jsonl: the file to append to.")
    url: str | None = Field(default=None, description="webhook: the URL batches are POSTed to.")
    headers: dict[str, str] = Field(default_factory=dict, description="webhook: extra request headers.")
    endpoint: str | None = Field(
        default=None, description="otlp: collector base URL (defaults to telemetry.tracing.otlp_endpoint)."
    )
    events: tuple[str, ...] = Field(default=(), description="Event types to send (empty: all).")
    batch_size: int = Field(default=100, ge=1, le=10_000)
    flush_interval_s: float = Field(default=1.0, gt=0, le=60)
    queue_size: int = Field(default=10_000, ge=1, le=1_000_000, description="Events held before new ones drop.")
    max_retries: int = Field(default=5, ge=0, le=50, description="webhook: attempts after the first.")
    backoff_s: float = Field(default=0.5, gt=0, le=60, description="webhook: first retry delay (doubles).")
    timeout_s: float = Field(default=5.0, gt=0, le=120, description="webhook: per-request timeout.")

    @model_validator(mode="after")
    def _destination(self) -> SinkConfig:
        if self.type == "jsonl" and not self.path:
            raise ValueError("a jsonl sink needs a path")
        if self.type == "webhook":
            if not self.url:
                raise ValueError("a webhook sink needs a url")
            if not self.url.startswith(("http://", "https://")):
                raise ValueError(f"webhook url must start with http:// or https://, got {self.url!r}")
        return self


class EventsConfig(_Data):
    """Request lifecycle events (schema ``llm_simulator.event/v1``) and where they go."""

    sinks: tuple[SinkConfig, ...] = Field(default=(), description="Event destinations; none: events are off.")


class TelemetryConfig(_Data):
    """Metrics, traces and events."""

    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    tracing: TracingConfig = Field(default_factory=TracingConfig)
    events: EventsConfig = Field(default_factory=EventsConfig)
