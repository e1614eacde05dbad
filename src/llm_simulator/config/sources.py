"""An adapter's upstream in configuration: a URL or a file (``adapters.*.sources[]``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class UpstreamSource(BaseModel):
    """One upstream: exactly one of ``url`` and ``file``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str | None = Field(default=None, pattern=r"^https?://", description="An http(s) URL to fetch.")
    file: str | None = Field(
        default=None,
        min_length=1,
        description="A file to read; relative paths in a config file are relative to that file.",
    )

    @model_validator(mode="after")
    def _one_upstream(self) -> UpstreamSource:
        if (self.url is None) == (self.file is None):
            raise ValueError("give exactly one of url and file")
        return self

    @property
    def location(self) -> str:
        """The URL or the file path."""
        return self.url if self.url is not None else str(self.file)
