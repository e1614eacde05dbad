"""Configuration of the router adapter: routing rules and where they come from (``adapters.router``).

A rule has AND-ed conditions (``when``), one action, a priority (the lowest matching one
decides) and an enabled flag. Rules come from this section, from the admin API
(``PUT /admin/router/rules``, validated by the same models) and from rule documents at URLs or
files refreshed on a TTL. See docs/adapters.md for the semantics.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from llm_simulator.config.chaos import ErrorType
from llm_simulator.config.sources import UpstreamSource


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class TokenRange(_Data):
    """An inclusive range of prompt tokens (either end open)."""

    min: int = Field(default=0, ge=0)
    max: int | None = Field(default=None, ge=0)


class HourWindow(_Data):
    """UTC hours ``[start, end)``; ``start > end`` wraps past midnight (22 → 6)."""

    start: int = Field(ge=0, le=23)
    end: int = Field(ge=0, le=24)


class Conditions(_Data):
    """What a request must match (every given condition; none given matches every request)."""

    model: str | None = Field(default=None, description="Substring of the requested model.")
    provider: Literal["openai", "anthropic", "gemini", "ollama", "bedrock"] | None = None
    headers: dict[str, str] = Field(default_factory=dict, description="Header name → glob its value must match.")
    prompt_tokens: TokenRange | None = None
    stream: bool | None = None
    percent: float | None = Field(
        default=None, ge=0, le=100, description="Share of clients, by a stable hash of the client id."
    )
    hours_utc: HourWindow | None = None


class PoolMember(_Data):
    """One model of a weighted pool."""

    model: str = Field(min_length=1)
    weight: float = Field(default=1.0, gt=0)


class Action(_Data):
    """What a matching rule does.

    ``route`` (to ``model``), ``pool`` (a weighted random member), ``rate_limit`` (refuse past
    ``requests_per_minute`` with the provider's 429, else go on), ``reject`` (the provider's
    error of ``error_type``), ``transform`` (set body ``params`` and request ``headers``, then
    go on), ``continue`` (note the match, go on).
    """

    type: Literal["route", "pool", "rate_limit", "reject", "transform", "continue"]
    model: str | None = Field(default=None, min_length=1)
    pool: tuple[PoolMember, ...] = ()
    requests_per_minute: float | None = Field(default=None, gt=0)
    burst: int | None = Field(default=None, ge=1)
    error_type: ErrorType = "invalid_request"
    status: int | None = Field(default=None, ge=400, le=599)
    message: str | None = None
    params: dict[str, object] = Field(default_factory=dict)
    headers: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _complete(self) -> Action:
        if self.type == "route" and self.model is None:
            raise ValueError("route needs model")
        if self.type == "pool" and not self.pool:
            raise ValueError("pool needs a non-empty pool: [{model, weight}]")
        if self.type == "rate_limit" and self.requests_per_minute is None:
            raise ValueError("rate_limit needs requests_per_minute")
        if self.type == "reject" and self.error_type == "hang":
            raise ValueError("reject cannot hang: pick an error type")
        if self.type == "transform" and not (self.params or self.headers):
            raise ValueError("transform needs params or headers")
        return self


class RouteRule(_Data):
    """One routing rule."""

    name: str = Field(min_length=1, max_length=100)
    priority: int = Field(default=100, description="The lowest matching priority decides.")
    enabled: bool = True
    when: Conditions = Field(default_factory=Conditions)
    action: Action


RuleSourceConfig = UpstreamSource
"""A rules document (``{rules: [...]}`` or a list) at a URL or in a file."""


class RouterAdapterConfig(_Data):
    """Routing rules applied to every inference request before it is served."""

    enabled: bool = False
    rules: tuple[RouteRule, ...] = ()
    sources: tuple[RuleSourceConfig, ...] = ()
    refresh_s: float = Field(default=60.0, ge=0.05, description="How long a loaded rules document is fresh.")
    timeout_s: float = Field(default=5.0, gt=0)
    retry_s: float = Field(default=15.0, ge=0.05)
    header: str = Field(
        default="x-simulator-route", pattern=r"^[a-z0-9-]+$", description="Response header with the decision."
    )
    client_id_header: str = Field(
        default="x-client-id",
        pattern=r"^[a-z0-9-]+$",
        description="Header naming the client for percent splits (else its API key, else the request).",
    )

    @model_validator(mode="after")
    def _distinct(self) -> RouterAdapterConfig:
        names = [r.name for r in self.rules]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"rules: {duplicates[0]!r} is used by more than one rule")
        return self
