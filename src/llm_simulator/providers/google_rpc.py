"""Google's canonical error statuses, shared by Gemini (Developer API and Vertex AI) and Claude on Vertex.

Every Google API answers an error as ``{"error": {"code", "message", "status"}}`` where
``status`` is the ``google.rpc.Code`` name paired with the HTTP status. Google has no 529:
an overloaded model is 503 ``UNAVAILABLE``, and an over-long prompt a plain ``INVALID_ARGUMENT``.
"""

from __future__ import annotations

import orjson

from llm_simulator.core.errors import ErrorKind, SimulatorError

# (HTTP status, canonical status) per neutral kind.
CANONICAL: dict[ErrorKind, tuple[int, str]] = {
    ErrorKind.INVALID_REQUEST: (400, "INVALID_ARGUMENT"),
    ErrorKind.AUTHENTICATION: (401, "UNAUTHENTICATED"),
    ErrorKind.PERMISSION: (403, "PERMISSION_DENIED"),
    ErrorKind.NOT_FOUND: (404, "NOT_FOUND"),
    ErrorKind.METHOD_NOT_ALLOWED: (405, "UNIMPLEMENTED"),
    ErrorKind.PAYLOAD_TOO_LARGE: (413, "INVALID_ARGUMENT"),
    ErrorKind.CONTEXT_LENGTH: (400, "INVALID_ARGUMENT"),
    ErrorKind.RATE_LIMIT: (429, "RESOURCE_EXHAUSTED"),
    ErrorKind.QUOTA_EXHAUSTED: (429, "RESOURCE_EXHAUSTED"),
    ErrorKind.CONTENT_FILTER: (400, "INVALID_ARGUMENT"),
    ErrorKind.SERVER_ERROR: (500, "INTERNAL"),
    ErrorKind.BAD_GATEWAY: (502, "UNAVAILABLE"),
    ErrorKind.OVERLOADED: (503, "UNAVAILABLE"),
    ErrorKind.UNAVAILABLE: (503, "UNAVAILABLE"),
    ErrorKind.TIMEOUT: (504, "DEADLINE_EXCEEDED"),
}

# Google pairs each HTTP status with one canonical status: an explicitly chosen HTTP status
# (a deployment's overload_status of 429, say) brings its own.
CANONICAL_FOR_HTTP = {429: "RESOURCE_EXHAUSTED", 503: "UNAVAILABLE", 500: "INTERNAL", 504: "DEADLINE_EXCEEDED"}


def canonical(error: SimulatorError) -> tuple[int, str]:
    """(HTTP status, canonical status) of ``error``; an explicitly chosen HTTP status wins."""
    code, status = CANONICAL[error.kind]
    if error.explicit_status and error.status != code:
        return error.status, CANONICAL_FOR_HTTP.get(error.status, status)
    return code, status


def error_json(code: int, message: str, status: str) -> bytes:
    """``{"error": {"code", "message", "status"}}`` (``error`` first: the SDKs' stream checks need it)."""
    return orjson.dumps({"error": {"code": code, "message": message, "status": status}})


# Vertex AI's answer to a missing, expired or unknown access token.
VERTEX_UNAUTHENTICATED = (
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid "
    "authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project."
)


def vertex_message(error: SimulatorError, quota_metric: str, base_model: str) -> str:
    """The ``message`` Vertex AI gives: its own wording for refused tokens and exhausted quotas.

    ``quota_metric`` names the per-model quota (``generate_content_requests_per_minute_per_project_per_base_model``
    for Gemini, ``online_prediction_requests_per_base_model`` for partner models) and
    ``base_model`` the model it is counted against.
    """
    if error.kind is ErrorKind.AUTHENTICATION and not error.explicit_message:
        return VERTEX_UNAUTHENTICATED
    if error.limit is not None:
        return (
            f"Quota exceeded for aiplatform.googleapis.com/{quota_metric} with base model: {base_model}. "
            "Please submit a quota increase request. https://cloud.google.com/vertex-ai/docs/generative-ai/quotas-genai."
        )
    return error.message


def vertex_error(error: SimulatorError, quota_metric: str, base_model: str) -> tuple[int, bytes]:
    """(HTTP status, body) of a Vertex AI error: the canonical pair and Vertex's wording."""
    code, status = canonical(error)
    if error.kind is ErrorKind.AUTHENTICATION and not error.explicit_status:
        code, status = 401, "UNAUTHENTICATED"
    return code, error_json(code, vertex_message(error, quota_metric, base_model), status)
