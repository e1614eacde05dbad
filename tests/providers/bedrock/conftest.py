"""Fixtures for the Bedrock wire tests: boto3 clients on live simulators."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.live import LiveServer
from tests.providers.bedrock.helpers import bedrock_client


@pytest.fixture(scope="module")
def bedrock(fast_server: LiveServer) -> Iterator[Any]:
    """boto3's bedrock-runtime client on the no-latency server, no retries."""
    client = bedrock_client(fast_server.url)
    yield client
    client.close()
