"""The cross-provider ``x-simulator-seed`` header: a per-request seed for APIs without one.

Anthropic's API has no ``seed`` field, so a test that wants a streamed and a non-streamed
response to carry the same text sends this header (the SDKs' ``extra_headers``). Request
body seeds, where a provider has them, take precedence.
"""

from __future__ import annotations

from collections.abc import Mapping

from llm_simulator.core.errors import invalid

SEED_HEADER = "x-simulator-seed"


def header_seed(headers: Mapping[str, str]) -> int | None:
    """The integer in ``x-simulator-seed``, or None when the header is absent."""
    raw = headers.get(SEED_HEADER)
    if raw is None:
        return None
    try:
        return int(raw.strip())
    except ValueError:
        raise invalid(
            f"The {SEED_HEADER} header must be an integer, got {raw!r}.", param=SEED_HEADER, code="invalid_value"
        ) from None
