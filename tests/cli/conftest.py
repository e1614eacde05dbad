"""A live simulator for the CLI's network commands (health, models --url, client)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.live import LiveServer, live_server


@pytest.fixture(scope="session")
def cli_server() -> Iterator[LiveServer]:
    """No latency (fast tests) and the request log on, so tests can see what the client sent."""
    env = {"LLM_SIMULATOR_TELEMETRY__REQUEST_LOG__ENABLED": "true"}
    with live_server("--no-latency", "--seed", "3", env=env) as live:
        yield live
