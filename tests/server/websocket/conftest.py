"""A simulator serving the WebSocket APIs on a real socket, and SDK clients for it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import openai
import pytest

from llm_simulator.testing import SimulatorHandle, start_simulator

CONFIG: dict[str, Any] = {
    "latency.enabled": True,
    "latency.multiplier": 0.02,
    "seed": 11,
    "rate_limits.enabled": True,
    "rate_limits.tiers": [{"requests_per_minute": 10_000, "tokens_per_minute": 10_000_000}],
    "telemetry.request_log.enabled": True,
}


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorHandle]:
    """One in-process simulator for a module's WebSocket tests."""
    with start_simulator(CONFIG) as handle:
        yield handle


@pytest.fixture
async def oai(sim: SimulatorHandle) -> AsyncIterator[openai.AsyncOpenAI]:
    """The official async OpenAI client against the simulator."""
    client = openai.AsyncOpenAI(base_url=sim.openai_base_url, api_key="sk-test", max_retries=0)
    try:
        yield client
    finally:
        await client.close()


async def until(conn: Any, *last: str) -> list[Any]:
    """Events received up to and including the first of a type in ``last``."""
    events = []
    async for event in conn:
        events.append(event)
        if event.type in last:
            return events
    raise AssertionError(f"the socket closed before {last!r}: {[e.type for e in events]}")
