"""``POST /v1/moderations``: OpenAI's categories and scores, deterministic from the input.

Every score is a small number (below 0.01) drawn from a hash of the model, the category and
the input, so the same input always gets the same answer and nothing is flagged by chance.
To flag an input on purpose, put a marker in its text: ``[[flag]]`` flags ``violence``;
``[[flag:CATEGORY]]`` flags that category (OpenAI's name, e.g. ``hate/threatening`` or
``self-harm``), and its parent category with it; several markers flag several categories.
A flagged category scores between 0.9 and 1.
"""

from __future__ import annotations

import hashlib
import re
import time
from typing import Any

import orjson

from llm_simulator.core.errors import invalid
from llm_simulator.core.http import HttpRequest, JsonResponse, Response
from llm_simulator.engine.simulator import Simulator
from llm_simulator.providers.openai.common import new_id, response_headers
from llm_simulator.providers.openai.media import media_model, pass_through
from llm_simulator.providers.validation import get_str, parse_object, type_error

DEFAULT_MODEL = "omni-moderation-latest"
CATEGORIES = (
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/instructions",
    "self-harm/intent",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
)
# The categories omni-moderation also scores on images.
IMAGE_CATEGORIES = frozenset(
    ("self-harm", "self-harm/instructions", "self-harm/intent", "sexual", "violence", "violence/graphic")
)
MAX_INPUTS = 32
FLAG_MARKER = re.compile(r"\[\[flag(?::([a-z/-]+))?\]\]")
DEFAULT_FLAG = "violence"


def _unit(*parts: str) -> float:
    """A number in [0, 1) from a hash of ``parts``."""
    digest = hashlib.blake2b("\x00".join(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def forced_flags(text: str) -> set[str]:
    """The categories the input's ``[[flag…]]`` markers flag (parents included); 400 for an unknown one."""
    flags: set[str] = set()
    for match in FLAG_MARKER.finditer(text):
        category = match.group(1) or DEFAULT_FLAG
        if category not in CATEGORIES:
            raise invalid(
                f"Unknown moderation category {category!r} in a [[flag:…]] marker; expected one of: "
                + ", ".join(CATEGORIES),
                param="input",
                code="invalid_value",
            )
        flags.add(category)
        flags.add(category.split("/")[0])
    return flags


def result(model_id: str, text: str, images: list[str], omni: bool) -> dict[str, Any]:
    """One moderation result for ``text`` (possibly empty) and image URLs."""
    flags = forced_flags(text)
    key = text + "\x00" + "\x00".join(images)
    scores = {}
    for category in CATEGORIES:
        u = _unit(model_id, category, key)
        scores[category] = 0.9 + 0.1 * u if category in flags else 10 ** (-6 + 4 * u)
    applied: dict[str, list[str]] = {}
    for category in CATEGORIES:
        types = ["text"] if text or not omni else []
        if omni and images and category in IMAGE_CATEGORIES:
            types.append("image")
        applied[category] = types
    return {
        "flagged": bool(flags),
        "categories": {category: category in flags for category in CATEGORIES},
        "category_scores": scores,
        "category_applied_input_types": applied,
    }


def _multimodal(model_id: str, items: list[Any], omni: bool) -> tuple[str, list[str]]:
    """The text and image URLs of a multimodal input (an array of typed parts)."""
    texts: list[str] = []
    images: list[str] = []
    for i, item in enumerate(items):
        param = f"input[{i}]"
        kind = item.get("type")
        if kind == "text":
            text = get_str(item, "text", f"{param}.text", required=True)
            texts.append(text or "")
        elif kind == "image_url":
            if not omni:
                raise invalid(f"Model {model_id} does not support image inputs.", param=param, code="invalid_value")
            image = item.get("image_url")
            url = image.get("url") if isinstance(image, dict) else None
            if not isinstance(url, str) or not url:
                raise invalid(f"Missing required parameter: '{param}.image_url.url'.", param=f"{param}.image_url.url")
            images.append(url)
        else:
            raise invalid(
                f"Invalid value: {kind!r}. Supported values are: 'text' and 'image_url'.",
                param=f"{param}.type",
                code="invalid_value",
            )
    if len(images) > 1:
        raise invalid("At most one image can be moderated per request.", param="input", code="invalid_value")
    return "\n".join(texts), images


def inputs(model_id: str, raw: Any, omni: bool) -> list[tuple[str, list[str]]]:
    """What each result moderates: (text, image URLs)."""
    if raw is None:
        raise invalid("Missing required parameter: 'input'.", param="input", code="missing_required_parameter")
    if isinstance(raw, str):
        return [(raw, [])]
    if not isinstance(raw, list):
        raise type_error("input", "a string, an array of strings, or an array of multimodal inputs", raw)
    if not raw:
        raise invalid("'input' cannot be an empty array.", param="input", code="invalid_value")
    if all(isinstance(item, str) for item in raw):
        if len(raw) > MAX_INPUTS:
            raise invalid(f"'input' can hold at most {MAX_INPUTS} items, got {len(raw)}.", param="input")
        return [(item, []) for item in raw]
    if all(isinstance(item, dict) for item in raw):
        return [_multimodal(model_id, raw, omni)]
    raise type_error("input", "an array of strings or an array of multimodal inputs", raw)


async def handle(sim: Simulator, request: HttpRequest) -> Response:
    """Serve one moderations request."""
    started = time.monotonic()
    body = parse_object(request.body)
    model_id = get_str(body, "model") or DEFAULT_MODEL
    spec = media_model(sim, model_id, "moderation", "moderations")
    omni = model_id.startswith("omni-") or spec.id.startswith("omni-")
    items = inputs(model_id, body.get("input"), omni)
    results = [result(model_id, text, images, omni) for text, images in items]
    tokens = sum(sim.count_tokens(text) for text, _ in items) + 256 * sum(len(images) for _, images in items)
    await pass_through(sim, request, model_id, spec, max(tokens, 1), [text for text, _ in items])
    payload = {"id": new_id("modr-"), "model": model_id, "results": results}
    return JsonResponse(200, orjson.dumps(payload), response_headers(request, started, model_id))
