"""Files that expire: ``expires_after`` on upload, the 30-day default of ``batch`` files, a batch's
``output_expires_after``; the store forgets a file once its ``expires_at`` has passed."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import openai
import orjson
import pytest

from llm_simulator.config.schema import BatchesConfig
from llm_simulator.core.errors import SimulatorError
from llm_simulator.infra.clock import FakeClock
from llm_simulator.providers.openai.files import FileStore

LINE = {
    "custom_id": "a",
    "method": "POST",
    "url": "/v1/chat/completions",
    "body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
}


@pytest.fixture(autouse=True)
def _tidy(client: openai.OpenAI) -> Iterator[None]:
    """Delete the files a test leaves (the session server's store is shared with other modules)."""
    before = {f.id for f in client.files.list()}
    yield
    for stored in client.files.list():
        if stored.id not in before:
            client.files.delete(stored.id)


def test_uploads_carry_their_expiry(client: openai.OpenAI) -> None:
    policy: Any = {"anchor": "created_at", "seconds": 3600}
    short = client.files.create(file=("notes.txt", b"x"), purpose="user_data", expires_after=policy)
    assert short.expires_at == short.created_at + 3600
    assert client.files.retrieve(short.id).expires_at == short.expires_at
    batch_input = client.files.create(file=("in.jsonl", orjson.dumps(LINE)), purpose="batch")
    assert batch_input.expires_at == batch_input.created_at + 30 * 24 * 3600  # the API's default
    kept = client.files.create(file=("kept.txt", b"x"), purpose="user_data")
    assert kept.expires_at is None


@pytest.mark.parametrize(
    ("policy", "param"),
    [
        ({"anchor": "last_active_at", "seconds": 3600}, "expires_after.anchor"),
        ({"anchor": "created_at", "seconds": 60}, "expires_after.seconds"),
        ({"anchor": "created_at", "seconds": 31 * 24 * 3600}, "expires_after.seconds"),
    ],
)
def test_a_bad_expiry_policy_is_a_400(client: openai.OpenAI, policy: Any, param: str) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        client.files.create(file=("notes.txt", b"x"), purpose="user_data", expires_after=policy)
    assert refused.value.body["param"] == param  # type: ignore[index]


def test_a_batchs_output_files_expire_as_asked(client: openai.OpenAI) -> None:
    file_id = client.files.create(file=("in.jsonl", orjson.dumps(LINE)), purpose="batch").id
    batch = client.batches.create(
        input_file_id=file_id,
        endpoint="/v1/chat/completions",
        completion_window="24h",
        output_expires_after={"anchor": "created_at", "seconds": 7200},
    )
    deadline = time.monotonic() + 30
    while batch.status not in ("completed", "failed"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
        batch = client.batches.retrieve(batch.id)
    assert batch.status == "completed" and batch.output_file_id is not None
    output = client.files.retrieve(batch.output_file_id)
    assert output.purpose == "batch_output" and output.expires_at == output.created_at + 7200
    with pytest.raises(openai.BadRequestError, match="output_expires_after"):
        client.batches.create(
            input_file_id=file_id,
            endpoint="/v1/chat/completions",
            completion_window="24h",
            output_expires_after={"anchor": "created_at", "seconds": 1},
        )


def test_the_store_forgets_an_expired_file_and_frees_its_bytes() -> None:
    clock = FakeClock()
    store = FileStore(clock, BatchesConfig(max_files=2))
    short = store.add("a.txt", "user_data", b"12345", expires_after_s=3600)
    store.add("b.txt", "user_data", b"123")
    assert (len(store), store.stored_bytes) == (2, 8)
    with pytest.raises(SimulatorError):
        store.add("c.txt", "user_data", b"1")  # full
    clock.advance_to(clock.now() + 3599)  # FakeClock moves wall time with monotonic time
    assert store.get(short.id) is not None
    clock.advance_to(clock.now() + 1)
    assert store.get(short.id) is None
    assert (len(store), store.stored_bytes) == (1, 3)
    with pytest.raises(SimulatorError) as gone:
        store.require(short.id)
    assert gone.value.status == 404
    assert store.add("c.txt", "user_data", b"1").expires_at is None  # room again
