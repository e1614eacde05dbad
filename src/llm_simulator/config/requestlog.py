"""Configuration of the request log: the recent requests the simulator received, for tests."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class RequestLogConfig(BaseModel):
    """A bounded in-memory log of received requests (``GET /admin/requests``); off by default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(default=False, description="Keep the most recent requests for GET /admin/requests.")
    max_entries: int = Field(default=1000, ge=1, le=1_000_000, description="Requests kept (oldest dropped first).")
    max_body_bytes: int = Field(
        default=65_536, ge=0, le=16 * 1024 * 1024, description="Bodies longer than this are kept truncated."
    )
