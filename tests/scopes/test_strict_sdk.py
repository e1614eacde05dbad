"""Strict mode through the official SDKs: a request no fixture matches is a loud 400 in each provider's shape.

The error names the method, path, model and the last user message, and the request log
marks the request ``strict_no_fixture`` (what the journal lists). A scope's switch
overrides the server's ``fixtures.strict`` both ways.
"""

from __future__ import annotations

from collections.abc import Iterator

import anthropic
import httpx
import openai
import pytest
from google import genai
from google.genai import errors, types

from llm_simulator.core.test_scope import TEST_ID_HEADER
from llm_simulator.testing import SimulatorHandle, start_simulator
from tests.scopes.conftest import ask, fixture, keep, ok, scoped_openai

SCOPE = "strict-test"


@pytest.fixture(scope="module")
def strict_scope(sim: SimulatorHandle) -> str:
    """A scope in strict mode with one fixture (``ping`` → ``pong``)."""
    with httpx.Client(base_url=sim.url) as admin:
        ok(admin.put(f"/admin/scopes/{SCOPE}", json={"strict": True}))
        ok(admin.post("/admin/fixtures", params={"scope": SCOPE}, content=fixture("ping", "pong")))
    return SCOPE


def test_openai_strict_miss_names_the_request_and_is_journaled(sim: SimulatorHandle, strict_scope: str) -> None:
    client = scoped_openai(sim, strict_scope)
    assert ask(client, "ping") == "pong"
    with pytest.raises(openai.BadRequestError) as caught:
        ask(client, "Where is   my order?", model="gpt-4o-mini")
    message = caught.value.message
    for needle in ("Strict mode", "POST /v1/chat/completions", "'gpt-4o-mini'", "'Where is my order?'"):
        assert needle in message, message
    body = caught.value.body
    assert isinstance(body, dict) and body["code"] == "strict_no_fixture"
    logged = [r for r in sim.requests(path="/v1/chat/completions") if r.get("error_type") == "strict_no_fixture"]
    assert logged and logged[-1]["status"] == 400
    # Unscoped traffic on the same server is not strict.
    assert ask(scoped_openai(sim, None), "Where is my order?")


def test_anthropic_strict_miss(sim: SimulatorHandle, strict_scope: str) -> None:
    client = keep(
        anthropic.Anthropic(
            base_url=sim.anthropic_base_url, api_key="k", max_retries=0, default_headers={TEST_ID_HEADER: strict_scope}
        )
    )
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(
            model="claude-sonnet-4-5", max_tokens=8, messages=[{"role": "user", "content": "unmatched"}]
        )
    body = caught.value.body
    assert isinstance(body, dict) and body["type"] == "error"
    assert body["error"]["type"] == "invalid_request_error"
    assert "POST /v1/messages" in body["error"]["message"] and "'unmatched'" in body["error"]["message"]


def test_gemini_strict_miss(sim: SimulatorHandle, strict_scope: str) -> None:
    client = keep(
        genai.Client(
            api_key="k",
            http_options=types.HttpOptions(base_url=sim.gemini_base_url, headers={TEST_ID_HEADER: strict_scope}),
        )
    )
    with pytest.raises(errors.ClientError) as caught:
        client.models.generate_content(model="gemini-2.5-flash", contents="unmatched too")
    assert caught.value.code == 400 and caught.value.status == "INVALID_ARGUMENT"
    assert "gemini-2.5-flash" in str(caught.value.message) and "'unmatched too'" in str(caught.value.message)


@pytest.fixture(scope="module")
def strict_server() -> Iterator[SimulatorHandle]:
    """A server strict everywhere (``fixtures.strict``) with no fixture at all."""
    with start_simulator({"fixtures": {"strict": True}}) as handle:
        yield handle


def test_global_strict_mode_and_a_scope_opting_out(strict_server: SimulatorHandle) -> None:
    with pytest.raises(openai.BadRequestError, match="Strict mode"):
        ask(scoped_openai(strict_server, None), "anything")
    with pytest.raises(openai.BadRequestError, match="Strict mode"):
        ask(scoped_openai(strict_server, "lenient"), "anything")
    with httpx.Client(base_url=strict_server.url) as admin:
        ok(admin.put("/admin/scopes/lenient", json={"strict": False}))
    assert ask(scoped_openai(strict_server, "lenient"), "anything")
