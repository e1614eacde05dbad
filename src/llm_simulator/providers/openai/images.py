"""``POST /v1/images/generations``: valid PNGs, as ``b64_json`` or URLs the simulator serves.

URLs point at ``GET /v1/images/files/{image_id}`` on this server and stay valid while the
image is in a bounded in-memory store (the newest ``MAX_STORED`` images, at most
``MAX_STORED_BYTES`` together); an evicted or unknown image is a 404. The picture is two
colours in bands, drawn from the prompt, so the same prompt gives the same bytes.

The models differ as on the API: dall-e-2 (the default) takes 256/512/1024 squares and up
to 10 images; dall-e-3 one image, in 1024x1024, 1792x1024 or 1024x1792, with a
``revised_prompt``; gpt-image-1 answers ``b64_json`` only (``response_format`` is refused),
in 1024x1024, 1536x1024, 1024x1536 or ``auto``, with token ``usage`` and the size, quality,
background and output format it used.
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections import OrderedDict
from typing import Any

import orjson

from llm_simulator.core.errors import ErrorKind, SimulatorError, invalid
from llm_simulator.core.http import HttpRequest, JsonResponse, Response
from llm_simulator.engine.cpu import off_loop
from llm_simulator.engine.simulator import Simulator
from llm_simulator.infra.media import png
from llm_simulator.providers.openai.common import new_id, response_headers
from llm_simulator.providers.openai.media import bounded_text, media_model, pass_through
from llm_simulator.providers.validation import get_int, get_str, parse_object

DEFAULT_MODEL = "dall-e-2"
SIZES = {
    "dall-e-2": ("256x256", "512x512", "1024x1024"),
    "dall-e-3": ("1024x1024", "1792x1024", "1024x1792"),
    "gpt-image-1": ("1024x1024", "1536x1024", "1024x1536", "auto"),
}
MAX_N = {"dall-e-2": 10, "dall-e-3": 1, "gpt-image-1": 10}
MAX_PROMPT = {"dall-e-2": 1000, "dall-e-3": 4000, "gpt-image-1": 32000}
QUALITIES = {
    "dall-e-2": ("standard",),
    "dall-e-3": ("standard", "hd"),
    "gpt-image-1": ("auto", "low", "medium", "high"),
}
# gpt-image-1's output tokens per image, by quality, for a square image.
IMAGE_TOKENS = {"low": 272, "medium": 1056, "high": 4160}
MAX_STORED = 64
MAX_STORED_BYTES = 64 * 2**20


class ImageStore:
    """The generated images served by URL: the newest ones, within a count and a byte budget."""

    def __init__(self, max_items: int = MAX_STORED, max_bytes: int = MAX_STORED_BYTES) -> None:
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._bytes = 0
        self._max_items = max_items
        self._max_bytes = max_bytes

    def put(self, data: bytes) -> str:
        """Store ``data``; its id."""
        image_id = new_id("img-", 24)
        self._items[image_id] = data
        self._bytes += len(data)
        while len(self._items) > self._max_items or self._bytes > self._max_bytes:
            _, dropped = self._items.popitem(last=False)
            self._bytes -= len(dropped)
        return image_id

    def get(self, image_id: str) -> bytes | None:
        """The image's bytes, or None if unknown or evicted."""
        return self._items.get(image_id)


def _family(model_id: str, spec_id: str) -> str:
    for family in SIZES:
        if spec_id.startswith(family) or model_id.startswith(family):
            return family
    return "gpt-image-1"


def _choice(body: dict[str, Any], key: str, allowed: tuple[str, ...], default: str) -> str:
    return checked_choice(get_str(body, key) or default, key, allowed)


def checked_choice(value: str, key: str, allowed: tuple[str, ...]) -> str:
    """``value`` if it is one of ``allowed``; otherwise OpenAI's 400 listing them."""
    if value not in allowed:
        quoted = ", ".join(f"'{v}'" for v in allowed)
        raise invalid(f"Invalid value: '{value}'. Supported values are: {quoted}.", param=key, code="invalid_value")
    return value


def _base_url(request: HttpRequest) -> str:
    host = request.headers.get("x-forwarded-host") or request.headers.get("host") or "localhost"
    scheme = request.headers.get("x-forwarded-proto") or "http"
    return f"{scheme}://{host}"


async def generate(sim: Simulator, store: ImageStore, request: HttpRequest) -> Response:
    """Serve one image generation."""
    started = time.monotonic()
    body = parse_object(request.body)
    model_id = get_str(body, "model") or DEFAULT_MODEL
    spec = media_model(sim, model_id, "image", "images/generations")
    family = _family(model_id, spec.id)
    prompt = bounded_text(get_str(body, "prompt", required=True) or "", "prompt", MAX_PROMPT[family])
    n = get_int(body, "n", minimum=1) or 1
    if n > MAX_N[family]:
        message = (
            "Invalid 'n': dall-e-3 only supports n=1."
            if family == "dall-e-3"
            else f"Invalid 'n': integer above maximum value. Expected a value <= {MAX_N[family]}, but got {n}."
        )
        raise invalid(message, param="n", code="invalid_value")
    size = _choice(body, "size", SIZES[family], "auto" if family == "gpt-image-1" else "1024x1024")
    quality = _choice(body, "quality", QUALITIES[family], QUALITIES[family][0])
    if family == "gpt-image-1":
        if body.get("response_format") is not None:
            raise invalid("Unknown parameter: 'response_format'.", param="response_format", code="unknown_parameter")
        response_format = "b64_json"
        output_format = _choice(body, "output_format", ("png",), "png")
        background = _choice(body, "background", ("auto", "opaque"), "auto")
    else:
        response_format = _choice(body, "response_format", ("url", "b64_json"), "url")
        output_format = background = ""
        if family == "dall-e-3":
            _choice(body, "style", ("vivid", "natural"), "vivid")
    get_str(body, "user")
    width, height = dimensions(size)
    prompt_tokens = sim.count_tokens(prompt)
    await pass_through(sim, request, model_id, spec, prompt_tokens, [prompt])
    image = await draw(width, height, f"{model_id}\x00{prompt}".encode())
    revised = f"A detailed, vivid illustration: {prompt}" if family == "dall-e-3" else None
    payload = images_payload(request, store, image, n, response_format, revised)
    if family == "gpt-image-1":
        payload.update(gpt_image_fields(quality, background, output_format, width, height, n, prompt_tokens))
    return JsonResponse(200, orjson.dumps(payload), response_headers(request, started, model_id))


def dimensions(size: str) -> tuple[int, int]:
    """The width and height a ``size`` value gives (``auto``: 1024 × 1024)."""
    if size == "auto":
        return 1024, 1024
    width, height = size.split("x")
    return int(width), int(height)


async def draw(width: int, height: int, source: bytes, alpha: bool = False) -> bytes:
    """The PNG answered for ``source`` (what the picture depends on), off the event loop when large."""
    seed = int.from_bytes(hashlib.blake2b(source, digest_size=8).digest(), "big")
    return await off_loop(width * height > 512 * 512, None, png, width, height, seed, alpha)


def images_payload(
    request: HttpRequest, store: ImageStore, image: bytes, n: int, response_format: str, revised: str | None = None
) -> dict[str, Any]:
    """The ImagesResponse body: ``n`` copies of ``image`` as ``b64_json`` or as URLs this server serves."""
    data: list[dict[str, Any]] = []
    for _ in range(n):
        item: dict[str, Any] = {}
        if response_format == "b64_json":
            item["b64_json"] = base64.b64encode(image).decode()
        else:
            item["url"] = f"{_base_url(request)}/v1/images/files/{store.put(image)}"
        if revised is not None:
            item["revised_prompt"] = revised
        data.append(item)
    return {"created": int(time.time()), "data": data}


def gpt_image_fields(
    quality: str,
    background: str,
    output_format: str,
    width: int,
    height: int,
    n: int,
    text_tokens: int,
    image_tokens: int = 0,
) -> dict[str, Any]:
    """What gpt-image-1 adds to an ImagesResponse: the settings it used and token ``usage``.

    Output tokens per image are ``IMAGE_TOKENS[quality]`` for a 1024 × 1024 image, scaled by
    the area; input tokens are the prompt's plus those of any input images.
    """
    resolved = "medium" if quality == "auto" else quality
    output = IMAGE_TOKENS[resolved] * (width * height) // (1024 * 1024) * n
    prompt = text_tokens + image_tokens
    return {
        "background": "opaque" if background == "auto" else background,
        "output_format": output_format,
        "quality": resolved,
        "size": f"{width}x{height}",
        "usage": {
            "input_tokens": prompt,
            "input_tokens_details": {"image_tokens": image_tokens, "text_tokens": text_tokens},
            "output_tokens": output,
            "total_tokens": prompt + output,
        },
    }


async def retrieve(store: ImageStore, request: HttpRequest) -> Response:
    """``GET /v1/images/files/{image_id}``: a generated image's PNG bytes."""
    image = store.get(request.path_params["image_id"])
    if image is None:
        raise SimulatorError(
            ErrorKind.NOT_FOUND, "No such image: it was never generated here, or it has expired.", code="not_found"
        )
    return JsonResponse(200, image, [(b"content-type", b"image/png"), (b"cache-control", b"private, max-age=3600")])
