"""Configuration of the adapters: optional consumers of upstream data (``adapters:``).

Each adapter is off unless enabled. The latency-profiles adapter keeps named profiles in step
with an upstream (a URL or a file) holding a profile document or a measurement to fit; each
source names the one profile it provides and the profile served until its first good fetch
(``fallback``). ``infra`` shapes the cache, retries and circuit breakers every adapter's
upstream calls go through.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from llm_simulator.config.router import RouterAdapterConfig
from llm_simulator.config.sources import UpstreamSource

PROFILE_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProfileSourceConfig(UpstreamSource):
    """One upstream of latency data: exactly one of ``url`` and ``file``."""

    profile: str = Field(pattern=PROFILE_NAME, description="Name of the profile this source provides.")
    fallback: str = Field(default="standard", description="Profile served under this name until the first good fetch.")
    point: int = Field(default=0, ge=0, description="Load point of a multi-point measurement report.")


class LatencyProfilesAdapterConfig(_Data):
    """The latency lens as a live adapter: profiles pulled from upstreams and refreshed on a TTL."""

    enabled: bool = False
    refresh_s: float = Field(default=300.0, ge=0.05, description="How long a fetched profile is fresh (the TTL).")
    timeout_s: float = Field(default=5.0, gt=0, description="Limit of one fetch attempt.")
    retry_s: float = Field(
        default=30.0, ge=0.05, description="After a failed load, try again this soon (at most refresh_s)."
    )
    sources: tuple[ProfileSourceConfig, ...] = ()

    @model_validator(mode="after")
    def _distinct(self) -> LatencyProfilesAdapterConfig:
        names = [s.profile for s in self.sources]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"sources: profile {duplicates[0]!r} is provided by more than one source")
        if self.enabled and not self.sources:
            raise ValueError("enabled without sources: add at least one {profile, url|file}")
        return self


TraceSourceConfig = UpstreamSource
"""One upstream of OTLP/JSON trace spans (or of an exported lineage graph): a URL or a file."""


class ObservatoryAdapterConfig(_Data):
    """Trace spans of real LLM calls (files, URLs, the OTLP/HTTP receiver) turned into behaviour."""

    enabled: bool = False
    receiver: bool = Field(default=True, description="Accept OTLP/JSON spans at POST /v1/traces.")
    sources: tuple[TraceSourceConfig, ...] = ()
    refresh_s: float = Field(default=300.0, ge=0.05, description="How long a loaded source is fresh (the TTL).")
    timeout_s: float = Field(default=5.0, gt=0, description="Limit of one fetch attempt.")
    retry_s: float = Field(default=30.0, ge=0.05, description="After a failed load, try again this soon.")
    apply_s: float = Field(default=5.0, ge=0.05, description="Received spans change the behaviour this often.")
    max_spans: int = Field(default=50_000, ge=1, le=5_000_000, description="Received spans kept (the newest).")
    min_calls: int = Field(default=20, ge=1, description="Calls of a model before its behaviour is derived.")
    latency: bool = Field(default=True, description="Serve each observed model with a profile fitted to its calls.")
    output_lengths: bool = Field(default=True, description="Draw output lengths from the observed ones.")
    errors: bool = Field(default=True, description="Add a chaos rule with the observed error rate and mix.")


class LineageAdapterConfig(_Data):
    """Conversation lineage: sessions, turns, response chains and tool calls as a bounded graph."""

    enabled: bool = False
    session_header: str = Field(
        default="x-session-id", pattern=r"^[a-z0-9-]+$", description="Header naming the session (else inferred)."
    )
    max_sessions: int = Field(default=1000, ge=1, le=1_000_000, description="Sessions kept (least recent dropped).")
    max_turns: int = Field(default=200, ge=1, le=100_000, description="Turns kept per session (oldest dropped).")
    max_stream_bytes: int = Field(
        default=1_048_576, ge=1024, description="Bytes of a streamed response read for its tool calls and id."
    )
    sources: tuple[TraceSourceConfig, ...] = Field(
        default=(), description="Exported lineage graphs (JSON) that prime sessions' history."
    )
    refresh_s: float = Field(default=300.0, ge=0.05)
    timeout_s: float = Field(default=5.0, gt=0)
    retry_s: float = Field(default=30.0, ge=0.05)


class AdapterInfraConfig(_Data):
    """Cache, retry and breaker settings shared by every adapter's upstream calls."""

    cache_max_entries: int = Field(default=1000, ge=1)
    max_retries: int = Field(default=2, ge=0, le=10, description="Retries of a failed fetch, within one refresh.")
    retry_base_delay_s: float = Field(default=0.2, ge=0)
    retry_max_delay_s: float = Field(default=5.0, ge=0)
    retry_budget_per_minute: float | None = Field(
        default=30.0, gt=0, description="Retries per minute over every upstream (null: no budget)."
    )
    breaker_failure_threshold: int = Field(default=5, ge=1, description="Failures within a minute that open it.")
    breaker_recovery_s: float = Field(default=30.0, ge=0, description="How long an open breaker refuses calls.")


class AdaptersConfig(_Data):
    """Every adapter (off by default) and their shared upstream machinery."""

    latency_profiles: LatencyProfilesAdapterConfig = Field(default_factory=LatencyProfilesAdapterConfig)
    observatory: ObservatoryAdapterConfig = Field(default_factory=ObservatoryAdapterConfig)
    router: RouterAdapterConfig = Field(default_factory=RouterAdapterConfig)
    lineage: LineageAdapterConfig = Field(default_factory=LineageAdapterConfig)
    infra: AdapterInfraConfig = Field(default_factory=AdapterInfraConfig)

    def declared_profiles(self) -> dict[str, str]:
        """Profile name → its fallback, for every enabled source (names the simulator must know)."""
        section = self.latency_profiles
        return {s.profile: s.fallback for s in section.sources} if section.enabled else {}
