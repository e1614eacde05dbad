"""The configuration schema: every key, its default and its constraints.

Unknown keys are rejected (``extra="forbid"``) and the whole tree is frozen after load.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from llm_simulator.config.adapters import AdaptersConfig
from llm_simulator.config.bedrock import BedrockConfig
from llm_simulator.config.chaos import ChaosConfig
from llm_simulator.config.distributions import DistributionSpec, LatencyProfileSpec, LogNormalSpec
from llm_simulator.config.engine import EngineConfig
from llm_simulator.config.proxy import ProxyConfig
from llm_simulator.config.ratelimits import RateLimitsConfig
from llm_simulator.config.scopes import ScopesConfig
from llm_simulator.config.security import AuthConfig, SecurityConfig
from llm_simulator.config.state import StateConfig
from llm_simulator.config.telemetry import TelemetryConfig
from llm_simulator.config.token_counts import TokenCountSpec

Strategy = Literal["lorem", "echo", "template", "fixed", "random", "corpus"]
Capability = Literal["chat", "completion", "embedding", "tools", "vision", "reasoning", "streaming"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerConfig(_Section):
    """Where and how the HTTP server listens."""

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    implementation: Literal["granian", "uvicorn"] = "granian"
    # One process instead of granian's supervisor and one worker: granian's embedded server in
    # the CLI's own event loop (≈ 13 MiB of idle PSS less; a crashed server is not replaced).
    single_process: bool = False
    max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    drain_timeout_s: float = Field(default=30.0, ge=0)

    @model_validator(mode="after")
    def _single_process_is_one_granian_worker(self) -> ServerConfig:
        if self.single_process and (self.workers != 1 or self.implementation != "granian"):
            raise ValueError("server.single_process: one process serves, so it needs workers 1 and granian")
        return self


class LatencyConfig(_Section):
    """Timing: which profile applies, a global multiplier, and user-defined profiles."""

    enabled: bool = True
    multiplier: float = Field(default=1.0, ge=0)
    default_profile: str = "standard"
    profiles: dict[str, LatencyProfileSpec] = Field(default_factory=dict)


def _default_output_tokens() -> DistributionSpec:
    return LogNormalSpec(mean_ms=120.0, std_dev_ms=60.0)


class GenerationConfig(_Section):
    """How response text is produced and how long it is."""

    strategy: Strategy = "lorem"
    fixed_text: str = "This is a simulated response from llm-simulator."
    output_tokens: TokenCountSpec = Field(
        default_factory=_default_output_tokens,
        description="Distribution of natural output length in tokens (fields *_tokens, e.g. mean_tokens).",
    )
    tool_call_probability: float = Field(
        default=0.8, ge=0, le=1, description="Chance that a model offered tools calls one under tool_choice auto."
    )
    answer_after_tool_result: bool = Field(
        default=True, description="When the last turn carries tool results, answer in text (ends agent loops)."
    )
    max_parallel_tool_calls: int = Field(default=3, ge=1, le=128)


class ModelConfig(_Section):
    """A model added to (or overriding one in) the built-in catalogue."""

    id: str = Field(min_length=1)
    provider: Literal["openai", "anthropic", "google", "ollama"] = "openai"
    kind: Literal["chat", "embedding"] = "chat"
    context_window: int = Field(default=128_000, ge=16)
    max_output_tokens: int = Field(default=16_384, ge=1)
    embedding_dimensions: int | None = Field(default=None, ge=1)
    # "chat": served on the chat endpoints; "completion": on the legacy /v1/completions.
    capabilities: tuple[Capability, ...] = ("chat", "completion", "streaming")
    latency_profile: str | None = None
    output_tokens: TokenCountSpec | None = None
    owned_by: str | None = None
    tool_call_probability: float | None = Field(default=None, ge=0, le=1)


class ModelsConfig(_Section):
    """The model catalogue: additions, aliases, and whether unknown ids are accepted."""

    accept_unknown: bool = False
    unknown_model_profile: str | None = None
    add: tuple[ModelConfig, ...] = ()
    aliases: dict[str, str] = Field(default_factory=dict)
    # Azure OpenAI deployment name → the model it serves (unmapped names are tried as model ids).
    azure_deployments: dict[str, str] = Field(default_factory=dict)


class LoggingConfig(_Section):
    """Log level and format."""

    level: Literal["debug", "info", "warning", "error"] = "info"
    json_logs: bool = False
    access_log: bool = Field(default=False, description="One info line per request, with its request id.")


class FixturesConfig(_Section):
    """Scripted fixtures: files of rules and scenarios, and how sessions are identified."""

    files: tuple[str, ...] = Field(
        default=(),
        description="Fixture files (YAML or JSON), loaded in order; relative paths in a config file "
        "are relative to that file.",
    )
    session_header: str = Field(
        default="x-simulator-session",
        min_length=1,
        pattern=r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$",
        description="Request header naming a scenario session (without it: the conversation's content).",
    )
    max_sessions: int = Field(default=10_000, ge=1, description="Sessions kept (least recently used dropped).")
    strict: bool = Field(
        default=False,
        description="Strict mode: a generation or embedding request no fixture matches gets a 400 "
        "(strict_no_fixture) instead of generated text. A test scope can override it.",
    )

    @field_validator("session_header")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.lower()


class BatchesConfig(_Section):
    """Stored files, batch jobs and background responses: storage bounds and their clocks."""

    max_files: int = Field(default=1000, ge=1, description="Files kept at once (uploads and batch outputs).")
    max_file_bytes: int = Field(default=200 * 1024 * 1024, ge=1, description="Largest single file.")
    max_stored_bytes: int = Field(default=512 * 1024 * 1024, ge=1, description="Bytes of every stored file together.")
    max_batches: int = Field(default=1000, ge=1, description="Batches kept at once (finished ones go first).")
    max_requests_per_batch: int = Field(default=50_000, ge=1)
    validating_s: float = Field(default=0.2, ge=0, description="Time a batch spends validating.")
    finalizing_s: float = Field(default=0.2, ge=0, description="Time a batch spends finalizing.")
    time_scale: float = Field(
        default=1.0,
        ge=0,
        description="A batch's clock: multiplies its phase times, each line's latency and its window (0: instant).",
    )
    completion_window_s: float = Field(
        default=24 * 3600.0,
        gt=0,
        description="A batch's completion window before time_scale (the APIs' 24 h); unfinished work then expires.",
    )
    background_time_scale: float = Field(
        default=1.0, ge=0, description="Multiplies the latency of Responses background mode (0: instant)."
    )
    concurrency: int = Field(default=16, ge=1, le=1024, description="A batch's requests in flight at once.")


class SimulatorConfig(_Section):
    """The whole effective configuration."""

    seed: int | None = None
    server: ServerConfig = Field(default_factory=ServerConfig)
    latency: LatencyConfig = Field(default_factory=LatencyConfig)
    engine: EngineConfig = Field(default_factory=EngineConfig)
    generation: GenerationConfig = Field(default_factory=GenerationConfig)
    models: ModelsConfig = Field(default_factory=ModelsConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    auth: AuthConfig = Field(default_factory=AuthConfig)
    fixtures: FixturesConfig = Field(default_factory=FixturesConfig)
    chaos: ChaosConfig = Field(default_factory=ChaosConfig)
    rate_limits: RateLimitsConfig = Field(default_factory=RateLimitsConfig)
    security: SecurityConfig = Field(default_factory=SecurityConfig)
    telemetry: TelemetryConfig = Field(default_factory=TelemetryConfig)
    batches: BatchesConfig = Field(default_factory=BatchesConfig)
    adapters: AdaptersConfig = Field(default_factory=AdaptersConfig)
    bedrock: BedrockConfig = Field(default_factory=BedrockConfig)
    proxy: ProxyConfig = Field(default_factory=ProxyConfig)
    state: StateConfig = Field(default_factory=StateConfig)
    scopes: ScopesConfig = Field(default_factory=ScopesConfig)

    @model_validator(mode="after")
    def _aliases_do_not_chain(self) -> SimulatorConfig:
        # Targets are checked against the full catalogue when the catalogue is built.
        for alias, target in self.models.aliases.items():
            if alias == target:
                raise ValueError(f"models.aliases.{alias}: an alias cannot point to itself")
            if target in self.models.aliases:
                raise ValueError(f"models.aliases.{alias}: aliases cannot chain ({target})")
        return self
