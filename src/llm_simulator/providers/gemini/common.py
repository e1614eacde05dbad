"""Pieces shared by the Gemini endpoints: model lookup from the path, ids, headers, keys."""

from __future__ import annotations

from collections.abc import Mapping

from llm_simulator.core.errors import ErrorKind, SimulatorError
from llm_simulator.core.http import JSON_CONTENT_TYPE, Headers
from llm_simulator.engine.catalogue import ModelSpec
from llm_simulator.engine.simulator import Simulator
from llm_simulator.infra.rng import IDS

PROVIDER = "google"
MODELS_PREFIX = "models/"


def api_key(headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
    """The caller's key: the ``x-goog-api-key`` header (the SDK's way) or ``?key=`` (REST users')."""
    return headers.get("x-goog-api-key") or query.get("key")


def is_gemini(headers: Mapping[str, str], query: Mapping[str, str]) -> bool:
    """Whether a request on a path shared with OpenAI (``/v1/models``) comes from a Gemini client."""
    return api_key(headers, query) is not None or "x-goog-api-client" in headers


def api_version(path: str) -> str:
    """``v1beta`` or ``v1``, from the request path (error messages name it)."""
    return path.strip("/").split("/", 1)[0]


def new_response_id() -> str:
    """A ``responseId`` in the API's style (random; ids are not part of seeding)."""
    return IDS.token(23)


def require_model(sim: Simulator, model_id: str, method: str, version: str, *, embedding: bool | None) -> ModelSpec:
    """The spec of the model named in the URL, or the API's 404 for ``method``.

    ``embedding`` says which kind of model ``method`` needs (None: either kind).
    """
    spec = sim.resolve_model(model_id, PROVIDER) if model_id else None
    if spec is None or (embedding is not None and spec.is_embedding != embedding):
        raise SimulatorError(
            ErrorKind.NOT_FOUND,
            f"models/{model_id} is not found for API version {version}, or is not supported for {method}. "
            "Call ListModels to see the list of available models and their supported methods.",
            param="model",
        )
    return spec


def json_headers() -> Headers:
    """Headers of a JSON response."""
    return [JSON_CONTENT_TYPE]


# What ``escape_line_breaks`` writes for U+2028, U+2029 and U+0085.
ESCAPED_LINE_BREAKS = (b"\\u2028", b"\\u2029", b"\\u0085")


def escape_line_breaks(data: bytes) -> bytes:
    """Escape U+2028, U+2029 and U+0085 (raw, they split a line for the SDK's line reader)."""
    if b"\xe2\x80\xa8" in data or b"\xe2\x80\xa9" in data or b"\xc2\x85" in data:
        data = data.replace(b"\xe2\x80\xa8", b"\\u2028").replace(b"\xe2\x80\xa9", b"\\u2029")
        data = data.replace(b"\xc2\x85", b"\\u0085")
    return data
