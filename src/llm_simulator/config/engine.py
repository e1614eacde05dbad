"""Configuration of the load-aware engine: simulated deployments and which models they serve.

With no deployment configured, every model keeps its sampled latency profile (the
default). A deployment is a built-in preset (listed in docs/latency.md and ``GET /admin/engine``),
optionally with engine limits, replicas, routing or step-time coefficients overridden, or a
fully specified engine (step-time coefficients and ``kv_blocks``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Router = Literal["round_robin", "least_loaded", "prefix_aware"]


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StepTimeConfig(_Data):
    """Step-time coefficients (ms); each one given replaces the preset's (see docs/latency.md)."""

    step_ms: float | None = Field(default=None, ge=0, description="Fixed cost of every step.")
    weights_ms: float | None = Field(default=None, ge=0, description="Reading the weights once per step.")
    prefill_ms_per_token: float | None = Field(default=None, ge=0, description="Compute per token in a step.")
    kv_ms_per_token: float | None = Field(default=None, ge=0, description="Reading one token of decode context.")
    decode_ms_per_token: float | None = Field(
        default=None, ge=0, description="Compute per decode token (unset without a preset: prefill_ms_per_token)."
    )
    comm_ms_per_token: float | None = Field(
        default=None, ge=0, description="Tensor-parallel all-reduce per token in a step (serial)."
    )
    seq_ms: float | None = Field(default=None, ge=0, description="Per sequence in the batch.")
    overlap: float | None = Field(default=None, ge=0, le=1, description="Share of the smaller cost not hidden.")
    attention_ms_per_token_pair: float | None = Field(default=None, ge=0)
    jitter_sigma: float | None = Field(default=None, ge=0, le=2, description="Log-normal σ of step noise.")
    stall_probability: float | None = Field(default=None, ge=0, le=1)
    stall_ms: float | None = Field(default=None, ge=0)
    front_ms: float | None = Field(default=None, ge=0, description="Arrival to queue; added to TTFT.")
    cold_shape_ms: float | None = Field(
        default=None, ge=0, description="Warm-up: added to the first step of each new shape when cold_start is on."
    )


class DeploymentConfig(_Data):
    """One simulated deployment; unset fields come from ``preset``."""

    preset: str | None = Field(default=None, description="A built-in deployment to start from.")
    description: str = ""
    models: tuple[str, ...] = Field(default=(), description="Model ids (or aliases) this deployment serves.")
    replicas: int | None = Field(default=None, ge=1, le=256)
    router: Router | None = None
    max_num_seqs: int | None = Field(default=None, ge=1, le=65_536)
    max_num_batched_tokens: int | None = Field(default=None, ge=1, le=1_048_576)
    kv_blocks: int | None = Field(default=None, ge=1)
    block_size: int | None = Field(default=None, ge=1, le=1024)
    prefix_caching: bool | None = None
    chunked_prefill: bool | None = Field(
        default=None, description="Split long prompts across steps (vLLM); off: a prompt joins a step whole."
    )
    schedule_ahead: int | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Steps the scheduler works ahead (1: vLLM's async scheduling — an arrival during a step "
        "joins the step after next).",
    )
    max_waiting: int | None = Field(default=None, ge=1, description="Queue bound; one more is refused.")
    queue_timeout_ms: float | None = Field(default=None, ge=0, description="Most a request waits; 0: no limit.")
    overload_status: Literal[429, 503, 529] | None = Field(
        default=None, description="Status of an overload refusal; unset: the provider's own (503, 529, 503)."
    )
    cold_start: bool | None = Field(
        default=None,
        description="Start as a freshly launched server (the first step of each shape pays step.cold_shape_ms); "
        "default off: a server that has served before.",
    )
    step: StepTimeConfig = Field(default_factory=StepTimeConfig)


class EngineConfig(_Data):
    """Deployments, and the one every other chat model gets its own copy of."""

    default_deployment: str | None = Field(
        default=None,
        description="A deployment (configured or built-in) every chat model not listed elsewhere gets its own "
        "instance of; unset: sampled latency profiles.",
    )
    deployments: dict[str, DeploymentConfig] = Field(default_factory=dict)
