"""Chaos and rate limits as the official anthropic SDK sees them on a real socket.

529 overloads and 429s go through the SDK's retry loop (``x-stainless-retry-count``,
``retry-after-ms``); rate-limit tiers show in ``anthropic-ratelimit-*`` headers; each stream
fault is checked against what the SDK raises (or does not) while iterating.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
import time
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx2
import pytest
from anthropic.types import MessageParam, MessageStreamEvent, TextBlock

from tests.live import LiveServer, live_server
from tests.providers.attempts import Attempts

MODEL = "claude-sonnet-4-6"
MESSAGES: list[MessageParam] = [{"role": "user", "content": "Write a long story."}]
CONTROL = "x-simulator-chaos"
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")

CONFIG = """\
chaos:
  rules:
    - name: first-two-attempts
      api_keys: [ant-retry]
      headers: {x-stainless-retry-count: "[01]"}
      error_type: rate_limit
      retry_after_s: 0.01
rate_limits:
  tiers:
    - name: limited
      api_keys: [ant-limited]
      requests_per_minute: 2
      input_tokens_per_minute: 10000
      output_tokens_per_minute: 2000
"""


@pytest.fixture(scope="module")
def chaos_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Chaos and rate limits on, the rule and the tier scoped to their own API keys."""
    path = tmp_path_factory.mktemp("chaos") / "anthropic-chaos.yaml"
    path.write_text(CONFIG)
    with live_server("--no-latency", "--chaos", "--rate-limits", "--config", str(path)) as live:
        yield live


def _client(server: LiveServer, api_key: str = "k", max_retries: int = 0, **kwargs: Any) -> anthropic.Anthropic:
    return anthropic.Anthropic(
        base_url=server.url, api_key=api_key, max_retries=max_retries, _strict_response_validation=True, **kwargs
    )


def _chaos(value: str) -> dict[str, str]:
    return {CONTROL: value}


def _text(message: anthropic.types.Message) -> str:
    return "".join(block.text for block in message.content if isinstance(block, TextBlock))


def _reset(value: str) -> dt.datetime:
    assert RFC3339.match(value), value
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


# -- retries --------------------------------------------------------------------------------


def test_529_is_retried_then_overloaded_error(
    chaos_server: LiveServer, recorded: Attempts, recording_http: httpx2.Client
) -> None:
    with (
        _client(chaos_server, max_retries=2, http_client=recording_http) as client,
        pytest.raises(anthropic.OverloadedError) as info,
    ):
        client.messages.create(model=MODEL, max_tokens=5, messages=MESSAGES, extra_headers=_chaos("error=overloaded"))
    assert recorded.retry_counts == ["0", "1", "2"]
    assert recorded.statuses == [529, 529, 529]
    err = info.value
    assert err.status_code == 529
    assert err.body == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "The model is overloaded. Please try again later."},
        "request_id": err.request_id,
    }
    assert err.request_id and err.request_id.startswith("req_")


def test_429_is_retried_after_retry_after_ms(
    chaos_server: LiveServer, recorded: Attempts, recording_http: httpx2.Client
) -> None:
    with _client(chaos_server, "ant-retry", max_retries=2, http_client=recording_http) as client:
        started = time.monotonic()
        message = client.messages.create(model=MODEL, max_tokens=5, messages=MESSAGES)
        elapsed = time.monotonic() - started
    assert _text(message)
    assert recorded.retry_counts == ["0", "1", "2"]
    assert recorded.statuses == [429, 429, 200]
    assert recorded.retry_after_ms == ["10", "10", None]
    # The SDK's own backoff would wait at least 0.375 s + 0.75 s.
    assert elapsed < 1.0


def test_hang_ends_in_the_sdk_timeout(chaos_server: LiveServer) -> None:
    with _client(chaos_server, timeout=0.3) as client, pytest.raises(anthropic.APITimeoutError):
        client.messages.create(model=MODEL, max_tokens=5, messages=MESSAGES, extra_headers=_chaos("error=hang"))


def test_bad_control_header_is_a_400_naming_it(chaos_server: LiveServer) -> None:
    with _client(chaos_server) as client, pytest.raises(anthropic.BadRequestError) as info:
        client.messages.create(model=MODEL, max_tokens=5, messages=MESSAGES, extra_headers=_chaos("error=bogus"))
    assert CONTROL in info.value.message
    assert isinstance(info.value.body, dict)
    assert info.value.body["error"]["type"] == "invalid_request_error"


# -- rate limits ----------------------------------------------------------------------------


def test_rate_limit_headers_then_429(chaos_server: LiveServer) -> None:
    assert httpx2.post(chaos_server.url + "/admin/rate-limits/reset", timeout=5).status_code == 200
    remaining: list[int] = []
    with _client(chaos_server, "ant-limited") as client:
        for _ in range(2):
            before = dt.datetime.now(dt.UTC)
            raw = client.messages.with_raw_response.create(model=MODEL, max_tokens=50, messages=MESSAGES)
            assert _text(raw.parse())
            headers = raw.headers
            assert headers["anthropic-ratelimit-requests-limit"] == "2"
            remaining.append(int(headers["anthropic-ratelimit-requests-remaining"]))
            # Full again 30 s after each spent request (2 per minute), to the second.
            reset = _reset(headers["anthropic-ratelimit-requests-reset"])
            spent = 2 - remaining[-1]
            assert before + dt.timedelta(seconds=30 * spent - 2) <= reset
            assert reset <= before + dt.timedelta(seconds=30 * spent + 2)
            assert headers["anthropic-ratelimit-input-tokens-limit"] == "10000"
            assert 0 < int(headers["anthropic-ratelimit-input-tokens-remaining"]) < 10000
            _reset(headers["anthropic-ratelimit-input-tokens-reset"])
            assert headers["anthropic-ratelimit-output-tokens-limit"] == "2000"
            assert int(headers["anthropic-ratelimit-output-tokens-remaining"]) <= 2000 - 50
            _reset(headers["anthropic-ratelimit-output-tokens-reset"])
            # Only input and output budgets: `tokens` shows the tighter of the two.
            assert headers["anthropic-ratelimit-tokens-limit"] == "2000"
            assert (
                headers["anthropic-ratelimit-tokens-remaining"]
                == (headers["anthropic-ratelimit-output-tokens-remaining"])
            )
        with pytest.raises(anthropic.RateLimitError) as info:
            client.messages.create(model=MODEL, max_tokens=50, messages=MESSAGES)
    assert remaining == [1, 0]
    err = info.value
    assert err.status_code == 429
    assert isinstance(err.body, dict)
    assert err.body["error"]["type"] == "rate_limit_error"
    assert "exceed the rate limit for your organization" in err.message
    assert "of 2 requests per minute" in err.message
    headers = err.response.headers
    assert headers["anthropic-ratelimit-requests-remaining"] == "0"
    assert headers["x-should-retry"] == "true"
    assert 0 < int(headers["retry-after-ms"]) <= 30_000
    assert headers["retry-after"] == "30"


# -- stream faults --------------------------------------------------------------------------


def _stream(client: anthropic.Anthropic, control: str) -> anthropic.Stream[MessageStreamEvent]:
    return client.messages.create(
        model=MODEL, max_tokens=20, messages=MESSAGES, stream=True, extra_headers=_chaos(control)
    )


def _deltas(events: list[MessageStreamEvent]) -> int:
    return sum(1 for e in events if e.type == "content_block_delta")


@pytest.mark.parametrize(
    ("fault_error", "error_type"), [("overloaded", "overloaded_error"), ("rate_limit", "rate_limit_error")]
)
def test_stream_error_event_raises_a_status_error(chaos_server: LiveServer, fault_error: str, error_type: str) -> None:
    events: list[MessageStreamEvent] = []
    with _client(chaos_server) as client:
        stream = _stream(client, f"fault=error_event; after=3; fault_error={fault_error}")
        with pytest.raises(anthropic.APIStatusError) as info:
            events.extend(stream)
    assert _deltas(events) == 3
    err = info.value
    # Raised from a 200 stream: the base class, carrying the 200 and the event's body.
    assert type(err) is anthropic.APIStatusError
    assert err.status_code == 200
    assert isinstance(err.body, dict)
    assert err.body["type"] == "error"
    assert err.body["error"]["type"] == error_type


def test_stream_helper_error_event_raises(chaos_server: LiveServer) -> None:
    texts: list[str] = []
    with (
        _client(chaos_server) as client,
        client.messages.stream(
            model=MODEL, max_tokens=20, messages=MESSAGES, extra_headers=_chaos("fault=error_event; after=3")
        ) as stream,
        pytest.raises(anthropic.APIStatusError),
    ):
        texts.extend(stream.text_stream)
    assert len(texts) == 3


def test_stream_disconnect_is_a_connection_error(chaos_server: LiveServer) -> None:
    events: list[MessageStreamEvent] = []
    with _client(chaos_server, max_retries=2) as client:
        stream = _stream(client, "fault=disconnect; after=3")
        # Since anthropic 2.17 a body read that fails mid-stream is an APIConnectionError
        # wrapping the transport's error (earlier releases let the transport error through).
        with pytest.raises(anthropic.APIConnectionError) as caught:
            events.extend(stream)
    assert isinstance(caught.value.__cause__, httpx2.RemoteProtocolError)
    assert "incomplete chunked read" in str(caught.value.__cause__)
    assert _deltas(events) == 3


def test_stream_malformed_event_is_a_json_error(chaos_server: LiveServer) -> None:
    events: list[MessageStreamEvent] = []
    with _client(chaos_server) as client:
        stream = _stream(client, "fault=malformed; after=3")
        with pytest.raises(ValueError, match="Unterminated string"):
            events.extend(stream)
    assert _deltas(events) == 3


def test_stream_without_terminator_ends_quietly(chaos_server: LiveServer) -> None:
    with _client(chaos_server) as client:
        events = list(_stream(client, "fault=no_terminator; after=3"))
    assert _deltas(events) == 3
    types = [e.type for e in events]
    assert types[0] == "message_start"
    assert "message_delta" not in types
    assert "message_stop" not in types


def test_stream_helper_without_terminator_returns_an_unfinished_message(chaos_server: LiveServer) -> None:
    with (
        _client(chaos_server) as client,
        client.messages.stream(
            model=MODEL, max_tokens=20, messages=MESSAGES, extra_headers=_chaos("fault=no_terminator; after=3")
        ) as stream,
    ):
        texts = list(stream.text_stream)
        message = stream.get_final_message()
    # No exception: only the missing stop_reason (and usage from message_start) tells.
    assert len(texts) == 3
    assert _text(message) == "".join(texts)
    assert message.stop_reason is None
    assert message.usage.output_tokens == 1


def test_stream_stall_is_a_gap_between_events(chaos_server: LiveServer) -> None:
    arrivals: list[float] = []
    types: list[str] = []
    with _client(chaos_server) as client:
        for event in _stream(client, "fault=stall; after=3; duration_ms=400"):
            arrivals.append(time.monotonic())
            types.append(event.type)
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    assert max(gaps) >= 0.3
    assert types.count("content_block_delta") == 20
    assert types[-1] == "message_stop"


def test_slow_first_byte_delays_create(chaos_server: LiveServer) -> None:
    with _client(chaos_server) as client:
        started = time.monotonic()
        stream = _stream(client, "fault=slow_first_byte; duration_ms=400")
        opened = time.monotonic() - started
        events = list(stream)
    assert opened >= 0.38
    assert _deltas(events) == 20
