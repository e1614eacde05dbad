"""Background responses on their clock (``batches.background_time_scale``) and in telemetry.

A slow model (TTFT 1.5 s, no ITL) shows the compression; the request log shows each
background response's own record (``<create request id>:background``) once it completes,
fails or is cancelled, beside the create request's ``queued`` answer.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from openai.types.responses import Response

from llm_simulator.testing import SimulatorHandle, start_simulator
from tests.providers.slow_models import CHAT as MODEL
from tests.providers.slow_models import SLOW, TTFT_S


def _client(sim: SimulatorHandle) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=sim.openai_base_url, api_key="sk-test", max_retries=0, _strict_response_validation=True
    )


def _poll(client: openai.OpenAI, response: Response, timeout: float = 30.0) -> Response:
    deadline = time.monotonic() + timeout
    while response.status in ("queued", "in_progress"):
        assert time.monotonic() < deadline, response.status
        time.sleep(0.02)
        response = client.responses.retrieve(response.id)
    return response


def _background_entries(sim: SimulatorHandle) -> list[dict[str, Any]]:
    """The request log's records of background work (not of the requests that started it)."""
    deadline = time.monotonic() + 10
    while True:
        entries = [e for e in sim.requests(path="/v1/responses") if e["request_id"].endswith(":background")]
        if entries or time.monotonic() > deadline:
            return entries
        time.sleep(0.02)


@pytest.fixture(scope="module")
def compressed_sim() -> Iterator[SimulatorHandle]:
    with start_simulator({**SLOW, "batches.background_time_scale": 0.01}) as sim:
        yield sim


@pytest.fixture(scope="module")
def live_sim() -> Iterator[SimulatorHandle]:
    with start_simulator(SLOW) as sim:
        yield sim


def test_a_compressed_background_response_completes_far_sooner_and_is_recorded(
    compressed_sim: SimulatorHandle,
) -> None:
    compressed_sim.clear_requests()
    with _client(compressed_sim) as client:
        started = time.monotonic()
        created = client.responses.create(model=MODEL, input="Tell me a story.", background=True)
        done = _poll(client, created)
        elapsed = time.monotonic() - started
        assert done.status == "completed" and done.usage is not None and done.usage.output_tokens > 0
    assert elapsed < TTFT_S / 2  # 1.5 s of model time, compressed a hundredfold
    [entry] = _background_entries(compressed_sim)
    creating = [e for e in compressed_sim.requests(path="/v1/responses") if not e["request_id"].endswith(":background")]
    assert [e["request_id"] + ":background" for e in creating] == [entry["request_id"]]
    assert (entry["method"], entry["provider"], entry["endpoint"], entry["model"]) == (
        "POST",
        "openai",
        "responses",
        MODEL,
    )
    assert entry["status"] == 200 and entry["error_type"] is None and entry["stream"] is True
    assert entry["body"]["background"] is True
    assert entry["duration_ms"] < TTFT_S * 1000 / 2
    # Stats count it like any request of the model, with its tokens and its (compressed) TTFT
    # (the create request that queued it, and the polls, name no model).
    stats = compressed_sim.admin.stats()
    [model] = [m for m in stats["models"] if m["model"] == MODEL]
    assert model["requests"] == 1 and model["errors"] == 0
    assert model["output_tokens"] == done.usage.output_tokens
    assert model["ttft_ms"]["count"] == 1 and model["ttft_ms"]["max"] < TTFT_S * 1000 / 2


def test_an_uncompressed_background_response_takes_the_profiles_latency(live_sim: SimulatorHandle) -> None:
    live_sim.clear_requests()
    with _client(live_sim) as client:
        done = _poll(client, client.responses.create(model=MODEL, input="hi", background=True))
        assert done.status == "completed"
    [entry] = _background_entries(live_sim)
    assert TTFT_S * 1000 * 0.95 <= entry["duration_ms"] < TTFT_S * 1000 + 5000


def test_a_cancelled_background_response_is_recorded_as_cancelled(live_sim: SimulatorHandle) -> None:
    live_sim.clear_requests()
    with _client(live_sim) as client:
        created = client.responses.create(model=MODEL, input="hi", background=True)
        assert client.responses.cancel(created.id).status == "cancelled"
    [entry] = _background_entries(live_sim)
    assert entry["status"] == 499 and entry["error_type"] == "cancelled"
    assert entry["duration_ms"] < TTFT_S * 1000 + 5000


def test_a_failed_background_response_is_recorded_with_its_error(compressed_sim: SimulatorHandle) -> None:
    compressed_sim.clear_requests()
    with _client(compressed_sim) as client:
        created = client.responses.create(
            model=MODEL,
            input="hi",
            background=True,
            extra_headers={"x-simulator-chaos": "error=server_error; status=502"},
        )
        done = _poll(client, created)
        assert done.status == "failed" and done.error is not None
    [entry] = _background_entries(compressed_sim)
    assert entry["status"] == 502 and entry["error_type"] == "server_error"
