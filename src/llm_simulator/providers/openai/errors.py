"""OpenAI's error body: ``{"error": {"message", "type", "param", "code"}}``."""

from __future__ import annotations

import orjson

from llm_simulator.core.errors import ErrorKind, SimulatorError, default_status
from llm_simulator.providers.base import JSON_CONTENT_TYPE, JsonResponse

_TYPE: dict[ErrorKind, str] = {
    ErrorKind.INVALID_REQUEST: "invalid_request_error",
    ErrorKind.AUTHENTICATION: "authentication_error",
    ErrorKind.PERMISSION: "permission_error",
    ErrorKind.NOT_FOUND: "invalid_request_error",
    ErrorKind.METHOD_NOT_ALLOWED: "invalid_request_error",
    ErrorKind.PAYLOAD_TOO_LARGE: "invalid_request_error",
    ErrorKind.CONTEXT_LENGTH: "invalid_request_error",
    ErrorKind.RATE_LIMIT: "rate_limit_exceeded",
    ErrorKind.SERVER_ERROR: "server_error",
    ErrorKind.OVERLOADED: "server_error",
    ErrorKind.UNAVAILABLE: "server_error",
    ErrorKind.TIMEOUT: "timeout",
}


def error_payload(error: SimulatorError) -> dict[str, object]:
    """The inner ``error`` object."""
    return {
        "message": error.message,
        "type": _TYPE[error.kind],
        "param": error.param,
        "code": error.code,
    }


def error_status(error: SimulatorError) -> int:
    """OpenAI's HTTP status for ``error``: an overloaded engine is a 503 (529 is Anthropic's)."""
    if error.kind is ErrorKind.OVERLOADED and error.status == default_status(error.kind):
        return 503
    return error.status


def render_error(error: SimulatorError, request_id: str) -> JsonResponse:
    """The complete OpenAI-shaped error response."""
    body = orjson.dumps({"error": error_payload(error)})
    headers = [JSON_CONTENT_TYPE, (b"x-request-id", request_id.encode())]
    status = error_status(error)
    # OpenAI tells clients explicitly whether a retry can help.
    retryable = status in (408, 409, 429) or status >= 500
    headers.append((b"x-should-retry", b"true" if retryable else b"false"))
    return JsonResponse(status, body, headers)


def stream_error_frame(error: SimulatorError) -> bytes:
    """A mid-stream error as OpenAI sends it: a ``data:`` chunk holding ``{"error": …}``."""
    return b"data: " + orjson.dumps({"error": error_payload(error)}) + b"\n\n"
