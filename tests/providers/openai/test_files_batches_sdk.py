"""Files (``/v1/files``) and Batches (``/v1/batches``) through the official openai SDK."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import openai
import orjson
import pytest

from tests.live import LiveServer, live_server

CHAT = "gpt-4o-mini"


def _line(custom_id: str, url: str = "/v1/chat/completions", **body: Any) -> dict[str, Any]:
    body = body or {"model": CHAT, "messages": [{"role": "user", "content": f"Say hello to {custom_id}"}]}
    return {"custom_id": custom_id, "method": "POST", "url": url, "body": body}


def _jsonl(*lines: Any) -> bytes:
    return b"".join((line if isinstance(line, bytes) else orjson.dumps(line)) + b"\n" for line in lines)


def _upload(client: openai.OpenAI, data: bytes, purpose: Any = "batch", name: str = "in.jsonl") -> str:
    return client.files.create(file=(name, data), purpose=purpose).id


def _wait(client: openai.OpenAI, batch_id: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    while True:
        batch = client.batches.retrieve(batch_id)
        if not seen or seen[-1] != batch.status:
            seen.append(batch.status)
        if batch.status in ("completed", "failed", "cancelled", "expired"):
            return batch, seen
        assert time.monotonic() < deadline, seen
        time.sleep(0.05)


@pytest.fixture(scope="module")
def slow_server() -> Iterator[LiveServer]:
    """Long phases (a batch stays validating for 30 s) and a small file store."""
    env = {
        "LLM_SIMULATOR_BATCHES__VALIDATING_S": "30",
        "LLM_SIMULATOR_BATCHES__MAX_FILES": "3",
        "LLM_SIMULATOR_BATCHES__MAX_FILE_BYTES": "2000",
    }
    with live_server("--no-latency", env=env) as live:
        yield live


@pytest.fixture
def slow_client(slow_server: LiveServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(
        base_url=slow_server.openai_base, api_key="sk-test", max_retries=0, _strict_response_validation=True
    ) as c:
        yield c


def test_files_upload_list_retrieve_content_delete(client: openai.OpenAI) -> None:
    data = _jsonl(_line("a"), _line("b"))
    created = client.files.create(file=("requests.jsonl", data), purpose="batch")
    assert created.id.startswith("file-") and created.object == "file"
    assert (created.bytes, created.filename, created.purpose, created.status) == (
        len(data),
        "requests.jsonl",
        "batch",
        "processed",
    )
    assert abs(created.created_at - time.time()) < 60
    other = client.files.create(file=("notes.txt", b"hello"), purpose="user_data")
    assert client.files.retrieve(created.id) == created
    assert client.files.content(created.id).content == data
    ids = [f.id for f in client.files.list()]
    assert ids.index(other.id) < ids.index(created.id)  # newest first
    assert [f.id for f in client.files.list(purpose="batch")] == [f for f in ids if f != other.id and f in ids][
        : len(client.files.list(purpose="batch").data)
    ]
    page = client.files.list(limit=1, order="asc")
    assert len(page.data) == 1 and page.has_more
    paged = [f.id for f in client.files.list(limit=1, order="desc")]  # auto-pagination follows `after`
    assert paged == ids
    deleted = client.files.delete(created.id)
    assert (deleted.id, deleted.deleted) == (created.id, True)
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(created.id)
    with pytest.raises(openai.NotFoundError):
        client.files.content(created.id)
    client.files.delete(other.id)


def test_a_batch_completes_and_its_output_answers_every_line(client: openai.OpenAI) -> None:
    custom_ids = [f"req-{i}" for i in range(5)]
    file_id = _upload(client, _jsonl(*[_line(c) for c in custom_ids]))
    batch = client.batches.create(
        input_file_id=file_id, endpoint="/v1/chat/completions", completion_window="24h", metadata={"run": "t1"}
    )
    assert batch.id.startswith("batch_") and batch.status == "validating" and batch.metadata == {"run": "t1"}
    assert client.batches.retrieve(batch.id).id == batch.id
    assert batch.id in [b.id for b in client.batches.list(limit=100)]
    done, seen = _wait(client, batch.id)
    assert done.status == "completed", done
    assert seen[-1] == "completed"
    assert done.request_counts is not None
    assert (done.request_counts.total, done.request_counts.completed, done.request_counts.failed) == (5, 5, 0)
    assert done.in_progress_at and done.finalizing_at and done.completed_at
    assert done.created_at <= done.in_progress_at <= done.finalizing_at <= done.completed_at
    assert done.error_file_id is None and done.output_file_id is not None
    output = client.files.retrieve(done.output_file_id)
    assert output.purpose == "batch_output"
    lines = [orjson.loads(x) for x in client.files.content(done.output_file_id).content.splitlines()]
    assert sorted(line["custom_id"] for line in lines) == custom_ids
    for line in lines:
        assert set(line) == {"id", "custom_id", "response", "error"} and line["error"] is None
        assert line["id"].startswith("batch_req_")
        response = line["response"]
        assert response["status_code"] == 200 and response["request_id"]
        completion = openai.types.chat.ChatCompletion.model_validate(response["body"])
        assert completion.model == CHAT and completion.choices[0].message.content


def test_each_endpoint_is_served_by_the_live_engine(client: openai.OpenAI) -> None:
    cases: dict[str, dict[str, Any]] = {
        "/v1/embeddings": {"model": "text-embedding-3-small", "input": "hello"},
        "/v1/completions": {"model": "gpt-3.5-turbo-instruct", "prompt": "Once", "max_tokens": 5},
        "/v1/responses": {"model": CHAT, "input": "hi"},
    }
    for endpoint, body in cases.items():
        file_id = _upload(client, _jsonl(_line("only", endpoint, **body)))
        batch = client.batches.create(input_file_id=file_id, endpoint=endpoint, completion_window="24h")  # type: ignore[arg-type]
        done, _ = _wait(client, batch.id)
        assert done.status == "completed" and done.output_file_id, (endpoint, done)
        (line,) = [orjson.loads(x) for x in client.files.content(done.output_file_id).content.splitlines()]
        assert line["response"]["status_code"] == 200, line
        expected = {"/v1/embeddings": "list", "/v1/completions": "text_completion", "/v1/responses": "response"}
        assert line["response"]["body"]["object"] == expected[endpoint]


def test_a_refused_line_goes_to_the_error_file_with_the_live_error(client: openai.OpenAI) -> None:
    file_id = _upload(client, _jsonl(_line("good"), _line("bad-request", model=CHAT, messages=[])))
    batch = client.batches.create(input_file_id=file_id, endpoint="/v1/chat/completions", completion_window="24h")
    done, _ = _wait(client, batch.id)
    assert done.status == "completed"
    assert done.request_counts is not None
    assert (done.request_counts.completed, done.request_counts.failed) == (1, 1)
    assert done.error_file_id is not None and done.output_file_id is not None
    (line,) = [orjson.loads(x) for x in client.files.content(done.error_file_id).content.splitlines()]
    assert line["custom_id"] == "bad-request" and line["error"] is None
    assert line["response"]["status_code"] == 400
    assert line["response"]["body"]["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize(
    ("bad", "code", "param"),
    [
        (b"{not json", "invalid_json_line", None),
        (
            orjson.dumps({"method": "POST", "url": "/v1/chat/completions", "body": {"model": CHAT}}),
            "missing_required_parameter",
            "custom_id",
        ),
        (orjson.dumps(_line("x", "/v1/embeddings", model=CHAT, input="hi")), "url_mismatch", "url"),
        (orjson.dumps(_line("a")), "duplicate_custom_id", "custom_id"),
    ],
    ids=["bad-json", "missing-custom-id", "wrong-url", "duplicate-custom-id"],
)
def test_a_bad_line_fails_the_batch_naming_the_line(
    client: openai.OpenAI, bad: bytes, code: str, param: str | None
) -> None:
    file_id = _upload(client, _jsonl(_line("a"), bad, _line("c")))
    batch = client.batches.create(input_file_id=file_id, endpoint="/v1/chat/completions", completion_window="24h")
    done, seen = _wait(client, batch.id)
    assert done.status == "failed" and done.failed_at and seen[-1] == "failed"
    assert done.errors is not None and done.errors.data is not None
    (error,) = done.errors.data
    assert (error.code, error.line, error.param) == (code, 2, param)
    assert error.message
    assert done.output_file_id is None


def test_an_empty_file_fails_the_batch(client: openai.OpenAI) -> None:
    batch = client.batches.create(
        input_file_id=_upload(client, b"\n"), endpoint="/v1/chat/completions", completion_window="24h"
    )
    done, _ = _wait(client, batch.id)
    assert done.status == "failed" and done.errors and done.errors.data and done.errors.data[0].code == "empty_file"


def test_create_refusals(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as missing:
        client.batches.create(input_file_id="file-nope", endpoint="/v1/chat/completions", completion_window="24h")
    assert missing.value.body["param"] == "input_file_id"  # type: ignore[index]
    other = _upload(client, b"hello", purpose="user_data", name="notes.txt")
    with pytest.raises(openai.BadRequestError, match="purpose") as wrong:
        client.batches.create(input_file_id=other, endpoint="/v1/chat/completions", completion_window="24h")
    assert wrong.value.status_code == 400
    good = _upload(client, _jsonl(_line("a")))
    with pytest.raises(openai.BadRequestError, match="endpoint"):
        client.batches.create(input_file_id=good, endpoint="/v1/moderations", completion_window="24h")
    with pytest.raises(openai.BadRequestError, match="completion_window"):
        client.batches.create(input_file_id=good, endpoint="/v1/chat/completions", completion_window="1h")  # type: ignore[arg-type]
    with pytest.raises(openai.NotFoundError):
        client.batches.retrieve("batch_nope")
    with pytest.raises(openai.NotFoundError):
        client.batches.cancel("batch_nope")


def test_upload_refusals(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="purpose"):
        client.files.create(file=("a.jsonl", b"{}"), purpose="bogus")  # type: ignore[arg-type]
    with pytest.raises(openai.BadRequestError, match=r"\.jsonl"):
        client.files.create(file=("a.txt", b"{}"), purpose="batch")
    with pytest.raises(openai.NotFoundError):
        client.files.delete("file-nope")


def test_cancelling_a_batch(slow_client: openai.OpenAI) -> None:
    file_id = _upload(slow_client, _jsonl(_line("a")))
    batch = slow_client.batches.create(input_file_id=file_id, endpoint="/v1/chat/completions", completion_window="24h")
    cancelling = slow_client.batches.cancel(batch.id)
    assert cancelling.status == "cancelling" and cancelling.cancelling_at
    done, _ = _wait(slow_client, batch.id, timeout=10)
    assert done.status == "cancelled" and done.cancelled_at and done.output_file_id is None
    with pytest.raises(openai.ConflictError):
        slow_client.batches.cancel(batch.id)
    slow_client.files.delete(file_id)


def test_storage_limits_are_refused_in_openais_shape(slow_client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as large:
        slow_client.files.create(file=("big.jsonl", b"x" * 2001), purpose="batch")
    assert large.value.code == "file_too_large"
    ids = [_upload(slow_client, b"{}") for _ in range(3)]
    with pytest.raises(openai.BadRequestError) as full:
        _upload(slow_client, b"{}")
    assert full.value.code == "files_limit_exceeded"
    slow_client.files.delete(ids[0])
    ids[0] = _upload(slow_client, b"{}")  # room again once a file is deleted
    for file_id in ids:
        slow_client.files.delete(file_id)
