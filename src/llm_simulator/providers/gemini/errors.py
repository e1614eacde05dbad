"""Google's error body: ``{"error": {"code", "message", "status"}}`` with canonical statuses."""

from __future__ import annotations

import orjson

from llm_simulator.core.errors import ErrorKind, SimulatorError, default_status
from llm_simulator.providers.base import JSON_CONTENT_TYPE, JsonResponse

# (HTTP status, canonical status) per neutral kind. Google has no 529: an overloaded model
# is 503 UNAVAILABLE, and an over-long prompt is a plain INVALID_ARGUMENT.
_STATUS: dict[ErrorKind, tuple[int, str]] = {
    ErrorKind.INVALID_REQUEST: (400, "INVALID_ARGUMENT"),
    ErrorKind.AUTHENTICATION: (401, "UNAUTHENTICATED"),
    ErrorKind.PERMISSION: (403, "PERMISSION_DENIED"),
    ErrorKind.NOT_FOUND: (404, "NOT_FOUND"),
    ErrorKind.METHOD_NOT_ALLOWED: (405, "UNIMPLEMENTED"),
    ErrorKind.PAYLOAD_TOO_LARGE: (413, "INVALID_ARGUMENT"),
    ErrorKind.CONTEXT_LENGTH: (400, "INVALID_ARGUMENT"),
    ErrorKind.RATE_LIMIT: (429, "RESOURCE_EXHAUSTED"),
    ErrorKind.SERVER_ERROR: (500, "INTERNAL"),
    ErrorKind.OVERLOADED: (503, "UNAVAILABLE"),
    ErrorKind.UNAVAILABLE: (503, "UNAVAILABLE"),
    ErrorKind.TIMEOUT: (504, "DEADLINE_EXCEEDED"),
}


def error_code(error: SimulatorError) -> int:
    """The HTTP status Google uses for ``error`` (an explicitly chosen status wins)."""
    code, _ = _STATUS[error.kind]
    return error.status if error.status != default_status(error.kind) else code


def error_body(error: SimulatorError) -> bytes:
    """The JSON error object; ``error`` is the first (only) key, as the SDK's stream check needs."""
    _, status = _STATUS[error.kind]
    return orjson.dumps({"error": {"code": error_code(error), "message": error.message, "status": status}})


def render_error(error: SimulatorError, request_id: str) -> JsonResponse:
    """The complete Google-shaped error response."""
    return JsonResponse(error_code(error), error_body(error), [JSON_CONTENT_TYPE])


def sse_error_frame(error: SimulatorError) -> bytes:
    """A mid-stream error in ``alt=sse`` mode: a data line whose JSON starts with ``{"error":``."""
    return b"data: " + error_body(error) + b"\n\n"
