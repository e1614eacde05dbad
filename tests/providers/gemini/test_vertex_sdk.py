"""Gemini on Vertex AI through google-genai in Vertex mode (fake credentials, nothing fetched).

The SDK sends ``/{v1beta1|v1}/projects/{p}/locations/{l}/publishers/google/models/{m}:{method}``
with ``Authorization: Bearer <token>``; embeddings go to ``:predict`` for ``text-embedding-*``
and ``:embedContent`` for Gemini embedding models. Errors are Google-shaped, in Vertex's words.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import httpx2
import pytest
from google import genai
from google.genai import errors, types
from google.oauth2.credentials import Credentials

from tests.live import LiveServer, live_server
from tests.providers.conftest import VERTEX_LIMITED_KEY
from tests.providers.gemini.helpers import CHAT_MODEL, check_error_body

PROJECT = "sim-project"
LOCATION = "us-central1"
TOKEN = "ya29.vertex-token"
VERTEX = f"/projects/{PROJECT}/locations/{LOCATION}/publishers/google/models"


def _client(url: str, token: str = TOKEN, api_version: str | None = None, **options: Any) -> genai.Client:
    http_options = types.HttpOptions(base_url=url, api_version=api_version, **options)
    credentials = Credentials(token=token)  # type: ignore[no-untyped-call]
    return genai.Client(
        vertexai=True, project=PROJECT, location=LOCATION, credentials=credentials, http_options=http_options
    )


@pytest.fixture(scope="module")
def paths() -> list[str]:
    """The URL paths the SDK requested (recorded by an httpx event hook)."""
    return []


@pytest.fixture(scope="module", params=["v1beta1", "v1"])
def vertex(server: LiveServer, paths: list[str], request: pytest.FixtureRequest) -> Iterator[genai.Client]:
    """A Vertex-mode client on each API version, recording the paths it calls."""

    def record(sent: httpx2.Request) -> None:
        paths.append(sent.url.path)

    with httpx2.Client(event_hooks={"request": [record]}, timeout=30) as http:
        version = None if request.param == "v1beta1" else request.param  # v1beta1 is the SDK's default
        with _client(server.url, api_version=version, httpx_client=http) as client:
            yield client


def _config(**kwargs: Any) -> types.GenerateContentConfig:
    return types.GenerateContentConfig(max_output_tokens=16, seed=9, **kwargs)


def test_generate_and_stream_on_vertex_paths(vertex: genai.Client, paths: list[str]) -> None:
    paths.clear()
    whole = vertex.models.generate_content(model=CHAT_MODEL, contents="Tell me a story.", config=_config())
    assert whole.text
    assert whole.usage_metadata is not None and whole.usage_metadata.candidates_token_count
    streamed = list(
        vertex.models.generate_content_stream(model=CHAT_MODEL, contents="Tell me a story.", config=_config())
    )
    assert "".join(chunk.text or "" for chunk in streamed) == whole.text
    version = paths[0].split("/")[1]
    assert version in ("v1beta1", "v1")
    assert paths == [
        f"/{version}{VERTEX}/{CHAT_MODEL}:generateContent",
        f"/{version}{VERTEX}/{CHAT_MODEL}:streamGenerateContent",
    ]


def test_count_tokens(vertex: genai.Client) -> None:
    counted = vertex.models.count_tokens(model=CHAT_MODEL, contents="hello world")
    assert counted.total_tokens == 2


def test_predict_embeddings_for_text_embedding_models(vertex: genai.Client, paths: list[str]) -> None:
    paths.clear()
    config = types.EmbedContentConfig(output_dimensionality=32, task_type="RETRIEVAL_DOCUMENT")
    result = vertex.models.embed_content(model="text-embedding-004", contents=["the cat sat", "a dog"], config=config)
    assert paths[0].endswith("/text-embedding-004:predict")
    assert result.embeddings is not None and len(result.embeddings) == 2
    first = result.embeddings[0]
    assert first.values is not None and len(first.values) == 32
    assert first.statistics is not None and first.statistics.token_count == 3
    again = vertex.models.embed_content(model="text-embedding-004", contents="the cat sat", config=config)
    assert again.embeddings is not None and again.embeddings[0].values == first.values


def test_embed_content_for_gemini_embedding_models(vertex: genai.Client, paths: list[str]) -> None:
    paths.clear()
    result = vertex.models.embed_content(
        model="gemini-embedding-001", contents="the cat sat", config=types.EmbedContentConfig(output_dimensionality=8)
    )
    assert paths[0].endswith("/gemini-embedding-001:embedContent")
    assert result.embeddings is not None and len(result.embeddings) == 1
    embedding = result.embeddings[0]
    assert embedding.values is not None and len(embedding.values) == 8
    assert embedding.statistics is not None and embedding.statistics.token_count == 3


def test_unknown_model_is_vertexs_publisher_model_404(vertex: genai.Client) -> None:
    with pytest.raises(errors.ClientError) as info:
        vertex.models.generate_content(model="gemini-0-nope", contents="hi")
    assert (info.value.code, info.value.status) == (404, "NOT_FOUND")
    assert info.value.message and "Publisher Model `projects/sim-project/locations/us-central1/publishers/google/" in (
        info.value.message
    )


@pytest.mark.parametrize(
    ("target", "body", "code", "fragment"),
    [
        (f"{CHAT_MODEL}:rawPredict", {}, 404, "Method not found"),
        ("text-embedding-004:generateContent", {"contents": []}, 404, "Publisher Model"),
        (f"{CHAT_MODEL}:embedContent", {"content": {"parts": [{"text": "x"}]}}, 404, "Publisher Model"),
        (f"{CHAT_MODEL}:generateContent", {"contents": "x"}, 400, ""),
        (f"{CHAT_MODEL}:generateContent", {"nope": 1}, 400, 'Unknown name "nope"'),
        ("text-embedding-004:predict", {"instances": []}, 400, "at least one instance"),
        ("text-embedding-004:predict", {"instances": [{"title": "x"}]}, 400, "content is required"),
        (
            "text-embedding-004:predict",
            {"instances": [{"content": "x"}], "parameters": {"outputDimensionality": 9999}},
            400,
            "at most 768",
        ),
        (
            "text-embedding-004:predict",
            {"instances": [{"content": "x " * 3000}], "parameters": {"autoTruncate": False}},
            400,
            "too long",
        ),
        ("text-embedding-004:predict", {"instances": [{"content": "x", "task_type": "NOPE"}]}, 400, "TaskType"),
        ("gemini-embedding-001:embedContent", {"embedContentConfig": {}}, 400, "content is not specified"),
        (
            "gemini-embedding-001:embedContent",
            {"content": {"parts": [{"text": "x"}]}, "embedContentConfig": {"x": 1}},
            400,
            "Unknown name",
        ),
    ],
)
def test_bad_input_is_google_shaped(
    fast_server: LiveServer, target: str, body: dict[str, Any], code: int, fragment: str
) -> None:
    headers = {"authorization": f"Bearer {TOKEN}"}
    response = httpx.post(f"{fast_server.url}/v1beta1{VERTEX}/{target}", json=body, headers=headers, timeout=10)
    error = check_error_body(response.json(), code, None)
    assert response.status_code == code
    assert fragment in error["message"]


def test_truncated_predict_reports_it(fast_server: LiveServer) -> None:
    body = {"instances": [{"content": "x " * 3000}]}
    response = httpx.post(f"{fast_server.url}/v1{VERTEX}/text-embedding-004:predict", json=body, timeout=10)
    statistics = response.json()["predictions"][0]["embeddings"]["statistics"]
    assert statistics == {"token_count": 2048, "truncated": True}


def test_quota_refusal_in_vertexs_words(vertex_limited_server: LiveServer) -> None:
    httpx.post(vertex_limited_server.url + "/admin/rate-limits/reset", timeout=5).raise_for_status()
    with _client(vertex_limited_server.url, token=VERTEX_LIMITED_KEY) as client:
        assert client.models.generate_content(model=CHAT_MODEL, contents="hi", config=_config()).text
        with pytest.raises(errors.ClientError) as info:
            client.models.generate_content(model=CHAT_MODEL, contents="hi", config=_config())
    assert (info.value.code, info.value.status) == (429, "RESOURCE_EXHAUSTED")
    assert info.value.message == (
        "Quota exceeded for aiplatform.googleapis.com/generate_content_requests_per_minute_per_project_per_base_model "
        f"with base model: {CHAT_MODEL}. Please submit a quota increase request. "
        "https://cloud.google.com/vertex-ai/docs/generative-ai/quotas-genai."
    )


def test_stream_faults(vertex_limited_server: LiveServer) -> None:
    control = types.HttpOptions(headers={"x-simulator-chaos": "fault=error_event; after=3; fault_error=overloaded"})
    chunks: list[types.GenerateContentResponse] = []
    with _client(vertex_limited_server.url) as client, pytest.raises(errors.ServerError) as info:
        chunks.extend(
            client.models.generate_content_stream(
                model=CHAT_MODEL, contents="A long story.", config=_config(http_options=control)
            )
        )
    assert len(chunks) == 3
    assert (info.value.code, info.value.status) == (503, "UNAVAILABLE")
    cut = types.HttpOptions(headers={"x-simulator-chaos": "fault=disconnect; after=2"})
    with _client(vertex_limited_server.url) as client, pytest.raises(httpx2.RemoteProtocolError):
        list(
            client.models.generate_content_stream(
                model=CHAT_MODEL, contents="A story.", config=_config(http_options=cut)
            )
        )


@pytest.fixture(scope="module")
def auth_server() -> Iterator[LiveServer]:
    with live_server("--no-latency", "--require-auth", "--api-key", TOKEN) as live:
        yield live


def test_access_token_is_checked_with_require_auth(auth_server: LiveServer) -> None:
    with _client(auth_server.url) as client:
        assert client.models.generate_content(model=CHAT_MODEL, contents="hi", config=_config()).text
    with _client(auth_server.url, token="expired") as client, pytest.raises(errors.ClientError) as info:
        client.models.generate_content(model=CHAT_MODEL, contents="hi", config=_config())
    assert (info.value.code, info.value.status) == (401, "UNAUTHENTICATED")
    assert info.value.message and info.value.message.startswith("Request had invalid authentication credentials.")
