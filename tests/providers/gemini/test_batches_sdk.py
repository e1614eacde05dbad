"""Gemini batch mode (``:batchGenerateContent``, ``batches/{id}``) through google-genai's ``client.batches``."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from google import genai
from google.genai import errors, types

from tests.live import LiveServer, live_server
from tests.providers.gemini.conftest import make_client

MODEL = "gemini-2.5-flash"
DONE = ("JOB_STATE_SUCCEEDED", "JOB_STATE_CANCELLED", "JOB_STATE_FAILED")


def _src(n: int) -> list[Any]:
    return [
        {"contents": [{"role": "user", "parts": [{"text": f"hello {i}"}]}], "metadata": {"key": f"k{i}"}}
        for i in range(n)
    ]


def _wait(client: genai.Client, name: str, timeout: float = 30.0) -> tuple[types.BatchJob, list[str]]:
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    while True:
        job = client.batches.get(name=name)
        state = str(job.state.value if job.state else None)
        if not seen or seen[-1] != state:
            seen.append(state)
        if state in DONE:
            return job, seen
        assert time.monotonic() < deadline, seen
        time.sleep(0.05)


@pytest.fixture(scope="module", params=["v1", "v1beta"])
def batch_client(fast_server: LiveServer, request: pytest.FixtureRequest) -> Iterator[genai.Client]:
    with make_client(fast_server.url, None if request.param == "v1" else request.param) as client:
        yield client


@pytest.fixture(scope="module")
def slow_client() -> Iterator[genai.Client]:
    """A server whose batches stay pending for 30 s (to cancel them before they run)."""
    env = {"LLM_SIMULATOR_BATCHES__VALIDATING_S": "30"}
    with live_server("--no-latency", env=env) as live, make_client(live.url, "v1beta") as client:
        yield client


def test_a_batch_succeeds_with_every_answer_inlined(batch_client: genai.Client) -> None:
    bad = {"contents": "hi", "config": {"temperature": 5.0}, "metadata": {"key": "bad"}}
    src = [*_src(3), bad]
    job = batch_client.batches.create(model=MODEL, src=src, config={"display_name": "run-1"})
    assert job.name and job.name.startswith("batches/") and job.display_name == "run-1"
    assert job.state is not None and job.state.value in ("JOB_STATE_PENDING", "JOB_STATE_RUNNING")
    assert job.create_time is not None and job.model == f"models/{MODEL}"
    done, seen = _wait(batch_client, job.name)
    assert seen[-1] == "JOB_STATE_SUCCEEDED" and done.end_time is not None and done.done
    assert done.dest is not None and done.dest.inlined_responses is not None
    answers = done.dest.inlined_responses
    assert [a.metadata for a in answers] == [{"key": "k0"}, {"key": "k1"}, {"key": "k2"}, {"key": "bad"}]
    for answer in answers[:3]:
        assert answer.error is None and answer.response is not None
        assert answer.response.text and answer.response.usage_metadata is not None
    assert answers[3].response is None and answers[3].error is not None
    assert answers[3].error.code == 3 and "temperature" in (answers[3].error.message or "")  # INVALID_ARGUMENT
    assert job.name in [j.name for j in batch_client.batches.list(config={"page_size": 100})]
    batch_client.batches.delete(name=job.name)
    with pytest.raises(errors.ClientError) as caught:
        batch_client.batches.get(name=job.name)
    assert caught.value.code == 404


def test_list_pages_newest_first(batch_client: genai.Client) -> None:
    names = [batch_client.batches.create(model=MODEL, src=_src(1)).name for _ in range(3)]
    pager = batch_client.batches.list(config={"page_size": 2})
    assert [j.name for j in pager.page] == names[::-1][:2]
    listed = [j.name for j in batch_client.batches.list(config={"page_size": 1})]  # follows nextPageToken
    assert listed[:3] == names[::-1]
    for name in names:
        assert name is not None
        _wait(batch_client, name)


def test_cancel_ends_the_batch_cancelled(slow_client: genai.Client) -> None:
    job = slow_client.batches.create(model=MODEL, src=_src(2))
    assert job.name is not None and job.state is not None and job.state.value == "JOB_STATE_PENDING"
    slow_client.batches.cancel(name=job.name)
    done, _ = _wait(slow_client, job.name)
    assert done.state is not None and done.state.value == "JOB_STATE_CANCELLED"
    assert done.dest is not None and done.dest.inlined_responses is not None
    assert [a.error.code if a.error else None for a in done.dest.inlined_responses] == [1, 1]  # CANCELLED
    slow_client.batches.delete(name=job.name)


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({}, 400, "'batch' is required"),
        ({"batch": {"inputConfig": {"requests": {"requests": []}}}}, 400, "at least one request"),
        ({"batch": {"inputConfig": {"fileName": "files/abc", "requests": {}}}}, 400, "not both"),
        ({"batch": {"inputConfig": {"fileName": 7}}}, 400, "must name a file"),
        ({"batch": {"inputConfig": {"requests": {"requests": [{"metadata": {}}]}}}}, 400, "request is required"),
    ],
)
def test_bad_batches_are_googles_errors(fast_server: LiveServer, body: Any, status: int, message: str) -> None:
    with httpx.Client(base_url=fast_server.url, headers={"x-goog-api-key": "k"}) as http:
        response = http.post(f"/v1beta/models/{MODEL}:batchGenerateContent", json=body)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["status"] == "INVALID_ARGUMENT" and message in error["message"]


def test_unknown_model_and_batch_are_404s(fast_server: LiveServer) -> None:
    with httpx.Client(base_url=fast_server.url, headers={"x-goog-api-key": "k"}) as http:
        body: dict[str, Any] = {"batch": {"inputConfig": {"requests": {"requests": [{"request": {"contents": []}}]}}}}
        assert http.post("/v1beta/models/no-such-model:batchGenerateContent", json=body).status_code == 404
        missing = http.get("/v1beta/batches/nope")
        assert missing.status_code == 404 and missing.json()["error"]["status"] == "NOT_FOUND"
        assert http.post("/v1beta/batches/nope:cancel").status_code == 404
        assert http.post("/v1beta/batches/nope:explode").status_code == 404
        assert http.delete("/v1/batches/nope").status_code == 404
