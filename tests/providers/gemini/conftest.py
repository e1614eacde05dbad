"""Fixtures for the Gemini wire tests: google-genai clients (``v1`` and ``v1beta``) and servers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from google import genai
from google.genai import types

from tests.live import LiveServer, live_server

API_VERSIONS = ("v1", "v1beta")

# A model with a tiny context window (for the over-long prompt error) and the echo strategy
# (so a test can choose the generated text exactly, U+2028 included).
ECHO_CONFIG = """\
generation:
  strategy: echo
models:
  add:
    - id: gemini-tiny
      provider: google
      kind: chat
      context_window: 16
      max_output_tokens: 64
"""


def make_client(base_url: str, api_version: str | None = None) -> genai.Client:
    """A google-genai client on ``base_url``; ``api_version`` None keeps the SDK default (``v1``)."""
    if api_version is None:
        options = types.HttpOptions(base_url=base_url)
    else:
        options = types.HttpOptions(base_url=base_url, api_version=api_version)
    return genai.Client(api_key="k", http_options=options)


# The sync clients are stateless and reused across tests (session scope): building a client
# builds an SSL context, which would otherwise dominate the run time of these tests.


@pytest.fixture(scope="session", params=API_VERSIONS)
def api_version(request: pytest.FixtureRequest) -> str:
    """Each API version in turn."""
    version: str = request.param
    return version


@pytest.fixture(scope="session")
def genai_client(server: LiveServer, api_version: str) -> Iterator[genai.Client]:
    """A sync client on ``api_version`` (``v1`` through the SDK's default, ``v1beta`` explicitly)."""
    with make_client(server.url, None if api_version == "v1" else api_version) as client:
        yield client


@pytest.fixture(scope="session")
def default_client(server: LiveServer) -> Iterator[genai.Client]:
    """A sync client with the SDK's default API version (``v1``), for tests run once."""
    with make_client(server.url) as client:
        yield client


@pytest.fixture(scope="session")
def v1beta_client(server: LiveServer) -> Iterator[genai.Client]:
    """A sync client on ``v1beta``."""
    with make_client(server.url, "v1beta") as client:
        yield client


@pytest.fixture
async def async_genai_client(server: LiveServer, api_version: str) -> AsyncIterator[genai.client.AsyncClient]:
    """The async client (``client.aio``) on ``api_version``."""
    client = make_client(server.url, None if api_version == "v1" else api_version)
    try:
        yield client.aio
    finally:
        await client.aio.aclose()
        client.close()


@pytest.fixture(scope="session")
def http(server: LiveServer) -> Iterator[httpx.Client]:
    """A plain httpx client on the server's root URL."""
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


@pytest.fixture(scope="session")
def fast_http(fast_server: LiveServer) -> Iterator[httpx.Client]:
    """A plain httpx client on the latency-free server."""
    with httpx.Client(base_url=fast_server.url, timeout=30) as client:
        yield client


@pytest.fixture(scope="session")
def echo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A simulator without latency, the echo strategy and the tiny-context ``gemini-tiny``."""
    path = tmp_path_factory.mktemp("gemini") / "echo.yaml"
    path.write_text(ECHO_CONFIG)
    with live_server("--no-latency", "--config", str(path)) as live:
        yield live


@pytest.fixture(scope="session")
def echo_client(echo_server: LiveServer) -> Iterator[genai.Client]:
    """A sync client (``v1beta``) on the echo server."""
    with make_client(echo_server.url, "v1beta") as client:
        yield client
