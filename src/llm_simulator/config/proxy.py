"""Configuration of proxy mode, recording and replay (``proxy:``; see docs/proxy.md)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

ReplayMatch = Literal["exact", "model_messages", "last_user", "custom"]
ReplayMiss = Literal["simulate", "error"]
ReplayTiming = Literal["recorded", "model"]
ReplayIds = Literal["fresh", "recorded"]
# Where a custom match key's paths start: the parts of a normalised (cassette) request.
KEY_ROOTS = ("method", "path", "query", "headers", "json")


class ProxyConfig(BaseModel):
    """Forward provider requests to a real upstream, record exchanges as cassettes, replay them.

    ``upstream`` serves every provider unless ``upstreams`` names one for it (``openai``,
    which also carries Azure OpenAI paths, ``anthropic``, ``gemini``). A provider with
    neither is simulated as usual. ``api_keys`` replaces the caller's credentials for that
    provider's upstream (the caller's are forwarded otherwise).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    upstream: str | None = Field(default=None, description="Base URL every provider's requests are forwarded to.")
    upstreams: dict[Literal["openai", "anthropic", "gemini"], str] = Field(
        default_factory=dict, description="Base URL per provider, over `upstream`."
    )
    api_keys: dict[Literal["openai", "anthropic", "gemini"], SecretStr] = Field(
        default_factory=dict, description="Key sent upstream instead of the caller's, per provider."
    )
    connect_timeout_s: float = Field(default=5.0, gt=0, description="Upstream connect timeout.")
    read_timeout_s: float = Field(default=300.0, gt=0, description="Longest wait for the next upstream bytes.")
    max_connections: int = Field(default=100, ge=1, le=10_000, description="Pooled upstream connections.")
    record_dir: str | None = Field(default=None, description="Write every proxied exchange here as JSONL cassettes.")
    redact_paths: tuple[str, ...] = Field(
        default=("user", "metadata.user_id"),
        description="Dotted JSON paths of request bodies replaced by [redacted] in cassettes.",
    )
    replay_dir: str | None = Field(default=None, description="Answer from the cassettes in this directory.")
    replay_match: ReplayMatch = Field(default="exact", description="How a request finds its cassette entry.")
    replay_key: tuple[str, ...] = Field(
        default=(),
        description="With replay_match: custom, the dotted paths of the normalised request the key is made of "
        "(json.model, json.messages.-1.content, query.alt, ...).",
    )
    replay_time_scale: float = Field(
        default=1.0, ge=0, description="Recorded chunk offsets are multiplied by this (0: no waiting)."
    )
    replay_timing: ReplayTiming = Field(
        default="recorded",
        description="recorded: each chunk at its recorded offset (x replay_time_scale); model: re-timed by the "
        "model's latency profile or its load-aware engine.",
    )
    replay_ids: ReplayIds = Field(
        default="fresh", description="fresh: new ids and timestamps in each replayed answer; recorded: as recorded."
    )
    replay_miss: ReplayMiss = Field(
        default="simulate", description="On a miss: simulate, or a provider-shaped error (strict mode)."
    )

    @model_validator(mode="after")
    def _urls(self) -> ProxyConfig:
        for name, url in [("upstream", self.upstream), *((f"upstreams.{k}", v) for k, v in self.upstreams.items())]:
            if url is not None and not url.startswith(("http://", "https://")):
                raise ValueError(f"proxy.{name}: {url!r} is not an http:// or https:// URL")
        if self.record_dir is not None and not (self.upstream or self.upstreams):
            raise ValueError("proxy.record_dir needs an upstream to record (proxy.upstream or proxy.upstreams)")
        if (self.replay_match == "custom") != bool(self.replay_key):
            raise ValueError("proxy.replay_key is needed by, and only by, proxy.replay_match: custom")
        for path in self.replay_key:
            root, _, rest = path.partition(".")
            if root not in KEY_ROOTS or (rest and "" in rest.split(".")):
                raise ValueError(
                    f"proxy.replay_key: unknown match key path {path!r} (a dotted path starting with one of "
                    f"{', '.join(KEY_ROOTS)}, e.g. json.messages.-1.content)"
                )
        return self

    @property
    def active(self) -> bool:
        """Whether proxy mode or a replay is asked for at all (a recording needs an upstream).

        Only then does a server import and build the proxy layer (``proxy/``: its forwarder,
        cassettes and pacing, ≈ 45 modules a plain simulator never uses).
        """
        return bool(self.upstream or self.upstreams or self.replay_dir)

    def upstream_for(self, provider: str) -> str | None:
        """The base URL (no trailing slash) ``provider``'s requests go to, or None to simulate."""
        url = self.upstreams.get(provider, self.upstream)  # type: ignore[call-overload]
        return url.rstrip("/") if url else None
