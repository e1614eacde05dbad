"""Shared fixtures: a live simulator (real socket) and official SDK clients against it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import openai
import pytest

from tests.live import LiveServer, live_server


@pytest.fixture(scope="session")
def server() -> Iterator[LiveServer]:
    """A simulator with short latencies (standard profile × 0.02) and a run seed."""
    with live_server("--latency-multiplier", "0.02", "--seed", "7") as live:
        yield live


@pytest.fixture(scope="session")
def fast_server() -> Iterator[LiveServer]:
    """A simulator without any latency."""
    with live_server("--no-latency") as live:
        yield live


@pytest.fixture(scope="module")
def client(server: LiveServer) -> Iterator[openai.OpenAI]:
    """The official sync client, strict response validation, no retries (one per module: ~30 ms of CPU each)."""
    with openai.OpenAI(
        base_url=server.openai_base, api_key="sk-test", max_retries=0, _strict_response_validation=True
    ) as c:
        yield c


@pytest.fixture
async def async_client(server: LiveServer) -> AsyncIterator[openai.AsyncOpenAI]:
    """The official async client, strict response validation, no retries."""
    c = openai.AsyncOpenAI(
        base_url=server.openai_base, api_key="sk-test", max_retries=0, _strict_response_validation=True
    )
    try:
        yield c
    finally:
        await c.close()
