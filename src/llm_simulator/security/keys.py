"""API keys held as SHA-256 digests and checked in constant time.

A presented key is hashed once and compared with every stored digest using
``hmac.compare_digest`` without stopping at a match, so the time taken says nothing about
which key (if any) matched or how much of it did.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from llm_simulator.config.security import AuthConfig
from llm_simulator.core.redact import mask

__all__ = ["KeyRing", "Principal", "digest", "mask"]


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: its key's name, role and throttle (None: unlimited)."""

    name: str
    role: str
    throttle: str | None


@dataclass(frozen=True, slots=True)
class _Entry:
    digest: bytes
    principal: Principal
    enabled: bool


def digest(key: str) -> bytes:
    """SHA-256 of a key's UTF-8 bytes."""
    return hashlib.sha256(key.encode()).digest()


class KeyRing:
    """Every configured key, hashed; plain keys are never kept."""

    def __init__(self, auth: AuthConfig) -> None:
        entries: list[_Entry] = []
        for index, secret in enumerate(auth.api_keys):
            entries.append(
                _Entry(digest(secret.get_secret_value()), Principal(f"api_key_{index + 1}", "user", None), True)
            )
        for index, secret in enumerate(auth.admin_keys):
            entries.append(
                _Entry(digest(secret.get_secret_value()), Principal(f"admin_key_{index + 1}", "admin", None), True)
            )
        for spec in auth.keys:
            if spec.key_sha256 is not None:
                raw = bytes.fromhex(spec.key_sha256)
            else:
                assert spec.key is not None  # the config requires one of the two
                raw = digest(spec.key.get_secret_value())
            throttle = None if spec.throttle == "unlimited" else spec.throttle
            entries.append(_Entry(raw, Principal(spec.name, spec.role, throttle), spec.enabled))
        self._entries = tuple(entries)

    def __len__(self) -> int:
        """How many keys are configured (enabled or not)."""
        return len(self._entries)

    def lookup(self, presented: str) -> tuple[Principal | None, bool]:
        """The key's principal and whether it is enabled; ``(None, False)`` for an unknown key."""
        wanted = digest(presented)
        found: _Entry | None = None
        for entry in self._entries:
            # No early exit: every digest is compared, whatever matched.
            if hmac.compare_digest(entry.digest, wanted):
                found = entry
        if found is None:
            return None, False
        return found.principal, found.enabled

    def names(self) -> list[dict[str, object]]:
        """Names, roles, tiers and states of the keys (never the keys or their digests)."""
        return [
            {
                "name": e.principal.name,
                "role": e.principal.role,
                "throttle": e.principal.throttle or "unlimited",
                "enabled": e.enabled,
            }
            for e in self._entries
        ]
