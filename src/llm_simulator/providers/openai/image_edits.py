"""``POST /v1/images/edits`` and ``/v1/images/variations``: multipart uploads checked as the API checks them.

Uploads are read from their headers (``infra/image_probe.py``): nothing is decoded, and the
answer is a new PNG like a generation's, drawn from a hash of the model, the prompt and the
first image, so the same request gives the same bytes. URLs and ``b64_json`` work as for
generations (``images.py``).

The models' rules, as on the API:

- **dall-e-2** (the default): one square PNG under 4 MB; with no ``mask`` the image must
  have transparency (it is the mask); ``prompt`` up to 1,000 characters; ``size`` 256, 512
  or 1024 squares; ``n`` 1–10; ``response_format`` ``url`` or ``b64_json``.
- **gpt-image-1** (edits only): 1–16 PNG, JPEG or WebP images under 50 MB each, any size;
  ``prompt`` up to 32,000 characters; ``size`` 1024x1024, 1536x1024, 1024x1536 or ``auto``;
  ``quality``, ``background``, ``input_fidelity``; ``b64_json`` only (``response_format`` is
  refused); PNG output (``output_format: png``); token ``usage`` counting the input images.
- A ``mask`` is a PNG under 4 MB with transparency, the size of the (first) image.
- Variations are dall-e-2's only: one square PNG under 4 MB, no prompt.
"""

from __future__ import annotations

import hashlib
import time

import orjson

from llm_simulator.core.errors import invalid
from llm_simulator.core.http import HttpRequest, JsonResponse, Response
from llm_simulator.engine.simulator import Simulator
from llm_simulator.infra.image_probe import ImageInfo, probe
from llm_simulator.providers.openai.common import response_headers
from llm_simulator.providers.openai.images import (
    MAX_PROMPT,
    QUALITIES,
    SIZES,
    ImageStore,
    checked_choice,
    dimensions,
    draw,
    gpt_image_fields,
    images_payload,
)
from llm_simulator.providers.openai.media import (
    Form,
    bounded_text,
    form_files,
    form_text,
    media_model,
    parse_form,
    pass_through,
)

EDIT_MODELS = ("dall-e-2", "gpt-image-1")
DALLE2_MAX_BYTES = 4 * 2**20
GPT_IMAGE_MAX_BYTES = 50 * 2**20
GPT_IMAGE_MAX_IMAGES = 16
MAX_N = 10
# An input image's tokens (gpt-image-1): as for vision input, 85 + 170 per 512-pixel tile of
# the image scaled to fit 2048 × 2048 and then to a shortest side of 768.
BASE_IMAGE_TOKENS = 85
TILE_TOKENS = 170


def _int_field(fields: Form, name: str, low: int, high: int, default: int) -> int:
    raw = form_text(fields, name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise invalid(
            f"Invalid type for '{name}': expected an integer, but got a string instead.",
            param=name,
            code="invalid_type",
        ) from None
    if not low <= value <= high:
        raise invalid(
            f"Invalid '{name}': {value}. Expected a value between {low} and {high}.",
            param=name,
            code="integer_out_of_range",
        )
    return value


def _text_choice(fields: Form, name: str, allowed: tuple[str, ...], default: str) -> str:
    return checked_choice(form_text(fields, name) or default, name, allowed)


def _probe(data: bytes, param: str, formats: tuple[str, ...], max_bytes: int) -> ImageInfo:
    """The upload's header; OpenAI's 400s for an empty, oversized or unsupported file."""
    if not data:
        raise invalid(f"Invalid '{param}': the uploaded file is empty.", param=param, code="invalid_image")
    if len(data) > max_bytes:
        raise invalid(
            f"Invalid '{param}': the image is {len(data)} bytes; the limit is {max_bytes // 2**20} MB.",
            param=param,
            code="image_too_large",
        )
    info = probe(data)
    if info is None or info.format not in formats:
        allowed = ", ".join(formats)
        raise invalid(
            f"Invalid image file or mode for '{param}': expected a valid {allowed} file.",
            param=param,
            code="invalid_image_format",
        )
    return info


def _check_mask(fields: Form, image: ImageInfo) -> bool:
    """Whether a ``mask`` was sent; checked as a PNG with transparency, the image's size."""
    masks = form_files(fields, "mask")
    if not masks:
        return False
    mask = _probe(masks[0], "mask", ("png",), DALLE2_MAX_BYTES)
    if (mask.width, mask.height) != (image.width, image.height):
        raise invalid(
            f"Invalid 'mask': the mask is {mask.width}x{mask.height} but the image is {image.width}x{image.height}; "
            "they must be the same size.",
            param="mask",
            code="invalid_image_dimensions",
        )
    if not mask.alpha:
        raise invalid(
            "Invalid 'mask': the mask must have an alpha channel (its transparent pixels mark where to edit).",
            param="mask",
            code="invalid_image_format",
        )
    return True


def _square(info: ImageInfo, param: str) -> None:
    if info.width != info.height:
        raise invalid(
            f"Invalid '{param}': the image must be square, got {info.width}x{info.height}.",
            param=param,
            code="invalid_image_dimensions",
        )


def _prompt(fields: Form, limit: int) -> str:
    prompt = form_text(fields, "prompt")
    if prompt is None:
        raise invalid("Missing required parameter: 'prompt'.", param="prompt", code="missing_required_parameter")
    return bounded_text(prompt, "prompt", limit)


def _images(fields: Form) -> list[bytes]:
    images = form_files(fields, "image", "image[]")
    if not images:
        raise invalid("Missing required parameter: 'image'.", param="image", code="missing_required_parameter")
    return images


def image_tokens(info: ImageInfo) -> int:
    """An input image's tokens: ``85 + 170 × tiles`` after scaling into 2048² and to a 768 shortest side."""
    width, height = float(info.width), float(info.height)
    scale = min(1.0, 2048 / max(width, height))
    width, height = width * scale, height * scale
    scale = min(1.0, 768 / min(width, height))
    width, height = width * scale, height * scale
    tiles = -(-int(width) // 512) * -(-int(height) // 512)
    return BASE_IMAGE_TOKENS + TILE_TOKENS * max(1, tiles)


async def edit(sim: Simulator, store: ImageStore, request: HttpRequest) -> Response:
    """Serve ``POST /v1/images/edits``."""
    started = time.monotonic()
    fields = parse_form(request)
    model_id = form_text(fields, "model") or "dall-e-2"
    spec = media_model(sim, model_id, "image", "images/edits")
    family = next((f for f in EDIT_MODELS if spec.id.startswith(f) or model_id.startswith(f)), None)
    if family is None:
        raise invalid(
            f"Invalid value for 'model' = {model_id}: image edits support dall-e-2 and gpt-image-1.",
            param="model",
            code="invalid_value",
        )
    if (form_text(fields, "stream") or "false").lower() == "true":
        raise invalid(
            "Streaming image edits are not simulated; leave 'stream' out or false.",
            param="stream",
            code="unsupported_value",
        )
    images = _images(fields)
    if family == "dall-e-2":
        if len(images) > 1:
            raise invalid("Invalid 'image': dall-e-2 edits take one image.", param="image", code="invalid_value")
        infos = [_probe(images[0], "image", ("png",), DALLE2_MAX_BYTES)]
        _square(infos[0], "image")
    else:
        if len(images) > GPT_IMAGE_MAX_IMAGES:
            raise invalid(
                f"Invalid 'image': at most {GPT_IMAGE_MAX_IMAGES} images, got {len(images)}.",
                param="image",
                code="array_above_max_length",
            )
        infos = [_probe(data, "image", ("png", "jpeg", "webp"), GPT_IMAGE_MAX_BYTES) for data in images]
    has_mask = _check_mask(fields, infos[0])
    if family == "dall-e-2" and not has_mask and not infos[0].alpha:
        raise invalid(
            "Invalid 'image': without a 'mask' the image must have transparency (an RGBA, LA or L PNG with alpha).",
            param="image",
            code="invalid_image_format",
        )
    prompt = _prompt(fields, MAX_PROMPT[family])
    n = _int_field(fields, "n", 1, MAX_N, 1)
    size = _text_choice(fields, "size", SIZES[family], "auto" if family == "gpt-image-1" else "1024x1024")
    quality = _text_choice(fields, "quality", QUALITIES[family], QUALITIES[family][0])
    width, height = dimensions(size)
    source = f"{model_id}\x00{prompt}\x00".encode() + hashlib.blake2b(images[0], digest_size=16).digest()
    text_tokens = sim.count_tokens(prompt)
    if family == "dall-e-2":
        response_format = _text_choice(fields, "response_format", ("url", "b64_json"), "url")
        await pass_through(sim, request, model_id, spec, text_tokens, [prompt])
        payload = images_payload(request, store, await draw(width, height, source), n, response_format)
    else:
        if form_text(fields, "response_format") is not None:
            raise invalid("Unknown parameter: 'response_format'.", param="response_format", code="unknown_parameter")
        background = _text_choice(fields, "background", ("auto", "opaque", "transparent"), "auto")
        output_format = _text_choice(fields, "output_format", ("png",), "png")
        _text_choice(fields, "input_fidelity", ("low", "high"), "low")
        if form_text(fields, "output_compression") is not None:
            raise invalid(
                "Invalid 'output_compression': it applies to the jpeg and webp output formats only.",
                param="output_compression",
                code="invalid_value",
            )
        image_cost = sum(image_tokens(info) for info in infos)
        await pass_through(sim, request, model_id, spec, text_tokens + image_cost, [prompt])
        image = await draw(width, height, source, alpha=background == "transparent")
        payload = images_payload(request, store, image, n, "b64_json")
        payload.update(gpt_image_fields(quality, background, output_format, width, height, n, text_tokens, image_cost))
    return JsonResponse(200, orjson.dumps(payload), response_headers(request, started, model_id))


async def variation(sim: Simulator, store: ImageStore, request: HttpRequest) -> Response:
    """Serve ``POST /v1/images/variations`` (dall-e-2)."""
    started = time.monotonic()
    fields = parse_form(request)
    model_id = form_text(fields, "model") or "dall-e-2"
    spec = media_model(sim, model_id, "image", "images/variations")
    if not (spec.id.startswith("dall-e-2") or model_id.startswith("dall-e-2")):
        raise invalid(
            f"Invalid value for 'model' = {model_id}: image variations support dall-e-2 only.",
            param="model",
            code="invalid_value",
        )
    images = form_files(fields, "image")
    if not images:
        raise invalid("Missing required parameter: 'image'.", param="image", code="missing_required_parameter")
    info = _probe(images[0], "image", ("png",), DALLE2_MAX_BYTES)
    _square(info, "image")
    n = _int_field(fields, "n", 1, MAX_N, 1)
    size = _text_choice(fields, "size", SIZES["dall-e-2"], "1024x1024")
    response_format = _text_choice(fields, "response_format", ("url", "b64_json"), "url")
    width, height = dimensions(size)
    # No prompt: a variation costs one forward pass over the image's tokens.
    await pass_through(sim, request, model_id, spec, image_tokens(info))
    source = f"{model_id}\x00variation\x00".encode() + hashlib.blake2b(images[0], digest_size=16).digest()
    payload = images_payload(request, store, await draw(width, height, source), n, response_format)
    return JsonResponse(200, orjson.dumps(payload), response_headers(request, started, model_id))
