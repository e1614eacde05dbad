"""Fixtures for the Anthropic wire tests: official SDK clients and raw httpx on a live simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import anthropic
import httpx
import pytest

from tests.live import LiveServer
from tests.providers.anthropic.helpers import ANTHROPIC_HEADERS

# The sync clients are shared per module: building one (its TLS context) costs ~20 ms, and
# they keep no state between requests.


@pytest.fixture(scope="module")
def anthropic_client(server: LiveServer) -> Iterator[anthropic.Anthropic]:
    """The official sync client, strict response validation, no retries."""
    with anthropic.Anthropic(
        base_url=server.url, api_key="k", max_retries=0, _strict_response_validation=True
    ) as client:
        yield client


@pytest.fixture
async def async_anthropic_client(server: LiveServer) -> AsyncIterator[anthropic.AsyncAnthropic]:
    """The official async client, strict response validation, no retries."""
    client = anthropic.AsyncAnthropic(base_url=server.url, api_key="k", max_retries=0, _strict_response_validation=True)
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture(scope="module")
def http(fast_server: LiveServer) -> Iterator[httpx.Client]:
    """Plain httpx on the server root, sending the headers every Anthropic client sends."""
    with httpx.Client(base_url=fast_server.url, headers=ANTHROPIC_HEADERS, timeout=30) as client:
        yield client
