"""Configuration of API-key authentication: keys (hashed), roles, per-key throttles.

Keys are secrets: plain keys are ``SecretStr`` (redacted in ``config show`` and admin
output) and a key may be given only as its SHA-256, so a config file need not hold it.

A key's *throttle* (``auth.throttles``, ``auth.keys[].throttle``) is the simulator's own
per-key request bucket. It was called a "tier", which clashed with the unrelated
``rate_limits.tiers`` (the simulated provider's budgets); the old spellings ``auth.tiers``
and ``auth.keys[].tier`` still load, with a ``FutureWarning``.
"""

from __future__ import annotations

import hashlib
import re
import warnings
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

Role = Literal["admin", "user", "readonly"]
KeyThrottle = Literal["standard", "premium", "admin", "unlimited"]

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def _renamed_key(data: Any, old: str, new: str, where: str) -> Any:
    """``data`` with its deprecated field ``old`` moved to ``new`` (warned once per occurrence)."""
    if not isinstance(data, dict) or old not in data:
        return data
    if new in data:
        raise ValueError(f"{where}.{old} is the old name of {where}.{new}: give only {new}")
    warnings.warn(
        f"{where}.{old} is now {where}.{new} (a key's own request bucket, distinct from rate_limits.tiers); "
        f"the old name is deprecated and will stop loading in a future release",
        FutureWarning,
        stacklevel=2,
    )
    moved = {k: v for k, v in data.items() if k != old}
    moved[new] = data[old]
    return moved


class ApiKeySpec(_Data):
    """One API key: who it is, what it may do, how fast it may go."""

    name: str = Field(min_length=1, description="Shown in logs and admin output instead of the key.")
    key: SecretStr | None = Field(default=None, description="The key itself (hashed at load).")
    key_sha256: str | None = Field(default=None, description="Or only its SHA-256, as 64 lower-case hex digits.")
    role: Role = "user"
    throttle: KeyThrottle = Field(default="standard", description="The key's request bucket in auth.throttles.")
    enabled: bool = True

    @model_validator(mode="before")
    @classmethod
    def _old_tier(cls, data: Any) -> Any:
        return _renamed_key(data, "tier", "throttle", "auth.keys[]")

    @field_validator("key_sha256")
    @classmethod
    def _hex(cls, value: str | None) -> str | None:
        if value is not None and not _SHA256.match(value.lower()):
            raise ValueError("must be 64 hex digits (the SHA-256 of the key)")
        return value.lower() if value is not None else None

    @model_validator(mode="after")
    def _one_key(self) -> ApiKeySpec:
        if (self.key is None) == (self.key_sha256 is None):
            raise ValueError("give exactly one of key and key_sha256")
        if self.key is not None and not self.key.get_secret_value().strip():
            raise ValueError("key: must not be empty")
        return self


class ThrottleSpec(_Data):
    """A per-key token bucket: ``requests_per_minute`` refill, ``burst`` capacity."""

    requests_per_minute: int = Field(ge=1)
    burst: int = Field(ge=1)


def _default_throttles() -> dict[KeyThrottle, ThrottleSpec]:
    return {
        "standard": ThrottleSpec(requests_per_minute=60, burst=10),
        "premium": ThrottleSpec(requests_per_minute=600, burst=100),
        "admin": ThrottleSpec(requests_per_minute=1000, burst=200),
    }


class AuthConfig(_Data):
    """API-key authentication (off by default)."""

    require_auth: bool = False
    api_keys: tuple[SecretStr, ...] = Field(
        default=(), description="Plain keys with role user and no throttle (LLM_SIMULATOR_API_KEY)."
    )
    admin_keys: tuple[SecretStr, ...] = Field(
        default=(), description="Plain keys with role admin and no throttle (LLM_SIMULATOR_ADMIN_KEY)."
    )
    keys: tuple[ApiKeySpec, ...] = ()
    throttles: dict[KeyThrottle, ThrottleSpec] = Field(
        default_factory=_default_throttles, description="Per-key request buckets; 'unlimited' has none."
    )
    anonymous_paths: tuple[str, ...] = Field(
        default=("/health", "/ready", "/version", "/metrics", "/openapi.json"),
        description="Paths served without a key.",
    )
    admin_from_remote: bool = Field(
        default=False,
        description="Without auth, serve /admin/* to non-loopback clients too (off: loopback only).",
    )

    @model_validator(mode="before")
    @classmethod
    def _old_tiers(cls, data: Any) -> Any:
        return _renamed_key(data, "tiers", "throttles", "auth")

    @field_validator("api_keys", "admin_keys")
    @classmethod
    def _not_blank(cls, keys: tuple[SecretStr, ...]) -> tuple[SecretStr, ...]:
        if any(not k.get_secret_value().strip() for k in keys):
            raise ValueError("keys must not be empty or blank")
        return tuple(SecretStr(k.get_secret_value().strip()) for k in keys)

    @model_validator(mode="after")
    def _consistent(self) -> AuthConfig:
        digests: list[tuple[str, str]] = [
            (hashlib.sha256(k.get_secret_value().encode()).hexdigest(), f"api_keys[{i}]")
            for i, k in enumerate(self.api_keys)
        ]
        digests += [
            (hashlib.sha256(k.get_secret_value().encode()).hexdigest(), f"admin_keys[{i}]")
            for i, k in enumerate(self.admin_keys)
        ]
        for spec in self.keys:
            if spec.key_sha256 is not None:
                digests.append((spec.key_sha256, f"keys.{spec.name}"))
            elif spec.key is not None:
                digests.append((hashlib.sha256(spec.key.get_secret_value().encode()).hexdigest(), f"keys.{spec.name}"))
        seen: dict[str, str] = {}
        for digest, where in digests:
            if digest in seen:
                raise ValueError(f"auth: {seen[digest]} and {where} are the same key (each key must be listed once)")
            seen[digest] = where
        names = [k.name for k in self.keys]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"auth.keys: duplicate names {duplicates}")
        if self.require_auth and not (self.api_keys or self.admin_keys or any(k.enabled for k in self.keys)):
            raise ValueError("auth.require_auth needs at least one enabled key (auth.keys, api_keys or admin_keys)")
        if "unlimited" in self.throttles:
            raise ValueError("auth.throttles.unlimited: the unlimited throttle has no bucket to configure")
        return self


class CorsConfig(_Data):
    """Cross-origin access for browser clients (playgrounds, dashboards)."""

    enabled: bool = True
    allow_origins: tuple[str, ...] = ("*",)
    allow_methods: tuple[str, ...] = ("GET", "POST", "PUT", "DELETE", "OPTIONS")
    allow_headers: tuple[str, ...] = (
        "Content-Type",
        "Authorization",
        "X-Request-ID",
        "X-API-Key",
        "api-key",
        "x-goog-api-key",
        "anthropic-version",
        "anthropic-beta",
        "anthropic-dangerous-direct-browser-access",
        "OpenAI-Organization",
        "OpenAI-Project",
        "x-simulator-seed",
        "x-simulator-session",
        "x-simulator-chaos",
    )
    expose_headers: tuple[str, ...] = (
        "X-Request-ID",
        "request-id",
        "retry-after",
        "retry-after-ms",
        "x-ratelimit-limit-requests",
        "x-ratelimit-limit-tokens",
        "x-ratelimit-remaining-requests",
        "x-ratelimit-remaining-tokens",
        "x-ratelimit-reset-requests",
        "x-ratelimit-reset-tokens",
    )
    allow_credentials: bool = False
    max_age_s: int = Field(default=600, ge=0, le=86_400)

    @model_validator(mode="after")
    def _no_wildcard_with_credentials(self) -> CorsConfig:
        # Browsers refuse it, and echoing any origin with credentials would hand every site
        # the caller's cookies: refused at load rather than silently weakened.
        if self.allow_credentials and "*" in self.allow_origins:
            raise ValueError("security.cors: allow_credentials cannot be combined with the wildcard origin '*'")
        return self


class SecurityConfig(_Data):
    """HTTP hardening: security headers, CORS, size limits, a concurrency cap."""

    headers: bool = Field(default=True, description="Send the security response headers (nosniff, CSP, ...).")
    hsts: bool = Field(default=False, description="Also send Strict-Transport-Security (only behind TLS).")
    cors: CorsConfig = Field(default_factory=CorsConfig)
    max_header_bytes: int = Field(default=65_536, ge=1024, description="Total request header size (431 above).")
    max_url_bytes: int = Field(default=8192, ge=256, description="Path and query size (414 above).")
    header_timeout_s: float = Field(
        default=30.0, ge=0.001, le=60, description="Time to receive the request headers (granian only)."
    )
    body_timeout_s: float = Field(
        default=30.0, gt=0, le=3600, description="Time to receive a whole request body (408 after it)."
    )
    request_timeout_s: float = Field(
        default=600.0,
        gt=0,
        le=86_400,
        description="Time from the body's arrival to the response's start (504 after it); streams then run on.",
    )
    write_timeout_s: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description="A stream whose client reads nothing for this long (to twice as long) is cut.",
    )
    max_concurrent_requests: int | None = Field(
        default=10_000, ge=1, description="Requests in flight at once; above it new ones get the provider's 503/529."
    )
