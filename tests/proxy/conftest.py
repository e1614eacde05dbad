"""Shared pieces of the proxy tests: an upstream simulator, a proxy in front of it, byte normalising."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from llm_simulator.testing import SimulatorHandle, start_simulator

# Fresh per response whatever the seed: ids and timestamps (Gemini's responseId too).
_FRESH = re.compile(rb'"(id|created|created_at|responseId)":("[^"]*"|\d+)')
SEED_HEADERS = {"x-simulator-seed": "7"}


def same_but_ids(data: bytes) -> bytes:
    """``data`` with the fields a fresh response always changes blanked (for byte comparison)."""
    return _FRESH.sub(rb'"\1":"*"', data)


def paced_config(ttft_ms: float, itl_ms: float, providers: tuple[str, ...] = ("openai",)) -> dict[str, Any]:
    """An upstream's config with a fixed latency profile ``paced`` and a ``paced-*`` model per provider.

    The models: ``paced-gpt`` (openai), ``paced-claude`` (anthropic), ``paced-gemini`` (google).
    """
    names = {"openai": "paced-gpt", "anthropic": "paced-claude", "google": "paced-gemini"}
    profile = {"ttft": {"type": "fixed", "value_ms": ttft_ms}, "itl": {"type": "fixed", "value_ms": itl_ms}}
    return {
        "latency.enabled": True,
        "latency.profiles": {"paced": profile},
        "models.add": [{"id": names[p], "provider": p, "latency_profile": "paced"} for p in providers],
    }


def proxy_config(upstream: SimulatorHandle, **proxy: Any) -> dict[str, Any]:
    """A proxy simulator's config forwarding every provider to ``upstream``."""
    return {"proxy": {"upstream": upstream.url, **proxy}}


@pytest.fixture(scope="module")
def upstream() -> Iterator[SimulatorHandle]:
    with start_simulator() as sim:
        yield sim


@pytest.fixture(scope="module")
def proxy(upstream: SimulatorHandle) -> Iterator[SimulatorHandle]:
    with start_simulator(proxy_config(upstream)) as sim:
        yield sim
