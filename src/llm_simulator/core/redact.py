"""Masking secrets for anything a client or a log can see."""

from __future__ import annotations


def mask(secret: str) -> str:
    """A key as messages and admin views may show it: its first and last characters only.

    ``sk-abcdefghijklmnop`` becomes ``sk-ab***op``; short values become ``***``. Globs in
    filters are masked the same way (they may hold most of a key).
    """
    if len(secret) <= 8:
        return "***"
    return f"{secret[:5]}***{secret[-2:]}"
