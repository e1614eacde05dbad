"""Fuzz every route from /openapi.json (schemathesis): never a 5xx, always the provider's error shape.

The document is built from the same route table the server serves. Schemathesis generates
valid and invalid bodies, path segments and headers for each operation; the live server
(no latency) must answer each within the timeout, below 500, and every error must be JSON
in the shape of the provider that owns the route. Admin operations that change state are
left out (they would switch on chaos, which fails requests on purpose).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from llm_simulator.config import load_config
from llm_simulator.server.app import SimulatorApp
from llm_simulator.server.openapi import build_openapi
from tests.live import LiveServer, live_server

DOCUMENT = build_openapi(SimulatorApp(load_config(flags={"latency.enabled": False})))
schema = schemathesis.openapi.from_dict(DOCUMENT).exclude(path_regex="^/admin", method=["POST", "PUT", "DELETE"])


@pytest.fixture(scope="module")
def fuzz_server() -> Iterator[LiveServer]:
    """A simulator without latency, so thousands of cases run in seconds."""
    with live_server("--no-latency") as live:
        yield live


def owner(path: str) -> str | None:
    """The provider whose error shape a path must have (None: chosen by the request's headers)."""
    if path.startswith("/v1/messages"):
        return "anthropic"
    if ":" in path.rsplit("/", 1)[-1]:
        return "gemini"
    if path.startswith(("/v1/chat", "/v1/completions", "/v1/embeddings", "/v1/responses", "/openai/")):
        return "openai"
    return None


def shape(body: Any) -> str:
    """Which provider's error shape ``body`` has; fails if it is none of them."""
    assert isinstance(body, dict), body
    error = body["error"]
    if body.get("type") == "error":
        assert set(error) == {"type", "message"} and isinstance(body["request_id"], str), body
        return "anthropic"
    if "status" in error:
        assert isinstance(error["code"], int) and isinstance(error["message"], str), body
        return "gemini"
    assert set(error) == {"message", "type", "param", "code"}, error
    return "openai"


@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_5xx_and_errors_in_the_providers_shape(case: schemathesis.Case[Any], fuzz_server: LiveServer) -> None:
    response = case.call(base_url=fuzz_server.url, timeout=15)
    assert response.status_code < 500, (case.method, case.formatted_path, response.text[:300])
    if response.status_code >= 400:
        expected = owner(case.formatted_path)
        got = shape(response.json())
        assert expected is None or got == expected, (case.formatted_path, got)
