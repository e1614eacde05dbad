"""Proxy mode through the official SDKs, with a second simulator as the upstream.

Transparency: a seeded request answered directly and through the proxy gives the same bytes
(ids and timestamps aside, which every fresh response changes), SSE framing included.
"""

from __future__ import annotations

from typing import Any

import anthropic
import httpx
import openai
from google import genai
from google.genai import types

from llm_simulator.testing import SimulatorHandle
from tests.proxy.conftest import SEED_HEADERS, same_but_ids

CHAT: Any = [{"role": "user", "content": "tell me about proxies"}]


def _openai(sim: SimulatorHandle) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=sim.openai_base_url,
        api_key="sk-caller",
        max_retries=0,
        default_headers=SEED_HEADERS,
        _strict_response_validation=True,
    )


def _anthropic(sim: SimulatorHandle) -> anthropic.Anthropic:
    return anthropic.Anthropic(
        base_url=sim.anthropic_base_url,
        api_key="sk-ant-caller",
        max_retries=0,
        default_headers=SEED_HEADERS,
        _strict_response_validation=True,
    )


def _gemini(sim: SimulatorHandle) -> genai.Client:
    options = types.HttpOptions(base_url=sim.url, api_version="v1beta", headers=SEED_HEADERS)
    return genai.Client(api_key="gemini-caller", http_options=options)


def _openai_bytes(sim: SimulatorHandle, stream: bool) -> bytes:
    kw: dict[str, Any] = {"model": "gpt-4o-mini", "messages": CHAT, "max_tokens": 12, "seed": 7}
    with _openai(sim) as client:
        if stream:
            with client.chat.completions.with_streaming_response.create(stream=True, **kw) as response:
                return b"".join(response.iter_bytes())
        raw = client.chat.completions.with_raw_response.create(**kw)
        assert raw.parse().choices[0].message.content
        return raw.http_response.content


def _anthropic_bytes(sim: SimulatorHandle, stream: bool) -> bytes:
    kw: dict[str, Any] = {"model": "claude-3-5-haiku-latest", "messages": CHAT, "max_tokens": 12}
    with _anthropic(sim) as client:
        if stream:
            with client.messages.with_streaming_response.create(stream=True, **kw) as response:
                return b"".join(response.iter_bytes())
        raw = client.messages.with_raw_response.create(**kw)
        assert raw.parse().content[0].type == "text"
        return raw.http_response.content


def _gemini_bytes(sim: SimulatorHandle, stream: bool) -> bytes:
    action = "streamGenerateContent?alt=sse" if stream else "generateContent"
    response = httpx.post(
        f"{sim.url}/v1beta/models/gemini-2.0-flash:{action}",
        json={"contents": [{"role": "user", "parts": [{"text": "tell me about proxies"}]}]},
        headers={**SEED_HEADERS, "x-goog-api-key": "gemini-caller"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return response.content


def test_openai_bytes_match_a_direct_connection(upstream: SimulatorHandle, proxy: SimulatorHandle) -> None:
    for stream in (False, True):
        direct, proxied = _openai_bytes(upstream, stream), _openai_bytes(proxy, stream)
        assert same_but_ids(proxied) == same_but_ids(direct)
    assert proxied.startswith(b"data: {") and proxied.endswith(b"data: [DONE]\n\n")


def test_anthropic_bytes_match_a_direct_connection(upstream: SimulatorHandle, proxy: SimulatorHandle) -> None:
    for stream in (False, True):
        direct, proxied = _anthropic_bytes(upstream, stream), _anthropic_bytes(proxy, stream)
        assert same_but_ids(proxied) == same_but_ids(direct)
    assert proxied.startswith(b"event: message_start\n")


def test_gemini_bytes_match_a_direct_connection(upstream: SimulatorHandle, proxy: SimulatorHandle) -> None:
    for stream in (False, True):
        direct, proxied = _gemini_bytes(upstream, stream), _gemini_bytes(proxy, stream)
        assert same_but_ids(proxied) == same_but_ids(direct)


def test_the_sdks_read_proxied_streams(proxy: SimulatorHandle) -> None:
    # Every client is closed when done: one left to the garbage collector leaks its socket
    # into whichever test runs then (a ResourceWarning, an error under filterwarnings=error).
    with _openai(proxy) as oai:
        chunks = list(oai.chat.completions.create(model="gpt-4o-mini", messages=CHAT, max_tokens=5, stream=True))
    assert chunks[-1].choices[0].finish_reason == "length"
    with (
        _anthropic(proxy) as claude,
        claude.messages.stream(model="claude-3-5-haiku-latest", messages=CHAT, max_tokens=5) as stream,
    ):
        assert stream.get_final_message().stop_reason == "max_tokens"
    with _gemini(proxy) as gemini:
        parts = list(gemini.models.generate_content_stream(model="gemini-2.0-flash", contents="tell me about proxies"))
    assert "".join(p.text or "" for p in parts)


def test_the_callers_credentials_reach_the_upstream(upstream: SimulatorHandle, proxy: SimulatorHandle) -> None:
    upstream.clear_requests()
    with _anthropic(proxy) as claude:
        claude.messages.create(model="claude-3-5-haiku-latest", messages=CHAT, max_tokens=3)
    seen = upstream.requests(path="/v1/messages")
    assert len(seen) == 1
    assert seen[0]["path"] == "/v1/messages"
