"""The batch clock through the official SDKs: compressed line latency and expiring windows.

Every server here uses a slow fixed profile (TTFT 1.5 s, no ITL), so an uncompressed line
takes at least 1.5 s; the bounds are one-sided where a loaded 2-core box could break them
(a wait is never shorter than due, but may be longer).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import orjson
import pytest

from llm_simulator.testing import SimulatorHandle, start_simulator
from tests.providers.slow_models import CHAT, CLAUDE, SLOW, TTFT_S


def _start(**config: Any) -> SimulatorHandle:
    return start_simulator({**SLOW, **config})


def _openai(sim: SimulatorHandle) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=sim.openai_base_url, api_key="sk-test", max_retries=0, _strict_response_validation=True
    )


def _anthropic(sim: SimulatorHandle) -> anthropic.Anthropic:
    return anthropic.Anthropic(
        base_url=sim.anthropic_base_url, api_key="k", max_retries=0, _strict_response_validation=True
    )


def _batch(client: openai.OpenAI, n: int) -> Any:
    lines = [
        {
            "custom_id": f"line-{i}",
            "method": "POST",
            "url": "/v1/chat/completions",
            "body": {"model": CHAT, "max_tokens": 3, "messages": [{"role": "user", "content": f"hello {i}"}]},
        }
        for i in range(n)
    ]
    data = b"".join(orjson.dumps(line) + b"\n" for line in lines)
    file_id = client.files.create(file=("in.jsonl", data), purpose="batch").id
    return client.batches.create(input_file_id=file_id, endpoint="/v1/chat/completions", completion_window="24h")


def _finish(client: openai.OpenAI, batch_id: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        batch = client.batches.retrieve(batch_id)
        if batch.status in ("completed", "failed", "cancelled", "expired"):
            return batch
        assert time.monotonic() < deadline, batch.status
        time.sleep(0.02)


def _line_durations_ms(sim: SimulatorHandle) -> list[float]:
    """How long each batch line took, from the request log (lines are internal requests)."""
    return [
        entry["duration_ms"]
        for entry in sim.requests(path="/v1/chat/completions")
        if entry["headers"].get("x-simulator-internal") == "batch"
    ]


@pytest.fixture(scope="module")
def compressed_sim() -> Iterator[SimulatorHandle]:
    """A hundredfold compression, one line at a time."""
    with _start(**{"batches.time_scale": 0.01, "batches.concurrency": 1}) as sim:
        yield sim


def test_a_compressed_batch_finishes_far_sooner_than_its_lines_would_live(compressed_sim: SimulatorHandle) -> None:
    n = 8  # one at a time: 12 s uncompressed
    with _openai(compressed_sim) as client:
        started = time.monotonic()
        batch = _batch(client, n)
        done = _finish(client, batch.id)
        elapsed = time.monotonic() - started
        assert done.status == "completed"
        assert done.request_counts is not None
        assert (done.request_counts.total, done.request_counts.completed, done.request_counts.failed) == (n, n, 0)
        assert done.output_file_id is not None
        lines = client.files.content(done.output_file_id).content.splitlines()
        assert len(lines) == n
        assert all(orjson.loads(line)["response"]["status_code"] == 200 for line in lines)
    assert elapsed < n * TTFT_S / 3  # 12 s of model time; about 0.12 s compressed
    durations = _line_durations_ms(compressed_sim)
    assert len(durations) == n
    assert all(d < TTFT_S * 1000 / 3 for d in durations), durations
    # A live request on the same server is not compressed.
    with _openai(compressed_sim) as client:
        started = time.monotonic()
        client.chat.completions.create(model=CHAT, max_tokens=3, messages=[{"role": "user", "content": "hi"}])
        assert time.monotonic() - started >= TTFT_S * 0.95


def test_an_uncompressed_line_takes_the_profiles_latency() -> None:
    with _start(**{"batches.time_scale": 1.0}) as sim, _openai(sim) as client:
        started = time.monotonic()
        done = _finish(client, _batch(client, 2).id)
        elapsed = time.monotonic() - started
        assert done.status == "completed"
        durations = _line_durations_ms(sim)
    assert len(durations) == 2
    # Each line waits its TTFT (never less; generous above for a loaded box).
    assert all(TTFT_S * 1000 * 0.95 <= d < TTFT_S * 1000 + 5000 for d in durations), durations
    assert elapsed >= TTFT_S + 0.2 + 0.2 - 0.1  # the lines ran in parallel, plus both phases


@pytest.fixture(scope="module")
def expiring_sim() -> Iterator[SimulatorHandle]:
    """A one-second window (2 s × 0.5); each line takes 0.75 s, one at a time."""
    config = {"batches.time_scale": 0.5, "batches.completion_window_s": 2.0, "batches.concurrency": 1}
    with _start(**config) as sim:
        yield sim


def test_an_openai_batch_expires_with_its_unfinished_lines_in_the_error_file(expiring_sim: SimulatorHandle) -> None:
    n = 4  # 3 s of compressed work in a 1 s window: at least 2 lines cannot finish
    with _openai(expiring_sim) as client:
        batch = _batch(client, n)
        assert batch.expires_at is not None and batch.expires_at - batch.created_at in (1, 2)
        done = _finish(client, batch.id)
        assert done.status == "expired"
        assert done.expired_at is not None and done.expired_at >= done.created_at
        assert done.completed_at is None and done.finalizing_at is None
        counts = done.request_counts
        assert counts is not None and counts.total == n and counts.completed + counts.failed == n
        assert counts.failed >= 2
        assert done.error_file_id is not None
        errors = [orjson.loads(line) for line in client.files.content(done.error_file_id).content.splitlines()]
        assert len(errors) == counts.failed
        for line in errors:
            assert line["id"].startswith("batch_req_") and line["custom_id"].startswith("line-")
            assert line["response"] is None
            assert line["error"]["code"] == "batch_expired"
            assert "completion window" in line["error"]["message"]
        answered = []
        if counts.completed:
            assert done.output_file_id is not None
            answered = [
                orjson.loads(x)["custom_id"] for x in client.files.content(done.output_file_id).content.splitlines()
            ]
        else:
            assert done.output_file_id is None
        assert sorted(answered + [e["custom_id"] for e in errors]) == [f"line-{i}" for i in range(n)]
        # An expired batch is finished: it cannot be cancelled.
        with pytest.raises(openai.ConflictError):
            client.batches.cancel(batch.id)


def test_an_anthropic_batch_expires_with_its_unprocessed_requests_expired(expiring_sim: SimulatorHandle) -> None:
    n = 4
    requests = [
        {
            "custom_id": f"req-{i}",
            "params": {"model": CLAUDE, "max_tokens": 3, "messages": [{"role": "user", "content": "x"}]},
        }
        for i in range(n)
    ]
    with _anthropic(expiring_sim) as client:
        batch = client.messages.batches.create(requests=requests)  # type: ignore[arg-type]
        window = (batch.expires_at - batch.created_at).total_seconds()
        assert window == pytest.approx(1.0, abs=0.01)
        deadline = time.monotonic() + 60
        while batch.processing_status != "ended":
            assert time.monotonic() < deadline
            time.sleep(0.02)
            batch = client.messages.batches.retrieve(batch.id)
        counts = batch.request_counts
        assert counts.processing == 0 and counts.canceled == 0 and counts.errored == 0
        assert counts.expired >= 2 and counts.succeeded + counts.expired == n
        assert batch.ended_at is not None
        results = list(client.messages.batches.results(batch.id))
        assert [r.custom_id for r in results] == [f"req-{i}" for i in range(n)]
        kinds = [r.result.type for r in results]
        assert kinds.count("expired") == counts.expired and kinds.count("succeeded") == counts.succeeded


def test_the_window_is_the_apis_24_hours_by_default() -> None:
    with start_simulator() as sim, _openai(sim) as client, _anthropic(sim) as claude:
        batch = _batch(client, 1)
        assert batch.expires_at is not None and batch.expires_at - batch.created_at == 24 * 3600
        assert _finish(client, batch.id).status == "completed"
        message_batch = claude.messages.batches.create(
            requests=[
                {
                    "custom_id": "a",
                    "params": {"model": CLAUDE, "max_tokens": 3, "messages": [{"role": "user", "content": "x"}]},
                }
            ]
        )
        assert (message_batch.expires_at - message_batch.created_at).total_seconds() == pytest.approx(24 * 3600)
