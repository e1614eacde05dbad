"""Where fleet-wide state lives: this process's memory (default) or a shared Redis.

``state.url`` alone selects Redis (``--state redis://host:6379/0``, ``LLM_SIMULATOR_STATE``);
the value ``memory`` selects the default. ``on_error`` says what a replica does while Redis
is unreachable at run time (docs/scaling.md): ``fail_open`` keeps serving from its own
memory, ``fail_closed`` answers the provider's own 503.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class StateConfig(BaseModel):
    """The state backend: rate-limit buckets, chaos state, scenario sessions, stored responses."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    backend: Literal["memory", "redis"] = Field(default="memory", description="memory (per process) or redis.")
    url: str | None = Field(default=None, description="redis://[:password@]host:port/db (rediss:// for TLS).")
    on_error: Literal["fail_open", "fail_closed"] = Field(
        default="fail_open",
        description="While Redis is unreachable: serve from local state, or answer the provider's 503.",
    )
    key_prefix: str = Field(default="llmsim:", description="Prefix of every key, so fleets can share one Redis.")
    timeout_s: float = Field(default=0.5, gt=0, le=30, description="Socket connect and read timeout.")
    retry_after_s: float = Field(
        default=1.0, gt=0, le=60, description="While Redis is down, how long before the next attempt to reach it."
    )
    sync_interval_s: float = Field(
        default=0.25, gt=0, le=1, description="How often a replica polls the chaos state's version."
    )

    @model_validator(mode="before")
    @classmethod
    def _url_selects(cls, data: Any) -> Any:
        """``url: memory`` means the memory backend; a redis URL alone selects Redis."""
        if not isinstance(data, dict):
            return data
        url = data.get("url")
        if url == "memory":
            return {**{k: v for k, v in data.items() if k != "url"}, "backend": data.get("backend", "memory")}
        if url and "backend" not in data:
            return {**data, "backend": "redis"}
        return data

    @model_validator(mode="after")
    def _redis_needs_url(self) -> StateConfig:
        if self.backend == "redis":
            if not self.url:
                raise ValueError("state.backend redis needs state.url (redis://host:port/db)")
            if not self.url.startswith(("redis://", "rediss://", "unix://")):
                raise ValueError(f"state.url must start with redis://, rediss:// or unix:// (got {self.url!r})")
        return self
