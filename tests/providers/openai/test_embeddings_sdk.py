"""Embeddings (``POST /v1/embeddings``) through the official openai SDK and raw HTTP."""

from __future__ import annotations

import base64
import math
import struct
from collections.abc import Iterator, Sequence

import httpx
import openai
import pytest

from llm_simulator.engine.tokenizer import get_tokenizer
from tests.live import LiveServer

MODEL = "text-embedding-3-small"


@pytest.fixture
def default_client(server: LiveServer) -> Iterator[openai.OpenAI]:
    """A client without strict validation: the SDK asks for base64 by default and decodes it
    itself, after validation (strict mode rejects the base64 string it requested)."""
    with openai.OpenAI(base_url=server.openai_base, api_key="sk-test", max_retries=0) as c:
        yield c


def _norm(v: Sequence[float]) -> float:
    return math.sqrt(sum(x * x for x in v))


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / (_norm(a) * _norm(b))


def _embed(client: openai.OpenAI, text: str | list[str], **kwargs: int) -> list[list[float]]:
    resp = client.embeddings.create(model=MODEL, input=text, encoding_format="float", **kwargs)  # type: ignore[arg-type]
    return [d.embedding for d in resp.data]


def test_single_input(client: openai.OpenAI) -> None:
    text = "The cat sat on the mat."
    resp = client.embeddings.create(model=MODEL, input=text, encoding_format="float")
    assert resp.object == "list"
    assert resp.model == MODEL
    assert len(resp.data) == 1
    item = resp.data[0]
    assert item.object == "embedding" and item.index == 0
    assert len(item.embedding) == 1536
    assert all(isinstance(x, float) and math.isfinite(x) for x in item.embedding)
    assert resp.usage.prompt_tokens == get_tokenizer().count(text)
    assert resp.usage.total_tokens == resp.usage.prompt_tokens


def test_list_input(client: openai.OpenAI) -> None:
    texts = ["first text", "second, longer text about something", "third"]
    resp = client.embeddings.create(model=MODEL, input=texts, encoding_format="float")
    assert [d.index for d in resp.data] == [0, 1, 2]
    assert resp.usage.prompt_tokens == sum(get_tokenizer().count(t) for t in texts)
    vectors = [d.embedding for d in resp.data]
    assert vectors[0] != vectors[1] != vectors[2]
    for text, vector in zip(texts, vectors, strict=True):
        assert vector == _embed(client, text)[0]


def test_token_id_inputs(client: openai.OpenAI) -> None:
    tok = get_tokenizer()
    texts = ["embedding from token ids", "another one"]
    ids = [tok.encode(t) for t in texts]
    one = client.embeddings.create(model=MODEL, input=ids[0], encoding_format="float")
    assert len(one.data) == 1
    assert one.usage.prompt_tokens == len(ids[0])
    assert one.data[0].embedding == _embed(client, texts[0])[0]
    many = client.embeddings.create(model=MODEL, input=ids, encoding_format="float")
    assert [d.index for d in many.data] == [0, 1]
    assert many.usage.prompt_tokens == sum(len(i) for i in ids)
    assert [d.embedding for d in many.data] == _embed(client, texts)


@pytest.mark.parametrize(("model", "native"), [(MODEL, 1536), ("text-embedding-3-large", 3072)])
def test_native_dimensions(client: openai.OpenAI, model: str, native: int) -> None:
    resp = client.embeddings.create(model=model, input="hello", encoding_format="float")
    assert len(resp.data[0].embedding) == native


@pytest.mark.parametrize("dims", [1, 256, 512, 1536])
def test_dimensions(client: openai.OpenAI, dims: int) -> None:
    (vector,) = _embed(client, "shortened vectors", dimensions=dims)
    assert len(vector) == dims
    assert _norm(vector) == pytest.approx(1.0, abs=1e-6)


def test_dimensions_above_native_is_rejected(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.embeddings.create(model=MODEL, input="x", dimensions=4096, encoding_format="float")
    assert info.value.param == "dimensions"


def test_dimensions_on_ada_is_rejected(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.embeddings.create(model="text-embedding-ada-002", input="x", dimensions=256, encoding_format="float")
    assert info.value.param == "dimensions"


def test_unit_norm(client: openai.OpenAI) -> None:
    for vector in _embed(client, ["a", "a much longer sentence with many words in it", "!!!", "日本語のテキスト"]):
        assert _norm(vector) == pytest.approx(1.0, abs=1e-6)


def test_deterministic(client: openai.OpenAI) -> None:
    text = "Determinism means the same input gives the same vector."
    first = _embed(client, text, dimensions=64)
    assert _embed(client, text, dimensions=64) == first
    assert _embed(client, text + " More.", dimensions=64) != first


def test_similar_texts_are_closer(client: openai.OpenAI) -> None:
    a, b, c = _embed(
        client,
        [
            "The quick brown fox jumps over the lazy dog.",
            "A quick brown fox jumped over a lazy dog.",
            "Quarterly revenue grew by twelve percent in Europe.",
        ],
    )
    assert _cosine(a, b) > _cosine(a, c) + 0.2
    assert _cosine(a, b) > _cosine(b, c) + 0.2


def test_base64_equals_float_via_sdk(client: openai.OpenAI, default_client: openai.OpenAI) -> None:
    text = "base64 and float agree"
    floats = _embed(client, text, dimensions=256)[0]
    # Without encoding_format the SDK requests base64 and decodes it into float32 values.
    decoded = default_client.embeddings.create(model=MODEL, input=text, dimensions=256).data[0].embedding
    assert len(decoded) == 256
    assert decoded == pytest.approx(floats, abs=1e-6)
    # float32 rounding of the float output gives exactly the decoded values
    assert decoded == [struct.unpack("<f", struct.pack("<f", x))[0] for x in floats]


def test_base64_raw_is_little_endian_float32(server: LiveServer, client: openai.OpenAI) -> None:
    texts = ["raw base64 one", "raw base64 two"]
    resp = httpx.post(
        server.openai_base + "/embeddings",
        json={"model": MODEL, "input": texts, "encoding_format": "base64"},
        timeout=10,
    )
    assert resp.status_code == 200
    data = resp.json()["data"]
    floats = _embed(client, texts)
    for item, expected in zip(data, floats, strict=True):
        assert isinstance(item["embedding"], str)
        raw = base64.b64decode(item["embedding"])
        assert len(raw) == 4 * 1536
        values = struct.unpack(f"<{1536}f", raw)
        assert list(values) == pytest.approx(expected, abs=1e-6)


def test_unknown_encoding_format_is_rejected(server: LiveServer) -> None:
    resp = httpx.post(
        server.openai_base + "/embeddings",
        json={"model": MODEL, "input": "x", "encoding_format": "int8"},
        timeout=10,
    )
    assert resp.status_code == 400
    assert resp.json()["error"]["param"] == "encoding_format"


async def test_async_client(async_client: openai.AsyncOpenAI) -> None:
    resp = await async_client.embeddings.create(model=MODEL, input=["x y z"], encoding_format="float")
    assert len(resp.data[0].embedding) == 1536
