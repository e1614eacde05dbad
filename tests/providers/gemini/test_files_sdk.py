"""The Gemini Files API through google-genai's ``client.files`` (and the resumable protocol by hand)."""

from __future__ import annotations

import base64
import hashlib
import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from google import genai
from google.genai import errors

from tests.live import LiveServer, live_server
from tests.providers.gemini.conftest import make_client

DATA = b'{"key": "a", "request": {"contents": [{"parts": [{"text": "hi"}]}]}}\n'
# A server that keeps two files of at most 64 bytes each, 100 bytes in all.
SMALL_ENV = {
    "LLM_SIMULATOR_BATCHES__MAX_FILES": "2",
    "LLM_SIMULATOR_BATCHES__MAX_FILE_BYTES": "64",
    "LLM_SIMULATOR_BATCHES__MAX_STORED_BYTES": "100",
}


@pytest.fixture(scope="module", params=["v1", "v1beta"])
def files_client(fast_server: LiveServer, request: pytest.FixtureRequest) -> Iterator[genai.Client]:
    with make_client(fast_server.url, None if request.param == "v1" else request.param) as client:
        yield client


@pytest.fixture(scope="module")
def small_server() -> Iterator[LiveServer]:
    with live_server("--no-latency", env=SMALL_ENV) as live:
        yield live


def _start(http: httpx.Client, size: int, mime: str = "text/plain", **file: object) -> str:
    """Begin a resumable upload by hand; the upload URL."""
    headers = {
        "x-goog-upload-protocol": "resumable",
        "x-goog-upload-command": "start",
        "x-goog-upload-header-content-length": str(size),
        "x-goog-upload-header-content-type": mime,
    }
    response = http.post("/upload/v1beta/files", headers=headers, json={"file": file})
    assert response.status_code == 200, response.text
    assert response.headers["x-goog-upload-status"] == "active"
    return response.headers["x-goog-upload-url"]


def _chunk(http: httpx.Client, url: str, command: str, offset: int, data: bytes) -> httpx.Response:
    headers = {"x-goog-upload-command": command, "x-goog-upload-offset": str(offset)}
    return http.post(url, headers=headers, content=data)


def test_upload_get_list_and_delete(files_client: genai.Client) -> None:
    uploaded = files_client.files.upload(
        file=io.BytesIO(DATA), config={"mime_type": "jsonl", "display_name": "requests"}
    )
    assert uploaded.name is not None and uploaded.name.startswith("files/")
    assert uploaded.display_name == "requests" and uploaded.mime_type == "jsonl"
    assert uploaded.size_bytes == len(DATA) and uploaded.state is not None and uploaded.state.value == "ACTIVE"
    assert uploaded.source is not None and uploaded.source.value == "UPLOADED" and uploaded.download_uri is None
    assert uploaded.sha256_hash == base64.b64encode(hashlib.sha256(DATA).hexdigest().encode()).decode()
    assert uploaded.create_time is not None and uploaded.expiration_time is not None
    assert (uploaded.expiration_time - uploaded.create_time).total_seconds() == 48 * 3600
    assert uploaded.uri is not None and uploaded.uri.endswith(uploaded.name)
    fetched = files_client.files.get(name=uploaded.name)
    assert fetched.name == uploaded.name and fetched.size_bytes == len(DATA)
    assert uploaded.name in [f.name for f in files_client.files.list()]
    files_client.files.delete(name=uploaded.name)
    with pytest.raises(errors.ClientError) as caught:
        files_client.files.get(name=uploaded.name)
    assert caught.value.code == 403 and caught.value.status == "PERMISSION_DENIED"
    assert "may not exist" in (caught.value.message or "")


def test_upload_from_a_path_with_a_chosen_name(files_client: genai.Client, tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"plain text")
    name = f"notes-{tmp_path.name[-8:].lower().replace('_', '-')}".strip("-")
    uploaded = files_client.files.upload(file=path, config={"name": name})
    assert uploaded.name == f"files/{name}" and uploaded.mime_type == "text/plain"
    with pytest.raises(errors.ClientError) as caught:  # the name is taken now
        files_client.files.upload(file=path, config={"name": name})
    assert caught.value.code == 400 and "already exists" in (caught.value.message or "")
    files_client.files.delete(name=f"files/{name}")


def test_list_pages_newest_first(fast_server: LiveServer) -> None:
    with make_client(fast_server.url, "v1beta") as client:
        names = [client.files.upload(file=io.BytesIO(b"x"), config={"mime_type": "text/plain"}).name for _ in range(3)]
        pager = client.files.list(config={"page_size": 2})
        assert [f.name for f in pager.page] == names[::-1][:2]
        listed = [f.name for f in client.files.list(config={"page_size": 1})]  # follows nextPageToken
        assert listed[:3] == names[::-1]
        for name in names:
            assert name is not None
            client.files.delete(name=name)


async def test_the_async_client_uploads(fast_server: LiveServer) -> None:
    client = make_client(fast_server.url, "v1beta")
    try:
        uploaded = await client.aio.files.upload(file=io.BytesIO(DATA), config={"mime_type": "application/jsonl"})
        assert uploaded.size_bytes == len(DATA)
        assert uploaded.name is not None
        await client.aio.files.delete(name=uploaded.name)
    finally:
        await client.aio.aclose()
        client.close()


def test_chunks_query_and_finalize_by_hand(fast_http: httpx.Client) -> None:
    http = fast_http
    url = _start(http, 10, display_name="by-hand")
    first = _chunk(http, url, "upload", 0, b"01234")
    assert first.status_code == 200 and first.headers["x-goog-upload-status"] == "active"
    assert first.headers["x-goog-upload-size-received"] == "5"
    query = http.post(url, headers={"x-goog-upload-command": "query"})
    assert query.headers["x-goog-upload-size-received"] == "5"
    last = _chunk(http, url, "upload, finalize", 5, b"56789")
    assert last.status_code == 200 and last.headers["x-goog-upload-status"] == "final"
    stored = last.json()["file"]
    assert stored["sizeBytes"] == "10" and stored["displayName"] == "by-hand" and stored["source"] == "UPLOADED"
    download = http.get(f"/v1beta/{stored['name']}:download", params={"alt": "media"})
    assert download.status_code == 400 and "Only generated files" in download.json()["error"]["message"]
    assert http.delete(f"/v1beta/{stored['name']}").json() == {}


def test_a_cancelled_session_is_gone(fast_http: httpx.Client) -> None:
    url = _start(fast_http, 4)
    cancel = fast_http.post(url, headers={"x-goog-upload-command": "cancel"})
    assert cancel.status_code == 200 and cancel.headers["x-goog-upload-status"] == "cancelled"
    again = _chunk(fast_http, url, "upload, finalize", 0, b"abcd")
    assert again.status_code == 404 and again.headers["x-goog-upload-status"] == "final"


@pytest.mark.parametrize(
    ("command", "offset", "data", "message"),
    [
        ("upload", 3, b"abc", "X-Goog-Upload-Offset is 3"),
        ("upload", "x", b"abc", "whole number"),
        ("upload, finalize", 0, b"abc", "ended after 3 bytes"),
        ("upload", 0, b"0123456789", "passed its size"),
        ("rewind", 0, b"", "X-Goog-Upload-Command must be"),
    ],
)
def test_bad_chunks_are_googles_errors(
    fast_http: httpx.Client, command: str, offset: int | str, data: bytes, message: str
) -> None:
    url = _start(fast_http, 4)
    response = _chunk(fast_http, url, command, offset, data)  # type: ignore[arg-type]
    assert response.status_code == 400 and response.headers["x-goog-upload-status"] == "final"
    error = response.json()["error"]
    assert error["status"] == "INVALID_ARGUMENT" and error["code"] == 400 and message in error["message"]


def test_an_unknown_upload_session_is_a_404(fast_http: httpx.Client) -> None:
    response = _chunk(fast_http, "/upload/v1beta/files?upload_id=nope", "upload, finalize", 0, b"x")
    assert response.status_code == 404 and response.headers["x-goog-upload-status"] == "final"
    error = response.json()["error"]
    assert error["status"] == "NOT_FOUND" and "Upload session 'nope' not found" in error["message"]


@pytest.mark.parametrize(
    ("headers", "body", "message"),
    [
        ({"x-goog-upload-protocol": "multipart"}, {}, "Unsupported upload protocol"),
        ({"x-goog-upload-command": "upload"}, {}, "must be 'start'"),
        ({"x-goog-upload-header-content-type": "not a type"}, {}, "Invalid MIME type"),
        ({"x-goog-upload-header-content-type": ""}, {}, "mime_type is required"),
        ({"x-goog-upload-header-content-length": "-1"}, {}, "cannot be negative"),
        ({}, {"file": {"name": "Not_Valid"}}, "Invalid file name"),
        ({}, {"file": {"colour": "red"}}, "colour"),
    ],
)
def test_bad_starts_are_googles_errors(
    fast_http: httpx.Client, headers: dict[str, str], body: object, message: str
) -> None:
    sent = {
        "x-goog-upload-protocol": "resumable",
        "x-goog-upload-command": "start",
        "x-goog-upload-header-content-type": "text/plain",
        "x-goog-api-key": "k",
    } | headers
    response = fast_http.post("/upload/v1beta/files", headers=sent, json=body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["status"] == "INVALID_ARGUMENT" and message in error["message"]


def test_storage_bounds(small_server: LiveServer) -> None:
    with make_client(small_server.url, "v1beta") as client:
        with pytest.raises(errors.ClientError) as too_large:
            client.files.upload(file=io.BytesIO(b"x" * 65), config={"mime_type": "text/plain"})
        assert too_large.value.code == 400 and "batches.max_file_bytes" in (too_large.value.message or "")
        first = client.files.upload(file=io.BytesIO(b"x" * 60), config={"mime_type": "text/plain"})
        with pytest.raises(errors.ClientError) as no_room:
            client.files.upload(file=io.BytesIO(b"x" * 60), config={"mime_type": "text/plain"})
        assert no_room.value.code == 429 and no_room.value.status == "RESOURCE_EXHAUSTED"
        assert "batches.max_stored_bytes" in (no_room.value.message or "")
        second = client.files.upload(file=io.BytesIO(b"x" * 10), config={"mime_type": "text/plain"})
        with pytest.raises(errors.ClientError) as too_many:
            client.files.upload(file=io.BytesIO(b"x"), config={"mime_type": "text/plain"})
        assert too_many.value.code == 429 and "batches.max_files" in (too_many.value.message or "")
        for stored in (first, second):
            assert stored.name is not None
            client.files.delete(name=stored.name)


def test_a_bad_page_token_and_unknown_method(fast_http: httpx.Client) -> None:
    headers = {"x-goog-api-key": "k"}
    listed = fast_http.get("/v1beta/files", params={"pageToken": "nope"}, headers=headers)
    assert listed.status_code == 400 and listed.json()["error"]["status"] == "INVALID_ARGUMENT"
    method = fast_http.get("/v1beta/files/abc:explode", headers=headers)
    assert method.status_code == 404 and method.json()["error"]["status"] == "NOT_FOUND"
    missing = fast_http.get("/download/v1beta/files/nope:download", params={"alt": "media"})
    assert missing.status_code == 403 and missing.json()["error"]["status"] == "PERMISSION_DENIED"


def test_uploads_work_when_keys_are_required(tmp_path: Path) -> None:
    """The SDK sends its chunks without a key: the upload URL carries the caller's."""
    config = tmp_path / "auth.yaml"
    config.write_text("auth:\n  require_auth: true\n  api_keys: [sekrit]\n")
    with live_server("--no-latency", "--config", str(config)) as live:
        with make_client(live.url, "v1beta") as stranger, pytest.raises(errors.ClientError) as refused:
            stranger.files.upload(file=io.BytesIO(b"abc"), config={"mime_type": "text/plain"})
        assert refused.value.code == 400 and "API key not valid" in (refused.value.message or "")
        options = {"base_url": live.url, "api_version": "v1beta"}
        with genai.Client(api_key="sekrit", http_options=options) as client:  # type: ignore[arg-type]
            uploaded = client.files.upload(file=io.BytesIO(b"abc"), config={"mime_type": "text/plain"})
            assert uploaded.size_bytes == 3 and uploaded.name is not None
            assert client.files.get(name=uploaded.name).size_bytes == 3


def test_a_file_larger_than_one_sdk_chunk(fast_server: LiveServer) -> None:
    """The SDK sends 8 MiB chunks: 9 MiB arrive as two, within the default body limit."""
    data = bytes(range(256)) * (9 * 4096)
    with make_client(fast_server.url, "v1beta") as client:
        uploaded = client.files.upload(file=io.BytesIO(data), config={"mime_type": "application/octet-stream"})
        assert uploaded.size_bytes == len(data) and uploaded.name is not None
        assert uploaded.sha256_hash == base64.b64encode(hashlib.sha256(data).hexdigest().encode()).decode()
        client.files.delete(name=uploaded.name)
