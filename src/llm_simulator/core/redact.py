"""Masking secrets for anything a client or a log can see."""

from __future__ import annotations

import hashlib
import hmac

# Names of headers whose values are credentials.
SECRET_HEADER_WORDS = ("key", "authorization", "token", "secret", "cookie")


def mask(secret: str) -> str:
    """A key as messages and admin views may show it: at most four of its characters.

    ``sk-proj-abcdefghijklmnop`` becomes ``sk-***p``; values under 20 characters become
    ``***`` (showing even a few characters of a short key gives too much of it away). Globs
    in filters are masked the same way (they may hold most of a key).
    """
    if len(secret) < 20:
        return "***"
    return f"{secret[:3]}***{secret[-1:]}"


def fingerprint(secret: str, salt: bytes) -> str:
    """``mask(secret)`` plus 8 hex digits of HMAC-SHA-256(salt, secret): tells keys apart, reveals none.

    Two keys with the same mask (``sk-***p``) still get distinct rows in a per-key export. The
    salt is secret (random per server run), so a reader of an export cannot test guesses of a
    short key against the digits.
    """
    digest = hmac.new(salt, secret.encode(), hashlib.sha256).hexdigest()[:8]
    return f"{mask(secret)}#{digest}"


def is_secret_header(name: str) -> bool:
    """Whether a header of this name carries a credential (its value must be masked)."""
    low = name.lower()
    return any(word in low for word in SECRET_HEADER_WORDS)
