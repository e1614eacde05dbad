"""Configuration of the request log and journal: the requests the simulator received and its answers."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class RequestLogConfig(BaseModel):
    """A bounded in-memory log of received requests and their answers (``GET /admin/requests``).

    ``enabled`` keeps every request (off by default). ``scoped`` keeps the requests of test
    scopes (those carrying a test id) even when ``enabled`` is off: a test that names itself
    wants its journal. Each scope keeps its newest ``max_entries_per_scope``; past
    ``max_scopes`` the scope written to least recently is dropped whole.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(default=False, description="Keep the most recent requests for GET /admin/requests.")
    max_entries: int = Field(default=1000, ge=1, le=1_000_000, description="Requests kept (oldest dropped first).")
    max_body_bytes: int = Field(
        default=65_536, ge=0, le=16 * 1024 * 1024, description="Bodies longer than this are kept truncated."
    )
    scoped: bool = Field(
        default=True, description="Journal requests carrying a test id even when 'enabled' is off (per scope)."
    )
    max_scopes: int = Field(default=256, ge=1, le=100_000, description="Test scopes journaled (least recent dropped).")
    max_entries_per_scope: int = Field(
        default=200, ge=1, le=100_000, description="Requests kept per test scope (oldest dropped first)."
    )
