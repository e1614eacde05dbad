"""Proxy mode's failures: upstream errors pass through, an unreachable upstream is the provider's 502,
and the simulator's own chaos and rate limits apply in front of the upstream."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest

from llm_simulator.testing import SimulatorHandle, start_simulator

CHAT: Any = [{"role": "user", "content": "hi"}]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_an_upstream_429_arrives_unchanged(upstream: SimulatorHandle, proxy: SimulatorHandle) -> None:
    with upstream.chaos(error_type="rate_limit", providers=["openai"], retry_after_s=7):
        direct = httpx.post(
            f"{upstream.openai_base_url}/chat/completions", json={"model": "gpt-4o-mini", "messages": CHAT}
        )
        proxied = httpx.post(
            f"{proxy.openai_base_url}/chat/completions", json={"model": "gpt-4o-mini", "messages": CHAT}
        )
    assert proxied.status_code == direct.status_code == 429
    assert proxied.headers["retry-after"] == direct.headers["retry-after"] == "7"
    assert proxied.json()["error"]["type"] == direct.json()["error"]["type"]
    # The proxy's own chaos was off: the error is the upstream's, with its request id.
    assert proxied.headers["x-request-id"].startswith("req_")


def test_an_upstream_error_reaches_the_sdk(upstream: SimulatorHandle, proxy: SimulatorHandle) -> None:
    with (
        anthropic.Anthropic(base_url=proxy.anthropic_base_url, api_key="k", max_retries=0) as client,
        upstream.chaos(error_type="overloaded", providers=["anthropic"]),
        pytest.raises(anthropic.APIStatusError) as caught,
    ):
        client.messages.create(model="claude-3-5-haiku-latest", messages=CHAT, max_tokens=3)
    assert caught.value.status_code == 529
    assert caught.value.body["error"]["type"] == "overloaded_error"  # type: ignore[index]


@pytest.fixture(scope="module")
def orphan() -> Iterator[SimulatorHandle]:
    """A proxy whose upstream port has nobody listening."""
    with start_simulator({"proxy": {"upstream": f"http://127.0.0.1:{_free_port()}", "connect_timeout_s": 2}}) as sim:
        yield sim


def test_an_unreachable_upstream_is_the_providers_502(orphan: SimulatorHandle) -> None:
    with (
        openai.OpenAI(base_url=orphan.openai_base_url, api_key="k", max_retries=0) as client,
        pytest.raises(openai.APIStatusError) as caught,
    ):
        client.chat.completions.create(model="gpt-4o-mini", messages=CHAT)
    assert caught.value.status_code == 502
    assert "cannot be reached" in caught.value.message
    gemini = httpx.post(f"{orphan.url}/v1beta/models/gemini-2.0-flash:generateContent", json={"contents": []})
    assert gemini.status_code == 502
    assert gemini.json()["error"]["status"] == "UNAVAILABLE"
    claude = httpx.post(
        f"{orphan.anthropic_base_url}/v1/messages", json={"model": "m", "messages": CHAT, "max_tokens": 1}
    )
    assert claude.status_code == 502 and claude.json()["type"] == "error"


def test_chaos_applies_in_front_of_the_upstream(upstream: SimulatorHandle, proxy: SimulatorHandle) -> None:
    upstream.clear_requests()
    with proxy.chaos(error_type="server_error", providers=["openai"]):
        refused = httpx.post(
            f"{proxy.openai_base_url}/chat/completions", json={"model": "gpt-4o-mini", "messages": CHAT}
        )
    assert refused.status_code == 500
    assert upstream.requests(path="/v1/chat/completions") == []  # refused before forwarding
    passed = httpx.post(f"{proxy.openai_base_url}/chat/completions", json={"model": "gpt-4o-mini", "messages": CHAT})
    assert passed.status_code == 200
    assert len(upstream.requests(path="/v1/chat/completions")) == 1
    assert proxy.requests(path="/v1/chat/completions")[-1]["model"] == "gpt-4o-mini"


def test_a_configured_key_replaces_the_callers() -> None:
    config = {"auth": {"require_auth": True, "api_keys": ["sk-upstream-only"]}}
    body = {"model": "gpt-4o-mini", "messages": CHAT}
    caller = {"authorization": "Bearer sk-caller"}
    with start_simulator(config) as guarded:
        keyed = {"proxy": {"upstream": guarded.url, "api_keys": {"openai": "sk-upstream-only"}}}
        with start_simulator(keyed) as proxy:
            ok = httpx.post(f"{proxy.openai_base_url}/chat/completions", json=body, headers=caller)
        with start_simulator({"proxy": {"upstream": guarded.url}}) as plain:
            refused = httpx.post(f"{plain.openai_base_url}/chat/completions", json=body, headers=caller)
    assert ok.status_code == 200, ok.text
    assert refused.status_code == 401  # the caller's key went up, and the upstream refused it
    assert refused.json()["error"]["type"] == "invalid_request_error"
