"""The SDK against a real simulator process: each provider's wire, the admin API end to end."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from llm_simulator.sdk import AsyncClient, Client, OverloadedError, RateLimitError, ServerError
from tests.live import LiveServer, live_server

CONFIG = """\
latency: {enabled: false}
telemetry:
  request_log: {enabled: true}
"""
PROVIDERS = ("openai", "anthropic", "gemini")
FIXTURES = """\
rules:
  - name: capital
    match: {message: capital of France}
    respond: {text: Paris is the capital of France.}
"""


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    path = tmp_path_factory.mktemp("sdk") / "sdk.yaml"
    path.write_text(CONFIG)
    with live_server("--config", str(path), "--seed", "5") as server:
        yield server


@pytest.fixture
def client(live: LiveServer) -> Iterator[Client]:
    with Client(live.url, api_key="sk-sdk-test", retry=None) as c:
        yield c


@pytest.mark.parametrize("provider", PROVIDERS)
def test_chat_stream_and_the_same_seed_gives_the_same_text(client: Client, provider: str) -> None:
    # Gemini 2.5 models think first, and thinking counts against the output budget.
    extra: dict[str, Any] = (
        {"generationConfig": {"thinkingConfig": {"thinkingBudget": 0}}} if provider == "gemini" else {}
    )
    result = client.chat("Tell me a story.", provider=provider, max_tokens=16, seed=11, **extra)
    assert result.text
    assert result.output_tokens == 16
    assert result.input_tokens and result.input_tokens > 0
    assert result.finish_reason in ("length", "max_tokens", "MAX_TOKENS")
    with client.stream("Tell me a story.", provider=provider, max_tokens=16, seed=11, **extra) as stream:
        events = list(stream)
    assert stream.text == result.text
    assert events[-1].finish_reason == result.finish_reason
    assert stream.output_tokens == 16


@pytest.mark.parametrize("provider", ["openai", "gemini"])
def test_embed(client: Client, provider: str) -> None:
    vectors = client.embed(["one", "two", "three"], provider=provider)
    assert len(vectors) == 3
    assert len({len(v) for v in vectors}) == 1 and len(vectors[0]) > 100
    assert vectors[0] != vectors[1]
    assert client.embed(["one"], provider=provider) == vectors[:1]  # deterministic


async def test_async_chat_stream_embed(live: LiveServer) -> None:
    async with AsyncClient(live.url, provider="anthropic") as client:
        assert (await client.chat("Hi", max_tokens=8)).output_tokens == 8
        stream = await client.stream("Hi", max_tokens=8).until_done()
        assert stream.text and stream.finish_reason == "max_tokens"
        assert len(await client.embed(["x"], provider="openai")) == 1
        assert await client.admin.ready() is True


def test_system_routes(client: Client) -> None:
    assert client.admin.health() == {"status": "ok"}
    assert client.admin.ready() is True
    assert client.admin.version()["name"] == "llm-simulator"
    config = client.admin.config()
    assert config["telemetry"]["request_log"]["enabled"] is True


def test_chaos_round_trip(client: Client) -> None:
    rules: list[dict[str, Any]] = [
        {"name": "no-openai", "providers": ["openai"], "error_type": "rate_limit", "retry_after_s": 0.25},
        {"name": "claude-down", "providers": ["anthropic"], "error_type": "overloaded"},
        {"name": "gemini-500", "providers": ["gemini"], "error_type": "server_error"},
    ]
    state = client.admin.set_chaos(enabled=True, rules=rules)
    try:
        assert state["enabled"] is True and [r["name"] for r in state["rules"]] == [
            "no-openai",
            "claude-down",
            "gemini-500",
        ]
        with pytest.raises(RateLimitError) as limited:
            client.chat("Hi")
        assert limited.value.retry_after_s == 0.25
        with pytest.raises(OverloadedError) as overloaded:
            client.chat("Hi", provider="anthropic")
        assert (overloaded.value.status, overloaded.value.error_type) == (529, "overloaded_error")
        with pytest.raises(ServerError) as failed:
            client.stream("Hi", provider="gemini").until_done()
        assert (failed.value.status, failed.value.error_type) == (500, "INTERNAL")
        assert client.admin.chaos()["injections"]["rate_limit"] >= 1
        # The SDK's own retries ride out a short outage: honour the 0.25 s hint, then give up.
        waits: list[float] = []
        with Client(client.base_url, sleep=waits.append) as retrying, pytest.raises(RateLimitError):
            retrying.chat("Hi")
        assert waits[:2] == [0.25, 0.25]  # the hint beats the backoff (~0.1 s, ~0.2 s) ...
        assert len(waits) == 3 and waits[2] >= 0.32  # ... until the backoff (~0.4 s) is longer
    finally:
        assert client.admin.disable_chaos()["enabled"] is False
        client.admin.set_chaos(rules=[])
    assert client.chat("Hi").text


def test_fixtures_give_a_scripted_reply(client: Client) -> None:
    loaded = client.admin.load_fixtures(FIXTURES)
    try:
        assert loaded["loaded"] == {"rules": 1, "scenarios": 0}
        for provider in PROVIDERS:
            assert client.chat("What is the capital of France?", provider=provider).text == (
                "Paris is the capital of France."
            )
        assert client.admin.fixtures()["rules"][0]["hits"] == 3
    finally:
        client.admin.clear_fixtures()
    assert client.admin.fixtures()["rules"] == []


def test_stats_and_requests_after_traffic(client: Client) -> None:
    client.admin.reset_stats()
    start = client.admin.request_log()["last_seq"]
    client.chat("counted", model="gpt-4o", max_tokens=4)
    client.chat("counted too", provider="anthropic", max_tokens=4)
    stats = client.admin.stats()
    models = {row["model"] for row in stats["models"]}
    assert "gpt-4o" in models and any(m.startswith("claude-haiku-4-5") for m in models)
    assert "gpt-4o" in client.admin.export_stats("csv")
    received = client.admin.requests(since=start)
    assert [r["path"] for r in received] == ["/v1/chat/completions", "/v1/messages"]
    assert received[0]["body"]["messages"][0]["content"] == "counted"
    assert "sk-sdk-test" not in str(received)  # credentials are masked in the log
    assert client.admin.requests(since=start, path="/v1/messages")[0]["body"]["max_tokens"] == 4
    assert client.admin.clear_requests()["cleared"] >= 2
    assert client.admin.requests() == []
