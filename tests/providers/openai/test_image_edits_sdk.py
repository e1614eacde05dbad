"""``POST /v1/images/edits`` and ``/v1/images/variations`` through the official openai SDK and raw multipart."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import openai
import orjson
import pytest

from llm_simulator.config import load_config
from llm_simulator.server.app import SimulatorApp
from tests.live import LiveServer
from tests.providers.openai.helpers import assert_openai_error
from tests.providers.openai.image_files import jpeg, png, webp_lossless
from tests.providers.openai.test_images_sdk import png_size
from tests.server.asgi_driver import call

RGBA = png(64, 64, alpha=True)
RGB = png(64, 64)
MASK = png(64, 64, alpha=True)


def png_colour_type(data: bytes) -> int:
    """The IHDR colour type (2: RGB, 6: RGBA)."""
    return data[25]


def test_dalle2_edit_with_a_transparent_image_answers_urls(client: openai.OpenAI) -> None:
    resp = client.images.edit(image=("in.png", RGBA), prompt="add a hat", model="dall-e-2", size="256x256", n=2)
    assert resp.data is not None and len(resp.data) == 2 and resp.usage is None
    for image in resp.data:
        assert image.url is not None and image.b64_json is None
        got = httpx.get(image.url, timeout=10)
        assert got.status_code == 200 and png_size(got.content) == (256, 256)


def test_dalle2_edit_with_a_mask_is_deterministic(client: openai.OpenAI) -> None:
    def make() -> str:
        resp = client.images.edit(
            image=("in.png", RGB), mask=("mask.png", MASK), prompt="a red door", response_format="b64_json"
        )
        assert resp.data is not None and resp.data[0].b64_json is not None
        return resp.data[0].b64_json

    first = make()
    assert png_size(base64.b64decode(first)) == (1024, 1024)  # dall-e-2's default size
    assert make() == first


def test_gpt_image_1_edits_several_images_with_usage(client: openai.OpenAI) -> None:
    images = [("a.png", png(1024, 1024)), ("b.jpg", jpeg(800, 600)), ("c.webp", webp_lossless(300, 300, True))]
    resp = client.images.edit(
        image=images, prompt="combine them", model="gpt-image-1", size="1536x1024", quality="low", background="opaque"
    )
    assert resp.data is not None
    (image,) = resp.data
    assert image.b64_json is not None and image.url is None
    assert png_size(base64.b64decode(image.b64_json)) == (1536, 1024)
    assert resp.size == "1536x1024" and resp.quality == "low" and resp.background == "opaque"
    usage = resp.usage
    assert usage is not None and usage.input_tokens_details is not None
    # 1024² scales to 768²: 4 tiles; 800×600 is not scaled up: 4 tiles; 300²: 1 tile.
    assert usage.input_tokens_details.image_tokens == (85 + 170 * 4) * 2 + (85 + 170)
    assert usage.input_tokens == usage.input_tokens_details.image_tokens + usage.input_tokens_details.text_tokens
    assert usage.output_tokens == 272 * 3 // 2 and usage.total_tokens == usage.input_tokens + usage.output_tokens


def test_gpt_image_1_transparent_background_is_rgba(client: openai.OpenAI) -> None:
    resp = client.images.edit(
        image=("a.png", png(512, 512)),
        prompt="cut out",
        model="gpt-image-1",
        size="1024x1024",
        background="transparent",
    )
    assert resp.data is not None and resp.data[0].b64_json is not None
    assert png_colour_type(base64.b64decode(resp.data[0].b64_json)) == 6


def test_variations(client: openai.OpenAI) -> None:
    # The SDK marks variations deprecated (the API retired dall-e-2); the endpoint still serves.
    with pytest.warns(DeprecationWarning, match="deprecated"):
        resp = client.images.create_variation(image=("in.png", RGB), n=3, size="512x512")
    assert resp.data is not None and len(resp.data) == 3
    assert all(image.url for image in resp.data)
    with pytest.warns(DeprecationWarning, match="deprecated"):
        inline = client.images.create_variation(image=("in.png", RGB), response_format="b64_json", size="256x256")
    assert inline.data is not None and inline.data[0].b64_json is not None
    assert png_size(base64.b64decode(inline.data[0].b64_json)) == (256, 256)


def _post(server: LiveServer, path: str, data: dict[str, str], files: list[tuple[str, tuple[str, bytes]]]) -> Any:
    return httpx.post(server.openai_base + path, data=data, files=files, timeout=10)


BIG_PNG = png(8, 8, alpha=True, padding=4 * 2**20)


@pytest.mark.parametrize(
    ("data", "files", "status", "param"),
    [
        ({"prompt": "x"}, [("other", ("x.txt", b"x"))], 400, "image"),
        ({}, [("image", ("a.png", RGBA))], 400, "prompt"),
        ({"prompt": ""}, [("image", ("a.png", RGBA))], 400, "prompt"),
        ({"prompt": "x" * 1001}, [("image", ("a.png", RGBA))], 400, "prompt"),
        ({"prompt": "x"}, [("image", ("a.txt", b"not an image at all"))], 400, "image"),
        ({"prompt": "x"}, [("image", ("a.png", b""))], 400, "image"),
        ({"prompt": "x"}, [("image", ("a.jpg", jpeg(64, 64)))], 400, "image"),
        ({"prompt": "x"}, [("image", ("a.png", png(64, 32, alpha=True)))], 400, "image"),
        ({"prompt": "x"}, [("image", ("a.png", RGB))], 400, "image"),  # no mask, no transparency
        ({"prompt": "x"}, [("image", ("a.png", BIG_PNG))], 400, "image"),
        ({"prompt": "x"}, [("image[]", ("a.png", RGBA)), ("image[]", ("b.png", RGBA))], 400, "image"),
        ({"prompt": "x"}, [("image", ("a.png", RGB)), ("mask", ("m.png", png(32, 32, alpha=True)))], 400, "mask"),
        ({"prompt": "x"}, [("image", ("a.png", RGB)), ("mask", ("m.png", RGB))], 400, "mask"),
        ({"prompt": "x"}, [("image", ("a.png", RGB)), ("mask", ("m.jpg", jpeg(64, 64)))], 400, "mask"),
        ({"prompt": "x", "n": "11"}, [("image", ("a.png", RGBA))], 400, "n"),
        ({"prompt": "x", "n": "two"}, [("image", ("a.png", RGBA))], 400, "n"),
        ({"prompt": "x", "size": "1536x1024"}, [("image", ("a.png", RGBA))], 400, "size"),
        ({"prompt": "x", "response_format": "gif"}, [("image", ("a.png", RGBA))], 400, "response_format"),
        ({"prompt": "x", "model": "dall-e-3"}, [("image", ("a.png", RGBA))], 400, "model"),
        ({"prompt": "x", "model": "tts-1"}, [("image", ("a.png", RGBA))], 400, "model"),
        ({"prompt": "x", "model": "nope"}, [("image", ("a.png", RGBA))], 404, "model"),
        ({"prompt": "x", "stream": "true"}, [("image", ("a.png", RGBA))], 400, "stream"),
        ({"prompt": "x", "model": "gpt-image-1", "response_format": "url"}, [("image", ("a.png", RGB))], 400,
         "response_format"),
        ({"prompt": "x", "model": "gpt-image-1", "output_format": "gif"}, [("image", ("a.png", RGB))], 400,
         "output_format"),
        ({"prompt": "x", "model": "gpt-image-1", "output_compression": "50"}, [("image", ("a.png", RGB))], 400,
         "output_compression"),
        ({"prompt": "x", "model": "gpt-image-1", "quality": "standard"}, [("image", ("a.png", RGB))], 400, "quality"),
        ({"prompt": "x", "model": "gpt-image-1", "input_fidelity": "max"}, [("image", ("a.png", RGB))], 400,
         "input_fidelity"),
        ({"prompt": "x", "model": "gpt-image-1"}, [("image[]", ("a.png", RGB))] * 17, 400, "image"),
        ({"prompt": "x", "model": "gpt-image-1"}, [("image", ("a.gif", b"GIF89a" + bytes(30)))], 400, "image"),
    ],
)  # fmt: skip
def test_edit_bad_input(
    server: LiveServer, data: dict[str, str], files: list[tuple[str, tuple[str, bytes]]], status: int, param: str
) -> None:
    assert_openai_error(_post(server, "/images/edits", data, files), status, param=param)


@pytest.mark.parametrize(
    ("data", "files", "param"),
    [
        ({}, [("other", ("x.txt", b"x"))], "image"),
        ({}, [("image", ("a.png", png(64, 32)))], "image"),
        ({}, [("image", ("a.jpg", jpeg(64, 64)))], "image"),
        ({"model": "gpt-image-1"}, [("image", ("a.png", RGB))], "model"),
        ({"n": "0"}, [("image", ("a.png", RGB))], "n"),
        ({"size": "1536x1024"}, [("image", ("a.png", RGB))], "size"),
        ({"response_format": "gif"}, [("image", ("a.png", RGB))], "response_format"),
    ],
)
def test_variation_bad_input(
    server: LiveServer, data: dict[str, str], files: list[tuple[str, tuple[str, bytes]]], param: str
) -> None:
    assert_openai_error(_post(server, "/images/variations", data, files), 400, param=param)


@pytest.mark.parametrize("path", ["/images/edits", "/images/variations"])
def test_a_json_body_is_refused(server: LiveServer, path: str) -> None:
    got = httpx.post(server.openai_base + path, json={"prompt": "x"}, timeout=10)
    assert_openai_error(got, 400, code="invalid_content_type")


# -- the same admission as the other media endpoints (in process) ----------------------------


def _multipart(path: str) -> tuple[bytes, str]:
    files = {"image": ("in.png", RGBA if path.endswith("edits") else RGB)}
    request = httpx.Request("POST", "http://x" + path, data={"prompt": "a hat", "size": "256x256"}, files=files)
    return request.read(), request.headers["content-type"]


def _app(**flags: Any) -> SimulatorApp:
    return SimulatorApp(load_config(flags={"latency.enabled": False, **flags}))


@pytest.mark.parametrize("path", ["/v1/images/edits", "/v1/images/variations"])
async def test_chaos_rules_for_images_reach_edits_and_variations(path: str) -> None:
    app = _app(**{"chaos.enabled": True, "chaos.rules": [{"error_type": "overloaded", "endpoints": ["image"]}]})
    body, content_type = _multipart(path)
    refused = await call(app, "POST", path, body, headers={"content-type": content_type})
    assert refused.status == 503 and orjson.loads(refused.body)["error"]["type"] == "server_error"


@pytest.mark.parametrize("path", ["/v1/images/edits", "/v1/images/variations"])
async def test_rate_limits_count_edits_and_variations(path: str) -> None:
    app = _app(**{"rate_limits.enabled": True, "rate_limits.tiers": [{"requests_per_minute": 1}]})
    body, content_type = _multipart(path)
    headers = {"content-type": content_type, "authorization": "Bearer sk-images"}
    ok = await call(app, "POST", path, body, headers=headers)
    assert ok.status == 200 and ok.headers["x-ratelimit-remaining-requests"] == "0"
    assert "/v1/images/files/img-" in orjson.loads(ok.body)["data"][0]["url"]
    refused = await call(app, "POST", path, body, headers=headers)
    assert refused.status == 429 and orjson.loads(refused.body)["error"]["code"] == "rate_limit_exceeded"
