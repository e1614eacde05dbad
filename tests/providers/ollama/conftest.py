"""Fixtures for the Ollama wire tests: the official ``ollama`` client and raw httpx on a live simulator."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import ollama
import pytest

from tests.live import LiveServer, live_server

# Every model offered tools calls one (so a tool test does not depend on the seed).
TOOLS_CONFIG = "generation:\n  tool_call_probability: 1.0\n"


@pytest.fixture(scope="session")
def client(server: LiveServer) -> Iterator[ollama.Client]:
    """The official client on the shared server (short latencies, a run seed)."""
    with ollama.Client(host=server.url) as c:
        yield c


@pytest.fixture(scope="session")
def http(server: LiveServer) -> Iterator[httpx.Client]:
    """Raw HTTP on the shared server's root."""
    with httpx.Client(base_url=server.url, timeout=30) as c:
        yield c


@pytest.fixture(scope="session")
def tools_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A latency-free simulator whose models always call an offered tool."""
    path = tmp_path_factory.mktemp("ollama-tools") / "tools.yaml"
    path.write_text(TOOLS_CONFIG)
    with live_server("--no-latency", "--config", str(path)) as live:
        yield live
