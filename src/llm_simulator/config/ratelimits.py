"""Configuration of provider-faithful rate limits: ordered tiers of per-minute/day budgets."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class RateLimitTier(_Data):
    """Budgets for the keys and models it matches (the first matching tier applies).

    Each budget is a token bucket per (key, model): it holds up to ``limit × burst_multiplier``
    and refills at ``limit`` per minute (per day for the daily ones). Unset budgets are
    unlimited.
    """

    name: str = ""
    models: tuple[str, ...] = Field(default=(), description="Exact ids or globs; empty matches every model.")
    api_keys: tuple[str, ...] = Field(default=(), description="Keys (or organizations); empty matches all.")
    requests_per_minute: int | None = Field(default=None, ge=1)
    tokens_per_minute: int | None = Field(default=None, ge=1)
    input_tokens_per_minute: int | None = Field(default=None, ge=1)
    output_tokens_per_minute: int | None = Field(default=None, ge=1)
    requests_per_day: int | None = Field(default=None, ge=1)
    tokens_per_day: int | None = Field(default=None, ge=1)
    burst_multiplier: float = Field(default=1.0, ge=1.0)

    @model_validator(mode="after")
    def _has_budget(self) -> RateLimitTier:
        budgets = (
            self.requests_per_minute,
            self.tokens_per_minute,
            self.input_tokens_per_minute,
            self.output_tokens_per_minute,
            self.requests_per_day,
            self.tokens_per_day,
        )
        if all(b is None for b in budgets):
            raise ValueError("a tier needs at least one budget (requests_per_minute, tokens_per_minute, ...)")
        return self


class RateLimitsConfig(_Data):
    """Rate limits (off by default): tiers matched in order, per API key or organization."""

    enabled: bool = False
    key_by: Literal["api_key", "organization", "global"] = Field(
        default="api_key", description="What a bucket belongs to: the caller's key, its organization, or everyone."
    )
    tiers: tuple[RateLimitTier, ...] = Field(
        default=(), description="Ordered tiers; empty means the built-in defaults (see docs/chaos.md)."
    )
    backend: Literal["memory"] = Field(default="memory", description="Where bucket state lives.")
