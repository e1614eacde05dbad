"""Chaos, rate limits and circuit breakers as the official openai SDK sees them on a real socket.

Each test drives the SDK's own machinery (retries, ``x-should-retry``, ``retry-after-ms``,
stream decoding) against failures the simulator injects: configured rules, the per-request
``x-simulator-chaos`` control header, rate-limit tiers, the circuit breaker and scenarios.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import httpx2
import openai
import pytest
from openai.types.chat import ChatCompletionChunk, ChatCompletionMessageParam
from openai.types.responses import ResponseErrorEvent

from llm_simulator.testing import start_simulator
from tests.live import LiveServer, live_server
from tests.providers.attempts import Attempts

MODEL = "gpt-4.1"
MESSAGES: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Write a long story."}]
CONTROL = "x-simulator-chaos"
# Go's time.Duration as OpenAI prints resets: 1s, 6m0s, 8.64s, 120ms, 1h2m3s.
GO_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(\d+(?:\.\d+)?)(ms|s)$")


def go_seconds(text: str) -> float:
    """Seconds in a Go duration (after checking its syntax)."""
    match = GO_DURATION.match(text)
    assert match, text
    hours, minutes, number, unit = match.groups()
    seconds = float(number) / (1000 if unit == "ms" else 1)
    return int(hours or 0) * 3600 + int(minutes or 0) * 60 + seconds


# The shared chaos server: a rule failing the first two attempts of one key's requests (the
# SDK numbers its attempts in x-stainless-retry-count), and two rate-limit tiers.
CHAOS_CONFIG = """\
chaos:
  rules:
    - name: first-two-attempts
      api_keys: [sk-retry]
      headers: {x-stainless-retry-count: "[01]"}
      error_type: rate_limit
      retry_after_s: 0.01
rate_limits:
  tiers:
    - name: rpm
      api_keys: [sk-rpm]
      requests_per_minute: 3
      tokens_per_minute: 10000
    - name: rpd
      api_keys: [sk-rpd]
      requests_per_day: 20
"""

BREAKER_CONFIG = """\
chaos:
  circuit_breaker:
    enabled: true
    failure_threshold: 3
    failure_window_s: 60
    recovery_timeout_s: 2.0
    success_threshold: 2
"""
# The breaker's open window: long enough that a loaded 2-core box still sees it open after the
# third failure and the state poll (at 0.5 s it was sometimes half-open already).
BREAKER_OPEN_S = 2.0

SCENARIO_CONFIG = """\
chaos:
  enabled: true
  scenarios:
    - {type: outage, start_s: 0, duration_s: 1.0}
"""


def _config(tmp_path_factory: pytest.TempPathFactory, name: str, text: str) -> str:
    path = tmp_path_factory.mktemp("chaos") / f"{name}.yaml"
    path.write_text(text)
    return str(path)


@pytest.fixture(scope="module")
def chaos_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Chaos and rate limits on (by flag), rules and tiers scoped to their own API keys."""
    config = _config(tmp_path_factory, "openai-chaos", CHAOS_CONFIG)
    with live_server("--no-latency", "--chaos", "--rate-limits", "--config", config) as live:
        yield live


@pytest.fixture(scope="module")
def breaker_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Circuit breakers on (chaos itself off): 3 failures open, 0.5 s to half-open, 2 successes close."""
    with live_server("--no-latency", "--config", _config(tmp_path_factory, "breaker", BREAKER_CONFIG)) as live:
        yield live


@pytest.fixture(scope="module")
def scenario_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A one-second outage at the start of the scenario clock."""
    with live_server("--no-latency", "--config", _config(tmp_path_factory, "scenario", SCENARIO_CONFIG)) as live:
        yield live


def _client(server: LiveServer, api_key: str = "sk-test", max_retries: int = 0, **kwargs: Any) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=server.openai_base,
        api_key=api_key,
        max_retries=max_retries,
        _strict_response_validation=True,
        **kwargs,
    )


def _chaos(value: str) -> dict[str, str]:
    return {CONTROL: value}


def _admin(server: LiveServer, method: str, path: str) -> dict[str, Any]:
    resp = httpx.request(method, server.url + path, timeout=5)
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def _content(chunk: ChatCompletionChunk) -> str:
    return "".join(c.delta.content or "" for c in chunk.choices)


# -- retries: retry-after-ms, x-should-retry ------------------------------------------------


def test_injected_429_is_retried_after_retry_after_ms(
    chaos_server: LiveServer, recorded: Attempts, recording_http: httpx2.Client
) -> None:
    with _client(chaos_server, "sk-retry", max_retries=2, http_client=recording_http) as client:
        started = time.monotonic()
        resp = client.chat.completions.create(model=MODEL, messages=MESSAGES, max_tokens=5)
        elapsed = time.monotonic() - started
    assert resp.choices[0].message.content
    assert recorded.retry_counts == ["0", "1", "2"]
    assert recorded.statuses == [429, 429, 200]
    assert recorded.retry_after_ms == ["10", "10", None]
    assert recorded.should_retry == ["true", "true", None]
    # The SDK's own backoff would wait at least 0.375 s + 0.75 s (0.5 s·2^n, -25 % jitter).
    assert elapsed < 1.0


def test_quota_exhausted_is_not_retried(
    chaos_server: LiveServer, recorded: Attempts, recording_http: httpx2.Client
) -> None:
    with (
        _client(chaos_server, max_retries=2, http_client=recording_http) as client,
        pytest.raises(openai.RateLimitError) as info,
    ):
        client.chat.completions.create(
            model=MODEL, messages=MESSAGES, max_tokens=5, extra_headers=_chaos("error=quota_exhausted")
        )
    assert recorded.retry_counts == ["0"]
    assert recorded.should_retry == ["false"]
    err = info.value
    assert err.status_code == 429
    assert err.code == "insufficient_quota"
    assert err.type == "insufficient_quota"
    assert "quota" in err.message


def test_server_error_is_retried_until_max_retries(
    chaos_server: LiveServer, recorded: Attempts, recording_http: httpx2.Client
) -> None:
    with (
        _client(chaos_server, max_retries=2, http_client=recording_http) as client,
        pytest.raises(openai.InternalServerError) as info,
    ):
        client.chat.completions.create(
            model=MODEL, messages=MESSAGES, max_tokens=5, extra_headers=_chaos("error=server_error")
        )
    assert recorded.retry_counts == ["0", "1", "2"]
    assert recorded.statuses == [500, 500, 500]
    assert recorded.should_retry == ["true"] * 3
    assert info.value.status_code == 500
    assert info.value.code == "server_error"


def test_hang_ends_in_the_sdk_timeout(chaos_server: LiveServer) -> None:
    started = time.monotonic()
    with _client(chaos_server, timeout=0.3) as client, pytest.raises(openai.APITimeoutError):
        client.chat.completions.create(model=MODEL, messages=MESSAGES, max_tokens=5, extra_headers=_chaos("error=hang"))
    assert time.monotonic() - started >= 0.3


def test_bad_control_header_is_a_400_naming_it(chaos_server: LiveServer) -> None:
    with _client(chaos_server) as client:
        for value in ("error=bogus", "fault=disconnect; after=-1", "nonsense", "colour=red", "after=3"):
            with pytest.raises(openai.BadRequestError) as info:
                client.chat.completions.create(
                    model=MODEL, messages=MESSAGES, max_tokens=5, extra_headers=_chaos(value)
                )
            assert CONTROL in info.value.message, value
            assert info.value.param == CONTROL, value
            assert info.value.type == "invalid_request_error"


# -- rate limits ----------------------------------------------------------------------------


def test_rate_limit_headers_then_429(chaos_server: LiveServer) -> None:
    _admin(chaos_server, "POST", "/admin/rate-limits/reset")
    remaining: list[int] = []
    resets: list[float] = []
    token_remaining: list[int] = []
    with _client(chaos_server, "sk-rpm") as client:
        for _ in range(3):
            raw = client.chat.completions.with_raw_response.create(
                model=MODEL, messages=MESSAGES, max_tokens=5, extra_body={"ignore_eos": True}
            )
            assert raw.parse().choices[0].message.content
            headers = raw.headers
            assert headers["x-ratelimit-limit-requests"] == "3"
            remaining.append(int(headers["x-ratelimit-remaining-requests"]))
            resets.append(go_seconds(headers["x-ratelimit-reset-requests"]))
            assert headers["x-ratelimit-limit-tokens"] == "10000"
            token_remaining.append(int(headers["x-ratelimit-remaining-tokens"]))
            assert 0 < go_seconds(headers["x-ratelimit-reset-tokens"]) < 60
        with pytest.raises(openai.RateLimitError) as info:
            client.chat.completions.create(model=MODEL, messages=MESSAGES, max_tokens=5)
    assert remaining == [2, 1, 0]
    # A refill of 3 per minute: the bucket is full again 20 s after each request it lost.
    for spent, reset in enumerate(resets, start=1):
        assert 20 * spent - 2 < reset <= 20 * spent, resets
    assert token_remaining[0] < 10000
    assert token_remaining == sorted(token_remaining, reverse=True)
    assert len(set(token_remaining)) == 3
    err = info.value
    assert err.status_code == 429
    assert err.type == "requests"
    assert err.code == "rate_limit_exceeded"
    assert f"Rate limit reached for {MODEL}" in err.message
    assert "(RPM): Limit 3, Used 3, Requested 1" in err.message
    headers = err.response.headers
    assert headers["x-should-retry"] == "true"
    assert headers["x-ratelimit-remaining-requests"] == "0"
    retry_after_ms = int(headers["retry-after-ms"])
    assert 19_000 < retry_after_ms <= 20_000
    assert headers["retry-after"] == "20"


async def test_concurrent_requests_admit_exactly_the_daily_budget(chaos_server: LiveServer) -> None:
    _admin(chaos_server, "POST", "/admin/rate-limits/reset")
    client = openai.AsyncOpenAI(
        base_url=chaos_server.openai_base, api_key="sk-rpd", max_retries=0, _strict_response_validation=True
    )
    try:
        results = await asyncio.gather(
            *(client.chat.completions.create(model=MODEL, messages=MESSAGES, max_tokens=2) for _ in range(100)),
            return_exceptions=True,
        )
    finally:
        await client.close()
    successes = [r for r in results if isinstance(r, openai.types.chat.ChatCompletion)]
    refused = [r for r in results if isinstance(r, openai.RateLimitError)]
    assert len(successes) == 20
    assert len(refused) == 80, [r for r in results if not isinstance(r, openai.types.chat.ChatCompletion)][:3]
    assert all(r.type == "requests" and "(RPD): Limit 20" in r.message for r in refused)
    status = _admin(chaos_server, "GET", "/admin/rate-limits")
    assert status["refused"] >= 80


# -- stream faults --------------------------------------------------------------------------


def _open_stream(client: openai.OpenAI, control: str) -> openai.Stream[ChatCompletionChunk]:
    return client.chat.completions.create(
        model=MODEL,
        messages=MESSAGES,
        max_tokens=20,
        stream=True,
        extra_body={"ignore_eos": True},
        extra_headers=_chaos(control),
    )


def _drain(stream: openai.Stream[ChatCompletionChunk], into: list[ChatCompletionChunk]) -> None:
    """Read ``stream`` to its end (or its exception), keeping every chunk received."""
    into.extend(stream)


def _deltas(chunks: list[ChatCompletionChunk]) -> int:
    return sum(1 for chunk in chunks if _content(chunk))


def test_stream_disconnect_is_a_connection_error_after_n_deltas(
    chaos_server: LiveServer, recorded: Attempts, recording_http: httpx2.Client
) -> None:
    chunks: list[ChatCompletionChunk] = []
    with _client(chaos_server, max_retries=2, http_client=recording_http) as client:
        stream = _open_stream(client, "fault=disconnect; after=3")
        with pytest.raises(openai.APIConnectionError) as info:
            _drain(stream, chunks)
    assert _deltas(chunks) == 3
    assert recorded.retry_counts == ["0"]
    # The SDK wraps the transport's error (an incomplete chunked body) and does not retry it.
    assert isinstance(info.value.__cause__, httpx2.RemoteProtocolError)
    assert "incomplete chunked read" in str(info.value.__cause__)


def test_stream_without_terminator_ends_quietly_truncated(chaos_server: LiveServer) -> None:
    chunks: list[ChatCompletionChunk] = []
    with _client(chaos_server) as client:
        _drain(_open_stream(client, "fault=no_terminator; after=3"), chunks)
    assert _deltas(chunks) == 3
    # No finish_reason ever arrives: only the missing terminator shows the truncation.
    assert all(choice.finish_reason is None for c in chunks for choice in c.choices)


def test_stream_helper_without_terminator_returns_an_unfinished_completion(chaos_server: LiveServer) -> None:
    with (
        _client(chaos_server) as client,
        client.chat.completions.stream(
            model=MODEL, messages=MESSAGES, max_tokens=20, extra_headers=_chaos("fault=no_terminator; after=3")
        ) as stream,
    ):
        deltas = [e.delta for e in stream if e.type == "content.delta" and e.delta]
        completion = stream.get_final_completion()
    assert len(deltas) == 3
    assert completion.choices[0].message.content == "".join(deltas)
    assert completion.choices[0].finish_reason is None


def test_stream_malformed_chunk_is_a_json_error(chaos_server: LiveServer) -> None:
    chunks: list[ChatCompletionChunk] = []
    with _client(chaos_server) as client:
        stream = _open_stream(client, "fault=malformed; after=3")
        with pytest.raises(json.JSONDecodeError):
            _drain(stream, chunks)
    assert _deltas(chunks) == 3


@pytest.mark.parametrize(
    ("fault_error", "code", "error_type"),
    [("overloaded", "overloaded", "server_error"), ("rate_limit", "rate_limit_exceeded", "requests")],
)
def test_stream_error_event_is_an_api_error(
    chaos_server: LiveServer, fault_error: str, code: str, error_type: str
) -> None:
    chunks: list[ChatCompletionChunk] = []
    with _client(chaos_server) as client:
        stream = _open_stream(client, f"fault=error_event; after=3; fault_error={fault_error}")
        with pytest.raises(openai.APIError) as info:
            _drain(stream, chunks)
    assert _deltas(chunks) == 3
    err = info.value
    # The stream started with 200, so the SDK raises the base class, not a status error.
    assert type(err) is openai.APIError
    assert err.code == code
    assert err.type == error_type
    assert err.body == {"message": err.message, "type": error_type, "param": None, "code": code}


def test_responses_stream_error_event_is_yielded(chaos_server: LiveServer) -> None:
    with _client(chaos_server) as client:
        events = list(
            client.responses.create(
                model=MODEL,
                input="Write a long story.",
                max_output_tokens=20,
                stream=True,
                extra_headers=_chaos("fault=error_event; after=3"),
            )
        )
    # The Responses stream carries its own `error` event: the SDK yields it, it does not raise.
    assert [e.type for e in events].count("response.output_text.delta") == 3
    last = events[-1]
    assert isinstance(last, ResponseErrorEvent)
    assert last.code == "overloaded"
    assert "overloaded" in last.message


@pytest.mark.parametrize("fault", ["no_terminator", "error_event"])
def test_responses_stream_helper_needs_response_completed(chaos_server: LiveServer, fault: str) -> None:
    with (
        _client(chaos_server) as client,
        client.responses.stream(
            model=MODEL,
            input="Write a long story.",
            max_output_tokens=20,
            extra_headers=_chaos(f"fault={fault}; after=3"),
        ) as stream,
    ):
        events = [event.type for event in stream]
        with pytest.raises(RuntimeError, match=r"`response\.completed`"):
            stream.get_final_response()
    assert events.count("response.output_text.delta") == 3
    assert "response.completed" not in events


def test_stream_stall_is_a_gap_between_chunks(chaos_server: LiveServer) -> None:
    arrivals: list[float] = []
    chunks: list[ChatCompletionChunk] = []
    with _client(chaos_server) as client:
        for chunk in _open_stream(client, "fault=stall; after=3; duration_ms=400"):
            arrivals.append(time.monotonic())
            chunks.append(chunk)
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    assert max(gaps) >= 0.3
    assert sorted(gaps)[-2] < 0.2  # one stall, not a slow stream
    assert _deltas(chunks) == 20  # then the stream goes on to its end


def test_slow_first_byte_delays_create(chaos_server: LiveServer) -> None:
    with _client(chaos_server) as client:
        started = time.monotonic()
        stream = _open_stream(client, "fault=slow_first_byte; duration_ms=400")
        opened = time.monotonic() - started
        chunks = list(stream)
        total = time.monotonic() - started
    assert opened >= 0.38
    assert total - opened < 0.2
    assert _deltas(chunks) == 20


# -- circuit breaker and scenarios ------------------------------------------------------------


def _breaker_state(server: LiveServer) -> str:
    status = _admin(server, "GET", "/admin/circuit-breakers")
    assert status["enabled"] is True
    state: str = status["models"][MODEL]["state"]
    return state


def _wait_for_state(server: LiveServer, state: str, timeout: float = 2.0) -> None:
    """The outcome of a response is recorded just after it is sent: poll briefly for it."""
    deadline = time.monotonic() + timeout
    while (current := _breaker_state(server)) != state:
        assert time.monotonic() < deadline, f"breaker stayed {current}, expected {state}"
        time.sleep(0.01)


def test_circuit_breaker_opens_and_recovers(breaker_server: LiveServer) -> None:
    _admin(breaker_server, "POST", "/admin/circuit-breakers/reset")
    with _client(breaker_server) as client:
        for _ in range(3):
            with pytest.raises(openai.InternalServerError):
                client.chat.completions.create(
                    model=MODEL, messages=MESSAGES, max_tokens=2, extra_headers=_chaos("error=server_error")
                )
        _wait_for_state(breaker_server, "open")
        with pytest.raises(openai.InternalServerError) as info:
            client.chat.completions.create(model=MODEL, messages=MESSAGES, max_tokens=2)
        opened = time.monotonic()
        err = info.value
        assert err.status_code == 503
        assert err.code == "circuit_open"
        assert "circuit open" in err.message
        assert 0 < int(err.response.headers["retry-after-ms"]) <= BREAKER_OPEN_S * 1000
        # Another model has its own breaker.
        assert client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, max_tokens=2).choices

        time.sleep(max(0.0, opened + BREAKER_OPEN_S + 0.1 - time.monotonic()))
        assert _breaker_state(breaker_server) == "half_open"
        assert client.chat.completions.create(model=MODEL, messages=MESSAGES, max_tokens=2).choices
        assert client.chat.completions.create(model=MODEL, messages=MESSAGES, max_tokens=2).choices
        _wait_for_state(breaker_server, "closed")
        assert client.chat.completions.create(model=MODEL, messages=MESSAGES, max_tokens=2).choices


def test_outage_scenario_and_restart(scenario_server: LiveServer) -> None:
    status = _admin(scenario_server, "GET", "/admin/chaos")
    assert [s["type"] for s in status["scenarios"]["scenarios"]] == ["outage"]
    with _client(scenario_server) as client:
        # The scenario clock started with the server; restart it so the window is known exactly.
        _admin(scenario_server, "POST", "/admin/chaos/scenarios/restart")
        restarted = time.monotonic()
        with pytest.raises(openai.InternalServerError) as info:
            client.chat.completions.create(model=MODEL, messages=MESSAGES, max_tokens=2)
        assert info.value.status_code == 503
        assert info.value.code == "service_unavailable"
        assert _admin(scenario_server, "GET", "/admin/chaos")["scenarios"]["scenarios"][0]["active"] is True

        time.sleep(max(0.0, restarted + 1.1 - time.monotonic()))
        assert client.chat.completions.create(model=MODEL, messages=MESSAGES, max_tokens=2).choices
        assert _admin(scenario_server, "GET", "/admin/chaos")["scenarios"]["scenarios"][0]["active"] is False

        restart = _admin(scenario_server, "POST", "/admin/chaos/scenarios/restart")
        assert restart["scenarios"][0]["active"] is True
        with pytest.raises(openai.InternalServerError) as info:
            client.chat.completions.create(model=MODEL, messages=MESSAGES, max_tokens=2)
        assert info.value.status_code == 503


# -- seeded reproducibility -------------------------------------------------------------------


def _failure_pattern(seed: int) -> list[int]:
    """The status of 30 sequential requests to a fresh server with chaos at probability 0.5.

    In process (the harness's own server, a fresh app each time): a process per pattern cost
    three interpreter starts and the CLI flags are tested elsewhere; the seed is what this is about.
    """
    statuses: list[int] = []
    config = {"latency.enabled": False, "chaos.enabled": True, "chaos.probability": 0.5, "seed": seed}
    with (
        start_simulator(config) as sim,
        openai.OpenAI(
            base_url=sim.openai_base_url, api_key="sk-test", max_retries=0, _strict_response_validation=True
        ) as client,
    ):
        for _ in range(30):
            try:
                client.chat.completions.create(model=MODEL, messages=MESSAGES, max_tokens=2)
                statuses.append(200)
            except openai.APIStatusError as exc:
                statuses.append(exc.status_code)
    return statuses


def test_seed_replays_the_same_failures() -> None:
    with ThreadPoolExecutor(3) as pool:
        first, again, other = pool.map(_failure_pattern, (11, 11, 12))
    assert first == again
    assert other != first
    for pattern in (first, other):
        failures = [s for s in pattern if s != 200]
        # The default mix: rate limits, server errors and overloads (503 on OpenAI).
        assert set(failures) <= {429, 500, 503}
        assert 5 <= len(failures) <= 25, pattern
