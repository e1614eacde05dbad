"""Fixtures shared by the provider suites: every HTTP attempt an SDK makes, recorded."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import httpx2
import openai
import pytest

from tests.live import LiveServer, live_server
from tests.providers.attempts import Attempts
from tests.providers.sdk_clients import strict_anthropic, strict_openai

# The key of a one-request-a-minute tier (the Vertex AI suites' quota tests).
VERTEX_LIMITED_KEY = "vertex-limited"
_VERTEX_LIMITS = f"""\
rate_limits:
  tiers:
    - name: limited
      api_keys: [{VERTEX_LIMITED_KEY}]
      requests_per_minute: 1
"""


@pytest.fixture
def recorded() -> Attempts:
    """A fresh record of attempts."""
    return Attempts()


@pytest.fixture
def recording_http(recorded: Attempts) -> Iterator[httpx2.Client]:
    """An httpx2 client (the SDKs' transport) that records every attempt."""
    hooks: dict[str, list[Any]] = {"request": [recorded.on_request], "response": [recorded.on_response]}
    with httpx2.Client(event_hooks=hooks, timeout=30) as http:
        yield http


@pytest.fixture(scope="session")
def vertex_limited_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """No latency, rate limits on: the ``VERTEX_LIMITED_KEY`` token may make one request a minute."""
    path = tmp_path_factory.mktemp("vertex") / "limits.yaml"
    path.write_text(_VERTEX_LIMITS)
    with live_server("--no-latency", "--rate-limits", "--config", str(path)) as live:
        yield live


# For a module that defines its own module-scoped ``live`` server (a module defining its own
# ``oai`` / ``claude`` keeps those).
@pytest.fixture(scope="module")
def oai(live: LiveServer) -> Iterator[openai.OpenAI]:
    """The openai SDK against the module's ``live`` server: no retries, strict response validation."""
    with strict_openai(live) as client:
        yield client


@pytest.fixture(scope="module")
def claude(live: LiveServer) -> Iterator[anthropic.Anthropic]:
    """The anthropic SDK against the module's ``live`` server: no retries, strict response validation."""
    with strict_anthropic(live) as client:
        yield client
