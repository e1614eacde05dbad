"""Image generation (``POST /v1/images/generations``) through the official openai SDK and raw HTTP."""

from __future__ import annotations

import base64
import struct

import httpx
import openai
import pytest
from openai.types import ImagesResponse

from llm_simulator.infra.media import PNG_SIGNATURE
from llm_simulator.providers.openai.images import ImageStore
from tests.live import LiveServer
from tests.providers.openai.helpers import assert_openai_error


def png_size(data: bytes) -> tuple[int, int]:
    """The width and height in a PNG's IHDR, checking the signature and chunk layout."""
    assert data.startswith(PNG_SIGNATURE)
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    width, height = struct.unpack(">II", data[16:24])
    assert data.endswith(b"IEND\xaeB`\x82")
    return width, height


def test_dalle2_url_default(client: openai.OpenAI) -> None:
    resp = client.images.generate(prompt="a red fox", size="256x256", n=2)
    assert resp.data is not None and len(resp.data) == 2
    assert resp.usage is None
    for image in resp.data:
        assert image.url is not None and image.b64_json is None and image.revised_prompt is None
        got = httpx.get(image.url, timeout=10)
        assert got.status_code == 200 and got.headers["content-type"] == "image/png"
        assert png_size(got.content) == (256, 256)


def test_dalle3_b64_with_revised_prompt(client: openai.OpenAI) -> None:
    def make() -> ImagesResponse:
        return client.images.generate(
            model="dall-e-3", prompt="a lighthouse", size="1792x1024", response_format="b64_json"
        )

    resp = make()
    assert resp.data is not None
    (image,) = resp.data
    assert image.b64_json is not None and image.revised_prompt
    assert png_size(base64.b64decode(image.b64_json)) == (1792, 1024)
    again = make()
    assert again.data is not None and again.data[0].b64_json == image.b64_json


def test_gpt_image_1_usage_and_fields(client: openai.OpenAI) -> None:
    resp = client.images.generate(model="gpt-image-1", prompt="a cat in a hat", size="1536x1024", quality="low")
    assert resp.data is not None
    (image,) = resp.data
    assert image.b64_json is not None and image.url is None
    assert png_size(base64.b64decode(image.b64_json)) == (1536, 1024)
    assert resp.size == "1536x1024" and resp.quality == "low" and resp.output_format == "png"
    assert resp.usage is not None and resp.usage.output_tokens > 0
    assert resp.usage.total_tokens == resp.usage.input_tokens + resp.usage.output_tokens


def test_unknown_image_is_not_found(server: LiveServer) -> None:
    assert_openai_error(httpx.get(server.openai_base + "/images/files/img-nope", timeout=10), 404)


def test_store_is_bounded() -> None:
    store = ImageStore(max_items=2, max_bytes=10)
    first = store.put(b"12345")
    second = store.put(b"12345")
    third = store.put(b"1")
    assert store.get(first) is None and store.get(second) == b"12345" and store.get(third) == b"1"


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        ({"model": "gpt-4o", "prompt": "x"}, 400, "model"),
        ({"model": "nope", "prompt": "x"}, 404, "model"),
        ({"model": "dall-e-2"}, 400, "prompt"),
        ({"model": "dall-e-2", "prompt": "x", "size": "1792x1024"}, 400, "size"),
        ({"model": "dall-e-3", "prompt": "x", "n": 2}, 400, "n"),
        ({"model": "dall-e-2", "prompt": "x", "n": 11}, 400, "n"),
        ({"model": "dall-e-2", "prompt": "x", "n": 0}, 400, "n"),
        ({"model": "dall-e-2", "prompt": "x", "response_format": "gif"}, 400, "response_format"),
        ({"model": "gpt-image-1", "prompt": "x", "response_format": "url"}, 400, "response_format"),
        ({"model": "dall-e-2", "prompt": "x" * 1001}, 400, "prompt"),
    ],
)
def test_bad_input(server: LiveServer, body: dict[str, object], status: int, param: str) -> None:
    resp = httpx.post(server.openai_base + "/images/generations", json=body, timeout=10)
    assert_openai_error(resp, status, param=param)
