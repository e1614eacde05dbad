"""``GET /{version}/models`` and ``/{version}/models/{model}`` in Gemini's shape."""

from __future__ import annotations

import base64
import re
from typing import Any

import orjson

from llm_simulator.core.errors import ErrorKind, SimulatorError, invalid
from llm_simulator.core.http import HttpRequest, JsonResponse, Response
from llm_simulator.engine.catalogue import ModelSpec
from llm_simulator.engine.simulator import Simulator
from llm_simulator.providers.gemini.common import MODELS_PREFIX, PROVIDER, api_version, json_headers
from llm_simulator.providers.gemini.fields import INT32_MAX

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
# Only the methods the simulator serves (clients read this list to decide what to call).
# The methods the real API lists for a Gemini model (``generateContent``, ``countTokens``,
# ``createCachedContent``, ``batchGenerateContent``: streaming is not listed), less the one
# the simulator does not serve (cached contents): a client filtering on ``batchGenerateContent``
# finds the models it can batch.
GENERATE_METHODS = ["generateContent", "countTokens", "batchGenerateContent"]
EMBED_METHODS = ["embedContent", "batchEmbedContents", "countTokens"]


def model_object(spec: ModelSpec) -> dict[str, Any]:
    """One ``Model`` resource."""
    base: dict[str, Any] = {
        "name": MODELS_PREFIX + spec.id,
        "version": "001",
        "displayName": spec.display_name or spec.id,
        "description": f"Simulated {spec.display_name or spec.id}.",
        "inputTokenLimit": spec.context_window,
        "outputTokenLimit": spec.max_output_tokens,
    }
    if spec.is_embedding:
        return {**base, "supportedGenerationMethods": EMBED_METHODS}
    return {
        **base,
        "supportedGenerationMethods": GENERATE_METHODS,
        "temperature": 1.0,
        "topP": 0.95,
        "topK": 64,
        "maxTemperature": 2.0,
        "thinking": "reasoning" in spec.capabilities,
    }


def _page_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def _offset(token: str) -> int:
    try:
        decoded = base64.urlsafe_b64decode(token.encode()).decode()
        kind, _, value = decoded.partition(":")
        if kind == "offset" and value.isdigit():
            return int(value)
    except (ValueError, UnicodeDecodeError):
        pass
    raise invalid(f"Invalid page token: {token!r}.", param="pageToken")


async def list_models(sim: Simulator, request: HttpRequest) -> Response:
    """A page of Gemini models; ``nextPageToken`` only while more remain (the SDK pager loops on it)."""
    models = sim.catalogue.list_models(PROVIDER)
    raw_size = request.query.get("pageSize")
    size = DEFAULT_PAGE_SIZE
    if raw_size is not None:
        # ASCII digits only: str.isdigit() also accepts "²", which int() then rejects.
        if not re.fullmatch(r"[0-9]{1,10}", raw_size) or int(raw_size) > INT32_MAX:
            raise invalid(f"Invalid value at 'page_size' (TYPE_INT32), \"{raw_size}\"", param="pageSize")
        size = min(int(raw_size), MAX_PAGE_SIZE) or DEFAULT_PAGE_SIZE
    start = _offset(request.query["pageToken"]) if request.query.get("pageToken") else 0
    page = models[start : start + size]
    body: dict[str, Any] = {"models": [model_object(m) for m in page]}
    if start + size < len(models):
        body["nextPageToken"] = _page_token(start + size)
    return JsonResponse(200, orjson.dumps(body), json_headers())


async def get_model(sim: Simulator, request: HttpRequest) -> Response:
    """One model by id (``models/`` prefix optional) or alias."""
    model_id = request.path_params["model"].removeprefix(MODELS_PREFIX)
    spec = sim.catalogue.lookup(model_id)
    # Only Google's models, as in the list (generateContent itself serves any catalogue model).
    if spec is None or spec.provider != PROVIDER:
        raise SimulatorError(
            ErrorKind.NOT_FOUND,
            f"models/{model_id} is not found for API version {api_version(request.path)}.",
            param="model",
        )
    return JsonResponse(200, orjson.dumps(model_object(spec)), json_headers())
