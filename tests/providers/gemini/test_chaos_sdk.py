"""Chaos and quotas as google-genai sees them on a real socket.

A rate-limit tier answers 429 RESOURCE_EXHAUSTED with ``QuotaFailure`` and ``RetryInfo``
details; an outage toggled through the admin API is ridden out by the SDK's retry options;
each stream fault is checked against what ``generate_content_stream`` raises (or does not).
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import httpx2
import pytest
from google import genai
from google.genai import errors, types

from tests.live import LiveServer, live_server
from tests.providers.gemini.helpers import CHAT_MODEL

CONTROL = "x-simulator-chaos"
PROMPT = "Write a long story."
RETRY_INFO = "type.googleapis.com/google.rpc.RetryInfo"
QUOTA_FAILURE = "type.googleapis.com/google.rpc.QuotaFailure"
PROTO_DURATION = re.compile(r"^\d+(\.\d{1,3})?s$")

CONFIG = """\
rate_limits:
  tiers:
    - name: limited
      api_keys: [gem-limited]
      requests_per_minute: 1
"""


@pytest.fixture(scope="module")
def chaos_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Rate limits on (one tier for one key); chaos off until a test turns it on."""
    path = tmp_path_factory.mktemp("chaos") / "gemini-chaos.yaml"
    path.write_text(CONFIG)
    with live_server("--no-latency", "--rate-limits", "--config", str(path)) as live:
        yield live


@pytest.fixture(scope="module")
def client(chaos_server: LiveServer) -> Iterator[genai.Client]:
    """A client without retries (the SDK's default)."""
    with genai.Client(api_key="k", http_options=types.HttpOptions(base_url=chaos_server.url)) as c:
        yield c


def _config(control: str | None = None, **kwargs: Any) -> types.GenerateContentConfig:
    """Generation settings; ``control`` goes in the request's x-simulator-chaos header."""
    options = types.HttpOptions(headers={CONTROL: control}) if control is not None else None
    return types.GenerateContentConfig(max_output_tokens=20, http_options=options, **kwargs)


def _admin(server: LiveServer, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    resp = httpx.request(method, server.url + path, json=body, timeout=5)
    assert resp.status_code == 200, resp.text
    result: dict[str, Any] = resp.json()
    return result


def _seconds(duration: str) -> float:
    assert PROTO_DURATION.match(duration), duration
    return float(duration[:-1])


# -- quota and outages ----------------------------------------------------------------------


def test_quota_refusal_carries_quota_failure_and_retry_info(chaos_server: LiveServer) -> None:
    _admin(chaos_server, "POST", "/admin/rate-limits/reset")
    options = types.HttpOptions(base_url=chaos_server.url)
    with genai.Client(api_key="gem-limited", http_options=options) as limited:
        assert limited.models.generate_content(model=CHAT_MODEL, contents=PROMPT, config=_config()).text
        with pytest.raises(errors.ClientError) as info:
            limited.models.generate_content(model=CHAT_MODEL, contents=PROMPT, config=_config())
    err = info.value
    assert err.code == 429
    assert err.status == "RESOURCE_EXHAUSTED"
    assert err.message and "Quota exceeded for metric" in err.message
    # The SDK's `details` is the whole error body; Google's details list is inside it.
    details = err.details["error"]["details"]
    by_type = {d["@type"]: d for d in details}
    violation = by_type[QUOTA_FAILURE]["violations"][0]
    assert violation["quotaId"] == "GenerateRequestsPerMinutePerProjectPerModel"
    assert violation["quotaMetric"] == "generativelanguage.googleapis.com/generate_content_requests"
    assert violation["quotaValue"] == "1"
    assert violation["quotaDimensions"] == {"location": "global", "model": CHAT_MODEL}
    # One request per minute: the next one is due in (just under) 60 s.
    assert 55 < _seconds(by_type[RETRY_INFO]["retryDelay"]) <= 60


def test_outage_raises_server_error_then_retry_options_ride_it_out(chaos_server: LiveServer) -> None:
    before = _admin(chaos_server, "GET", "/admin/chaos")["injections"].get("unavailable", 0)
    statuses: list[int] = []

    def end_outage_after_first_failure(response: httpx2.Response) -> None:
        statuses.append(response.status_code)
        if response.status_code == 503:
            _admin(chaos_server, "POST", "/admin/chaos/disable")

    _admin(chaos_server, "PUT", "/admin/chaos", {"enabled": True, "preset": "full_outage"})
    try:
        # Without retry options (the default) the 503 reaches the caller.
        with genai.Client(api_key="k", http_options=types.HttpOptions(base_url=chaos_server.url)) as plain:
            with pytest.raises(errors.ServerError) as info:
                plain.models.generate_content(model=CHAT_MODEL, contents=PROMPT, config=_config())
            assert info.value.code == 503
            assert info.value.status == "UNAVAILABLE"

        retry = types.HttpRetryOptions(attempts=5, initial_delay=0.05, max_delay=0.2, jitter=0.0)
        with httpx2.Client(event_hooks={"response": [end_outage_after_first_failure]}, timeout=30) as http:
            options = types.HttpOptions(base_url=chaos_server.url, retry_options=retry, httpx_client=http)
            with genai.Client(api_key="k", http_options=options) as retrying:
                response = retrying.models.generate_content(model=CHAT_MODEL, contents=PROMPT, config=_config())
        assert response.text
        assert statuses == [503, 200]
    finally:
        _admin(chaos_server, "PUT", "/admin/chaos", {"enabled": False, "preset": None})
    status = _admin(chaos_server, "GET", "/admin/chaos")
    assert status["enabled"] is False
    assert status["injections"]["unavailable"] == before + 2


def test_hang_ends_in_the_sdk_timeout(chaos_server: LiveServer) -> None:
    options = types.HttpOptions(base_url=chaos_server.url, timeout=300)  # milliseconds
    with genai.Client(api_key="k", http_options=options) as impatient, pytest.raises(httpx2.ReadTimeout):
        impatient.models.generate_content(model=CHAT_MODEL, contents=PROMPT, config=_config("error=hang"))


def test_bad_control_header_is_invalid_argument(client: genai.Client) -> None:
    with pytest.raises(errors.ClientError) as info:
        client.models.generate_content(model=CHAT_MODEL, contents=PROMPT, config=_config("fault=sideways"))
    assert info.value.code == 400
    assert info.value.status == "INVALID_ARGUMENT"
    assert info.value.message and CONTROL in info.value.message


# -- stream faults --------------------------------------------------------------------------


def _stream(client: genai.Client, control: str) -> Iterator[types.GenerateContentResponse]:
    return client.models.generate_content_stream(model=CHAT_MODEL, contents=PROMPT, config=_config(control))


def _finish(chunk: types.GenerateContentResponse) -> types.FinishReason | None:
    return chunk.candidates[0].finish_reason if chunk.candidates else None


@pytest.mark.parametrize(
    ("fault_error", "error_class", "code", "status"),
    [
        ("overloaded", errors.ServerError, 503, "UNAVAILABLE"),
        ("rate_limit", errors.ClientError, 429, "RESOURCE_EXHAUSTED"),
    ],
)
def test_stream_error_event_raises_api_error(
    client: genai.Client, fault_error: str, error_class: type[errors.APIError], code: int, status: str
) -> None:
    chunks: list[types.GenerateContentResponse] = []
    with pytest.raises(error_class) as info:
        chunks.extend(_stream(client, f"fault=error_event; after=3; fault_error={fault_error}"))
    assert len(chunks) == 3
    assert info.value.code == code
    assert info.value.status == status


def test_stream_disconnect_is_a_raw_transport_error(client: genai.Client) -> None:
    chunks: list[types.GenerateContentResponse] = []
    with pytest.raises(httpx2.RemoteProtocolError, match="incomplete chunked read"):
        chunks.extend(_stream(client, "fault=disconnect; after=3"))
    assert len(chunks) == 3


def test_stream_malformed_chunk_is_an_unknown_response_error(client: genai.Client) -> None:
    chunks: list[types.GenerateContentResponse] = []
    with pytest.raises(errors.UnknownApiResponseError, match="Failed to parse response as JSON"):
        chunks.extend(_stream(client, "fault=malformed; after=3"))
    assert len(chunks) == 3


def test_stream_without_terminator_ends_without_finish_reason(client: genai.Client) -> None:
    chunks = list(_stream(client, "fault=no_terminator; after=3"))
    # Gemini streams have no terminator event: only the missing finishReason shows the cut.
    assert len(chunks) == 3
    assert all(_finish(chunk) is None for chunk in chunks)
    assert all(chunk.text for chunk in chunks)


def test_stream_stall_is_a_gap_between_chunks(client: genai.Client) -> None:
    arrivals: list[float] = []
    chunks: list[types.GenerateContentResponse] = []
    for chunk in _stream(client, "fault=stall; after=3; duration_ms=400"):
        arrivals.append(time.monotonic())
        chunks.append(chunk)
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    assert max(gaps) >= 0.3
    assert _finish(chunks[-1]) == types.FinishReason.MAX_TOKENS


def test_slow_first_byte_delays_the_first_chunk(client: genai.Client) -> None:
    started = time.monotonic()
    stream = _stream(client, "fault=slow_first_byte; duration_ms=400")
    first = next(stream)
    waited = time.monotonic() - started
    rest = list(stream)
    assert waited >= 0.38
    assert first.text
    assert _finish(rest[-1]) == types.FinishReason.MAX_TOKENS
