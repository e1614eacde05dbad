"""Background responses through the official openai SDK (strict validation): poll, cancel, resume a stream."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import openai
import pytest
from openai.types.responses import Response

from tests.live import LiveServer, live_server
from tests.providers.openai.helpers import assert_openai_error


@pytest.fixture(scope="module")
def slow_server() -> Iterator[LiveServer]:
    """A simulator with the standard latency profile: a long answer takes seconds."""
    with live_server("--seed", "7") as live:
        yield live


@pytest.fixture
def slow(slow_server: LiveServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(
        base_url=slow_server.openai_base, api_key="sk-test", max_retries=0, _strict_response_validation=True
    ) as c:
        yield c


def _poll(client: openai.OpenAI, response: Response, timeout: float = 20.0) -> tuple[Response, list[str]]:
    seen: list[str] = [response.status or ""]
    deadline = time.monotonic() + timeout
    while response.status in ("queued", "in_progress"):
        assert time.monotonic() < deadline, seen
        time.sleep(0.02)
        response = client.responses.retrieve(response.id)
        seen.append(response.status or "")
    return response, seen


def test_background_returns_queued_at_once_and_completes_when_polled(client: openai.OpenAI) -> None:
    created = client.responses.create(model="gpt-4o", input="Tell me a story.", background=True)
    assert created.status == "queued" and created.background is True and created.output == []
    done, seen = _poll(client, created)
    assert done.status == "completed" and done.background is True and done.id == created.id
    assert done.output_text and done.usage is not None and done.usage.output_tokens > 0
    assert set(seen) <= {"queued", "in_progress", "completed"}
    # A stored response: it continues a conversation like any other.
    follow = client.responses.create(model="gpt-4o", input="And then?", previous_response_id=done.id)
    assert follow.status == "completed"


def test_cancel_stops_a_background_response(slow: openai.OpenAI) -> None:
    created = slow.responses.create(
        model="gpt-4o", input="Write a long essay.", background=True, max_output_tokens=4000
    )
    cancelled = slow.responses.cancel(created.id)
    assert cancelled.status == "cancelled" and cancelled.id == created.id
    assert slow.responses.retrieve(created.id).status == "cancelled"
    assert slow.responses.cancel(created.id).status == "cancelled"  # idempotent


def test_streamed_background_response_resumes_after_a_sequence_number(client: openai.OpenAI) -> None:
    stream = client.responses.create(model="gpt-4o", input="Hello there", background=True, stream=True)
    events = list(stream)
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert [e.type for e in events[:3]] == ["response.created", "response.queued", "response.in_progress"]
    assert events[0].response.status == "queued"  # type: ignore[union-attr]
    assert events[-1].type == "response.completed"
    response_id = events[0].response.id  # type: ignore[union-attr]
    resumed = list(client.responses.retrieve(response_id, stream=True, starting_after=4))
    assert [e.sequence_number for e in resumed] == list(range(5, len(events)))
    assert [e.model_dump() for e in resumed] == [e.model_dump() for e in events[5:]]
    whole = list(client.responses.retrieve(response_id, stream=True))
    assert len(whole) == len(events)


def test_a_stream_can_be_followed_while_the_response_runs(slow: openai.OpenAI) -> None:
    created = slow.responses.create(model="gpt-4o", input="Hi", background=True, max_output_tokens=60)
    events = list(slow.responses.retrieve(created.id, stream=True, starting_after=0))
    assert events[0].sequence_number == 1
    assert events[-1].type in ("response.completed", "response.incomplete")  # 60 tokens may cut it
    assert slow.responses.retrieve(created.id).status == events[-1].response.status


@pytest.fixture(scope="module")
def http(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.openai_base, timeout=30) as c:
        yield c


def test_background_bad_input(http: httpx.Client, client: openai.OpenAI) -> None:
    body = {"model": "gpt-4o", "input": "Hi"}
    assert_openai_error(http.post("/responses", json={**body, "background": True, "store": False}), 400, param="store")
    assert_openai_error(http.post("/responses", json={**body, "background": "yes"}), 400, param="background")
    assert_openai_error(http.post("/responses/resp_nope/cancel"), 404, param="response_id")
    plain = http.post("/responses", json=body).json()
    # Only background responses can be cancelled or streamed again.
    assert_openai_error(http.post(f"/responses/{plain['id']}/cancel"), 400)
    assert_openai_error(http.get(f"/responses/{plain['id']}", params={"stream": "true"}), 400, param="stream")
    done, _ = _poll(client, client.responses.create(model="gpt-4o", input="Hi", background=True))
    assert_openai_error(http.post(f"/responses/{done.id}/cancel"), 400)
    bad = {"stream": "true", "starting_after": "x"}
    assert_openai_error(http.get(f"/responses/{done.id}", params=bad), 400, param="starting_after")
    assert_openai_error(http.get("/responses/resp_nope", params={"stream": "true"}), 404, param="response_id")
