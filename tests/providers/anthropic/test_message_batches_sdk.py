"""Message Batches (``/v1/messages/batches``) through the official anthropic SDK."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import pytest

from tests.live import LiveServer, live_server
from tests.providers.anthropic.helpers import ANTHROPIC_HEADERS

MODEL = "claude-3-5-haiku-latest"


def _request(custom_id: str, **params: Any) -> dict[str, Any]:
    params = params or {"model": MODEL, "max_tokens": 32, "messages": [{"role": "user", "content": custom_id}]}
    return {"custom_id": custom_id, "params": params}


def _wait(client: anthropic.Anthropic, batch_id: str, timeout: float = 30.0) -> tuple[Any, list[str]]:
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    while True:
        batch = client.messages.batches.retrieve(batch_id)
        if not seen or seen[-1] != batch.processing_status:
            seen.append(batch.processing_status)
        if batch.processing_status == "ended":
            return batch, seen
        assert time.monotonic() < deadline, seen
        time.sleep(0.05)


@pytest.fixture(scope="module")
def batch_client(fast_server: LiveServer) -> Iterator[anthropic.Anthropic]:
    yield from _client(fast_server.url)


@pytest.fixture(scope="module")
def slow_client() -> Iterator[anthropic.Anthropic]:
    """A server whose batches wait 30 s before their first request (to cancel them in progress)."""
    with live_server("--no-latency", env={"LLM_SIMULATOR_BATCHES__VALIDATING_S": "30"}) as live:
        yield from _client(live.url)


def _client(url: str) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=url, api_key="k", max_retries=0, _strict_response_validation=True) as client:
        yield client


def test_a_batch_ends_and_its_results_answer_every_request(batch_client: anthropic.Anthropic) -> None:
    bad = {"model": MODEL, "max_tokens": 0, "messages": [{"role": "user", "content": "x"}]}
    requests = [_request(f"req-{i}") for i in range(4)] + [_request("bad", **bad)]
    batch = batch_client.messages.batches.create(requests=requests)  # type: ignore[arg-type]
    assert batch.id.startswith("msgbatch_") and batch.type == "message_batch"
    assert batch.processing_status == "in_progress" and batch.results_url is None
    assert batch.request_counts.processing == 5 and batch.request_counts.succeeded == 0
    assert batch.expires_at.timestamp() - batch.created_at.timestamp() == pytest.approx(24 * 3600)
    done, seen = _wait(batch_client, batch.id)
    assert seen[-1] == "ended" and done.ended_at is not None and done.ended_at >= done.created_at
    counts = done.request_counts
    assert (counts.processing, counts.succeeded, counts.errored, counts.canceled, counts.expired) == (0, 4, 1, 0, 0)
    assert done.results_url == f"{batch_client.base_url}".rstrip("/") + f"/v1/messages/batches/{batch.id}/results"
    results = {r.custom_id: r.result for r in batch_client.messages.batches.results(batch.id)}
    assert set(results) == {"req-0", "req-1", "req-2", "req-3", "bad"}
    for i in range(4):
        result = results[f"req-{i}"]
        assert result.type == "succeeded"
        assert result.message.type == "message" and result.message.content[0].type == "text"
        assert result.message.usage.output_tokens >= 1
    errored = results["bad"]
    assert errored.type == "errored" and errored.error.error.type == "invalid_request_error"
    assert "max_tokens" in errored.error.error.message
    deleted = batch_client.messages.batches.delete(batch.id)
    assert (deleted.id, deleted.type) == (batch.id, "message_batch_deleted")
    with pytest.raises(anthropic.NotFoundError):
        batch_client.messages.batches.retrieve(batch.id)


def test_list_pages_newest_first(batch_client: anthropic.Anthropic) -> None:
    ids = [batch_client.messages.batches.create(requests=[_request("a")]).id for _ in range(3)]  # type: ignore[list-item]
    page = batch_client.messages.batches.list(limit=2)
    assert [b.id for b in page.data] == ids[::-1][:2] and page.has_more
    assert (page.first_id, page.last_id) == (ids[2], ids[1])
    listed = [b.id for b in batch_client.messages.batches.list(limit=1)]  # auto-pagination follows after_id
    assert listed[:3] == ids[::-1]
    before = batch_client.messages.batches.list(before_id=ids[0], limit=1)
    assert [b.id for b in before.data] == [ids[1]] and before.has_more
    for batch_id in ids:
        _wait(batch_client, batch_id)


def test_cancel_ends_the_batch_with_its_requests_canceled(slow_client: anthropic.Anthropic) -> None:
    batch = slow_client.messages.batches.create(requests=[_request("a"), _request("b")])  # type: ignore[list-item]
    with pytest.raises(anthropic.BadRequestError, match="still processing"):
        slow_client.messages.batches.delete(batch.id)
    with pytest.raises(anthropic.AnthropicError, match="No `results_url`"):  # the SDK asks only once ended
        slow_client.messages.batches.results(batch.id)
    with pytest.raises(anthropic.NotFoundError, match="not available yet"):
        slow_client.get(f"/v1/messages/batches/{batch.id}/results", cast_to=httpx.Response)
    canceling = slow_client.messages.batches.cancel(batch.id)
    assert canceling.cancel_initiated_at is not None
    assert canceling.processing_status in ("canceling", "ended")
    done, _ = _wait(slow_client, batch.id)
    assert (done.request_counts.canceled, done.request_counts.succeeded) == (2, 0)
    results = list(slow_client.messages.batches.results(batch.id))
    assert [(r.custom_id, r.result.type) for r in results] == [("a", "canceled"), ("b", "canceled")]
    slow_client.messages.batches.delete(batch.id)


@pytest.mark.parametrize(
    ("requests", "message"),
    [
        ([], "at least 1 item"),
        ([_request("dup"), _request("dup")], "duplicate custom_id 'dup'"),
        ([_request("has space")], "String should match pattern"),
        ([_request("x" * 65)], "String should match pattern"),
        ([{"custom_id": "s", "params": {"model": MODEL, "max_tokens": 5, "messages": [], "stream": True}}], "Stream"),
        ([{"custom_id": "p"}], "params: Input should be a valid dictionary"),
    ],
)
def test_bad_batches_are_the_apis_400(batch_client: anthropic.Anthropic, requests: Any, message: str) -> None:
    with pytest.raises(anthropic.BadRequestError, match=message) as caught:
        batch_client.messages.batches.create(requests=requests)
    body: Any = caught.value.body
    assert body["type"] == "error" and body["error"]["type"] == "invalid_request_error"


def test_too_many_requests_and_bad_lookups() -> None:
    env = {"LLM_SIMULATOR_BATCHES__MAX_REQUESTS_PER_BATCH": "2"}
    with live_server("--no-latency", env=env) as live, httpx.Client(base_url=live.url, headers=ANTHROPIC_HEADERS) as h:
        response = h.post("/v1/messages/batches", json={"requests": [_request(c) for c in "abc"]})
        assert response.status_code == 400 and "at most 2 items" in response.json()["error"]["message"]
        missing = h.get("/v1/messages/batches/msgbatch_nope")
        assert missing.status_code == 404 and missing.json()["error"]["type"] == "not_found_error"
        assert h.post("/v1/messages/batches/msgbatch_nope/cancel").status_code == 404
        assert h.get("/v1/messages/batches", params={"limit": 0}).status_code == 400
