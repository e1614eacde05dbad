"""embed_content through google-genai (always ``:batchEmbedContents``) and ``:embedContent`` raw."""

from __future__ import annotations

import math

import httpx
import pytest
from google import genai
from google.genai import types

from tests.providers.gemini.helpers import EMBED_MODEL


def _values(resp: types.EmbedContentResponse) -> list[list[float]]:
    assert resp.embeddings is not None
    out: list[list[float]] = []
    for embedding in resp.embeddings:
        assert embedding.values is not None
        out.append(embedding.values)
    return out


def _cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / (math.hypot(*a) * math.hypot(*b))


@pytest.mark.parametrize(("model", "dimensions"), [(EMBED_MODEL, 768), ("gemini-embedding-001", 3072)])
def test_embed_one_string(genai_client: genai.Client, model: str, dimensions: int) -> None:
    [vector] = _values(genai_client.models.embed_content(model=model, contents="The quick brown fox"))
    assert len(vector) == dimensions
    assert all(isinstance(x, float) for x in vector)
    assert math.isclose(math.hypot(*vector), 1.0, rel_tol=1e-9)


def test_embed_a_list_keeps_order(genai_client: genai.Client) -> None:
    texts = ["first text", "second, rather different text", "third"]
    vectors = _values(genai_client.models.embed_content(model=EMBED_MODEL, contents=texts))
    assert len(vectors) == 3
    singles = [_values(genai_client.models.embed_content(model=EMBED_MODEL, contents=t))[0] for t in texts]
    assert vectors == singles
    assert len({tuple(v) for v in vectors}) == 3


@pytest.mark.parametrize("dimensions", [1, 8, 256])
def test_output_dimensionality(genai_client: genai.Client, dimensions: int) -> None:
    config = types.EmbedContentConfig(output_dimensionality=dimensions, task_type="RETRIEVAL_DOCUMENT", title="T")
    vectors = _values(genai_client.models.embed_content(model=EMBED_MODEL, contents=["a b", "c d"], config=config))
    assert [len(v) for v in vectors] == [dimensions, dimensions]
    for vector in vectors:
        assert math.isclose(math.hypot(*vector), 1.0, rel_tol=1e-9)


def test_vectors_are_deterministic(genai_client: genai.Client, default_client: genai.Client) -> None:
    text = "Deterministic embeddings for the same text"
    first = _values(genai_client.models.embed_content(model=EMBED_MODEL, contents=text))
    second = _values(default_client.models.embed_content(model=EMBED_MODEL, contents=text))
    assert first == second


def test_similar_texts_are_more_similar(genai_client: genai.Client) -> None:
    texts = [
        "The cat sat on the mat in the sun.",
        "A cat was sitting on the mat in the sun.",
        "Quarterly revenue grew by eleven percent year over year.",
    ]
    anchor, near, far = _values(genai_client.models.embed_content(model=EMBED_MODEL, contents=texts))
    assert _cosine(anchor, near) > _cosine(anchor, far) + 0.2


def test_embed_content_raw(http: httpx.Client, api_version: str) -> None:
    body = {"content": {"parts": [{"text": "hello"}]}, "outputDimensionality": 16}
    resp = http.post(f"/{api_version}/models/{EMBED_MODEL}:embedContent", json=body)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    payload = resp.json()
    assert list(payload) == ["embedding"]
    assert len(payload["embedding"]["values"]) == 16
    batch = http.post(
        f"/{api_version}/models/{EMBED_MODEL}:batchEmbedContents",
        json={"requests": [{**body, "model": f"models/{EMBED_MODEL}"}]},
    )
    assert batch.status_code == 200, batch.text
    assert batch.json() == {"embeddings": [payload["embedding"]]}


def test_count_tokens_on_an_embedding_model(genai_client: genai.Client) -> None:
    # Embedding models list countTokens among their supported methods.
    model = genai_client.models.get(model=EMBED_MODEL)
    assert model.supported_actions is not None and "countTokens" in model.supported_actions
    counted = genai_client.models.count_tokens(model=EMBED_MODEL, contents="hello world")
    assert counted.total_tokens == 2
