"""Gemini batches from an uploaded JSONL file, embedding batches and expiry, through google-genai."""

from __future__ import annotations

import io
import time
import warnings
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from google import genai
from google.genai import errors, types

from tests.live import LiveServer, live_server
from tests.providers.gemini.conftest import make_client
from tests.providers.gemini.helpers import EMBED_MODEL

MODEL = "gemini-2.5-flash"


def _line(key: str, text: str) -> bytes:
    return orjson.dumps({"key": key, "request": {"contents": [{"role": "user", "parts": [{"text": text}]}]}})


def _upload(client: genai.Client, data: bytes, mime_type: str = "jsonl") -> str:
    uploaded = client.files.upload(file=io.BytesIO(data), config={"mime_type": mime_type})
    assert uploaded.name is not None
    return uploaded.name


def _wait(client: genai.Client, name: str, timeout: float = 30.0) -> types.BatchJob:
    deadline = time.monotonic() + timeout
    while True:
        job = client.batches.get(name=name)
        if job.done:
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.05)


def _results(client: genai.Client, job: types.BatchJob) -> list[dict[str, Any]]:
    assert job.dest is not None and job.dest.file_name is not None
    return [orjson.loads(line) for line in client.files.download(file=job.dest.file_name).splitlines()]


@pytest.fixture(scope="module", params=["v1", "v1beta"])
def batch_client(fast_server: LiveServer, request: pytest.FixtureRequest) -> Iterator[genai.Client]:
    with make_client(fast_server.url, None if request.param == "v1" else request.param) as client:
        yield client


@pytest.fixture(scope="module")
def v1beta(fast_server: LiveServer) -> Iterator[genai.Client]:
    with make_client(fast_server.url, "v1beta") as client:
        yield client


@pytest.fixture(autouse=True)
def _quiet_experimental() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # create_embeddings is "experimental" in the SDK
        yield


def test_a_file_batch_writes_a_results_file(batch_client: genai.Client, fast_server: LiveServer) -> None:
    lines = [_line("first", "hello"), b"{not json", b'{"key": "no-request"}', b"", _line("last", "bye"), b"[1]"]
    source = _upload(batch_client, b"\n".join(lines) + b"\n")
    job = batch_client.batches.create(model=MODEL, src=source, config={"display_name": "from-file"})
    assert job.name is not None and job.display_name == "from-file"
    done = _wait(batch_client, job.name)
    assert done.state is not None and done.state.value == "JOB_STATE_SUCCEEDED"
    assert done.dest is not None and done.dest.inlined_responses is None
    results = _results(batch_client, done)
    assert [r.get("key") for r in results] == ["first", None, "no-request", "last", None]
    for answer in (results[0], results[3]):
        assert "error" not in answer and answer["response"]["candidates"][0]["content"]["parts"][0]["text"]
        assert answer["response"]["usageMetadata"]["promptTokenCount"] > 0
    for bad, words in zip(
        results[1:3] + results[4:], ("Line 2: invalid JSON", "Line 3: 'request'", "Line 6"), strict=True
    ):
        assert "response" not in bad and bad["error"]["code"] == 3 and words in bad["error"]["message"]
    assert done.dest.file_name is not None
    stored = batch_client.files.get(name=done.dest.file_name)
    assert stored.source is not None and stored.source.value == "GENERATED" and stored.download_uri
    assert stored.mime_type == "application/jsonl"
    with httpx.Client() as http:  # the downloadUri serves the same bytes
        assert http.get(stored.download_uri).content == batch_client.files.download(file=stored)
        raw = http.get(f"{fast_server.url}/v1beta/{job.name}", headers={"x-goog-api-key": "k"}).json()
    assert raw["metadata"]["inputConfig"] == {"fileName": source}
    assert raw["metadata"]["batchStats"] == {
        "requestCount": "5",
        "successfulRequestCount": "2",
        "failedRequestCount": "3",
        "pendingRequestCount": "0",
    }
    assert raw["response"]["responsesFile"] == done.dest.file_name


def test_embedding_batches_inlined_and_from_a_file(batch_client: genai.Client) -> None:
    inlined = batch_client.batches.create_embeddings(
        model=EMBED_MODEL,
        src={"inlined_requests": {"contents": ["alpha", "beta"], "config": {"output_dimensionality": 8}}},
    )
    assert inlined.name is not None
    done = _wait(batch_client, inlined.name)
    assert done.state is not None and done.state.value == "JOB_STATE_SUCCEEDED"
    assert done.dest is not None and done.dest.inlined_embed_content_responses is not None
    answers = done.dest.inlined_embed_content_responses
    vectors = [r.response.embedding.values for r in answers if r.response and r.response.embedding]
    assert len(vectors) == 2 and all(v is not None and len(v) == 8 for v in vectors)
    live = batch_client.models.embed_content(model=EMBED_MODEL, contents="alpha", config={"output_dimensionality": 8})
    assert live.embeddings is not None and live.embeddings[0].values == vectors[0]  # the live answer
    request = {"content": {"parts": [{"text": "alpha"}]}, "outputDimensionality": 8}
    lines = [orjson.dumps({"key": "e", "request": request}), b'{"key": "bad", "request": {"content": 1}}']
    from_file = batch_client.batches.create_embeddings(
        model=EMBED_MODEL, src={"file_name": _upload(batch_client, b"\n".join(lines))}
    )
    assert from_file.name is not None
    results = _results(batch_client, _wait(batch_client, from_file.name))
    assert results[0]["key"] == "e" and results[0]["response"]["embedding"]["values"] == vectors[0]
    assert results[1]["key"] == "bad" and results[1]["error"]["code"] == 3


def test_cancelling_a_file_batch_still_writes_its_results() -> None:
    env = {"LLM_SIMULATOR_BATCHES__VALIDATING_S": "30"}
    with live_server("--no-latency", env=env) as live, make_client(live.url, "v1beta") as client:
        job = client.batches.create(model=MODEL, src=_upload(client, _line("a", "x") + b"\n" + _line("b", "y")))
        assert job.name is not None
        client.batches.cancel(name=job.name)
        done = _wait(client, job.name)
        assert done.state is not None and done.state.value == "JOB_STATE_CANCELLED"
        assert [(r["key"], r["error"]["code"]) for r in _results(client, done)] == [("a", 1), ("b", 1)]


def test_a_batch_expires_48_scaled_hours_after_creation() -> None:
    """time_scale 1e-5 makes the 48 h window 1.7 s; a line that never answers (chaos ``hang``) outlives it."""
    env = {"LLM_SIMULATOR_BATCHES__TIME_SCALE": "0.00001"}
    hang = types.CreateBatchJobConfig(http_options=types.HttpOptions(headers={"x-simulator-chaos": "error=hang"}))
    with live_server("--no-latency", env=env) as live, make_client(live.url, "v1beta") as client:
        inlined = client.batches.create(
            model=MODEL, src=[types.InlinedRequest(contents="hi", metadata={"n": "1"})], config=hang
        )
        from_file = client.batches.create(model=MODEL, src=_upload(client, _line("k", "hi")), config=hang)
        assert inlined.name is not None and from_file.name is not None
        done = _wait(client, inlined.name)
        assert done.state is not None and done.state.value == "JOB_STATE_EXPIRED" and done.end_time is not None
        assert done.dest is not None and done.dest.inlined_responses is not None
        (answer,) = done.dest.inlined_responses
        assert answer.error is not None and answer.error.code == 4 and answer.metadata == {"n": "1"}
        expired = _wait(client, from_file.name)
        assert expired.state is not None and expired.state.value == "JOB_STATE_EXPIRED"
        assert [(r["key"], r["error"]["code"]) for r in _results(client, expired)] == [("k", 4)]


def test_a_missing_input_file_is_refused(v1beta: genai.Client) -> None:
    with pytest.raises(errors.ClientError) as caught:
        v1beta.batches.create(model=MODEL, src="files/nosuchfile")
    assert caught.value.code == 403 and caught.value.status == "PERMISSION_DENIED"
    assert "nosuchfile" in (caught.value.message or "")


@pytest.mark.parametrize(
    ("data", "mime_type", "message"),
    [
        (b"\x89PNG\r\n", "image/png", "batch input must be a JSONL file"),
        (b"\n  \n", "jsonl", "holds no requests"),
    ],
)
def test_a_file_that_is_no_batch_is_refused(v1beta: genai.Client, data: bytes, mime_type: str, message: str) -> None:
    source = _upload(v1beta, data, mime_type)
    with pytest.raises(errors.ClientError) as caught:
        v1beta.batches.create(model=MODEL, src=source)
    assert caught.value.code == 400 and caught.value.status == "INVALID_ARGUMENT"
    assert message in (caught.value.message or "")


def test_too_many_lines_are_refused() -> None:
    env = {"LLM_SIMULATOR_BATCHES__MAX_REQUESTS_PER_BATCH": "2"}
    with live_server("--no-latency", env=env) as live, make_client(live.url, "v1beta") as client:
        source = _upload(client, b"\n".join(_line(str(i), "x") for i in range(3)))
        with pytest.raises(errors.ClientError) as caught:
            client.batches.create(model=MODEL, src=source)
        assert caught.value.code == 400 and "at most 2" in (caught.value.message or "")


def test_batches_need_the_right_kind_of_model(v1beta: genai.Client) -> None:
    with pytest.raises(errors.ClientError) as embed_on_chat:
        v1beta.batches.create_embeddings(model=MODEL, src={"inlined_requests": {"contents": ["a"]}})
    assert embed_on_chat.value.code == 404 and "asyncBatchEmbedContent" in (embed_on_chat.value.message or "")
    with pytest.raises(errors.ClientError) as generate_on_embed:
        v1beta.batches.create(model=EMBED_MODEL, src=[types.InlinedRequest(contents="hi")])
    assert generate_on_embed.value.code == 404


def test_an_empty_request_runs_and_gets_its_own_error(fast_server: LiveServer) -> None:
    """``{"request": {}}`` is sent like any request (and refused as a live one would be), not skipped."""
    body: dict[str, Any] = {"batch": {"inputConfig": {"requests": {"requests": [{"request": {}}]}}}}
    headers = {"x-goog-api-key": "k"}
    with httpx.Client(base_url=fast_server.url, headers=headers) as http:
        name = http.post(f"/v1beta/models/{MODEL}:batchGenerateContent", json=body).json()["name"]
        deadline = time.monotonic() + 30
        while not (operation := http.get(f"/v1beta/{name}").json()).get("done"):
            assert time.monotonic() < deadline
            time.sleep(0.05)
    (answer,) = operation["response"]["inlinedResponses"]["inlinedResponses"]
    assert answer["error"]["code"] == 3 and "contents" in answer["error"]["message"]
