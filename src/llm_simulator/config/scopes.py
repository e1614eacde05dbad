"""Test scopes (docs/testing.md, "Shared servers"): how many, for how long, and how large.

A scope holds one test's chaos rules, fixtures, one-shot faults and counters on a server
shared by many tests. Every bound here keeps a runaway suite from growing the server's
memory without limit: scopes expire when idle, the least recently used is evicted past
``max_scopes``, and each scope's contents are capped.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ScopesConfig(BaseModel):
    """Test scopes: their idle lifetime, their number and the size of each."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    idle_ttl_s: float = Field(
        default=900.0,
        gt=0,
        le=86_400,
        description="A scope unused (no request, no admin call naming it) this long is dropped.",
    )
    max_scopes: int = Field(
        default=1000, ge=1, le=100_000, description="Scopes kept at once (the least recently used is evicted)."
    )
    max_rules: int = Field(default=100, ge=1, le=10_000, description="Chaos rules (and scenarios) per scope.")
    max_fixtures: int = Field(default=200, ge=1, le=10_000, description="Fixture rules and scenarios per scope.")
    max_faults: int = Field(default=100, ge=1, le=10_000, description="One-shot faults armed per scope.")
    max_sessions: int = Field(default=100, ge=1, le=10_000, description="Scenario sessions per scope.")
