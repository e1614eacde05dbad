"""OpenAI's error body: ``{"error": {"message", "type", "param", "code"}}``."""

from __future__ import annotations

import orjson

from llm_simulator.core.errors import ErrorKind, LimitHit, SimulatorError
from llm_simulator.core.http import JSON_CONTENT_TYPE, JsonResponse
from llm_simulator.core.sse import sse_frame
from llm_simulator.providers.retry_hints import duration_text, retry_after_headers

_ABBREVIATION = {("requests", "minute"): "RPM", ("tokens", "minute"): "TPM", ("requests", "day"): "RPD"}

_TYPE: dict[ErrorKind, str] = {
    ErrorKind.INVALID_REQUEST: "invalid_request_error",
    ErrorKind.AUTHENTICATION: "invalid_request_error",  # what OpenAI sends with its 401s
    ErrorKind.PERMISSION: "permission_error",
    ErrorKind.NOT_FOUND: "invalid_request_error",
    ErrorKind.METHOD_NOT_ALLOWED: "invalid_request_error",
    ErrorKind.PAYLOAD_TOO_LARGE: "invalid_request_error",
    ErrorKind.CONTEXT_LENGTH: "invalid_request_error",
    ErrorKind.RATE_LIMIT: "requests",
    ErrorKind.QUOTA_EXHAUSTED: "insufficient_quota",
    ErrorKind.CONTENT_FILTER: "invalid_request_error",
    ErrorKind.SERVER_ERROR: "server_error",
    ErrorKind.BAD_GATEWAY: "server_error",
    ErrorKind.OVERLOADED: "server_error",
    ErrorKind.UNAVAILABLE: "server_error",
    ErrorKind.TIMEOUT: "timeout",
}


def limit_message(hit: LimitHit, retry_after_s: float | None) -> str:
    """OpenAI's rate-limit message, naming the limit, the usage and when to retry.

    A request larger than the whole budget (no retry hint: no wait can help it) gets
    OpenAI's "Request too large" wording.
    """
    resource = "requests" if hit.resource == "requests" else "tokens"
    window = "min" if hit.window == "minute" else "day"
    abbreviation = _ABBREVIATION.get((resource, hit.window), "TPD")
    org = hit.key if hit.key.startswith("org-") else "org-simulator"
    where = f"for {hit.model} in organization {org} on {resource} per {window} ({abbreviation})"
    if retry_after_s is None and hit.requested > hit.limit:
        return (
            f"Request too large {where}: Limit {hit.limit}, Requested {hit.requested}. The input or output "
            "tokens must be reduced in order to run successfully. "
            "Visit https://platform.openai.com/account/rate-limits to learn more."
        )
    wait = f" Please try again in {duration_text(retry_after_s)}." if retry_after_s is not None else ""
    return (
        f"Rate limit reached {where}: Limit {hit.limit}, Used {hit.used}, Requested {hit.requested}.{wait} "
        "Visit https://platform.openai.com/account/rate-limits to learn more."
    )


def error_payload(error: SimulatorError) -> dict[str, object]:
    """The inner ``error`` object; a rate-limit refusal's type names the resource, as OpenAI's does."""
    hit = error.limit
    if hit is not None:
        return {
            "message": limit_message(hit, error.retry_after_s),
            "type": "requests" if hit.resource == "requests" else "tokens",
            "param": None,
            "code": error.code or "rate_limit_exceeded",
        }
    return {
        "message": error.message,
        "type": _TYPE[error.kind],
        "param": error.param,
        "code": error.code,
    }


def error_status(error: SimulatorError) -> int:
    """OpenAI's HTTP status for ``error``: an overloaded engine is a 503 (529 is Anthropic's)."""
    if error.kind is ErrorKind.OVERLOADED and not error.explicit_status:
        return 503
    return error.status


def render_error(error: SimulatorError, request_id: str) -> JsonResponse:
    """The complete OpenAI-shaped error response."""
    body = orjson.dumps({"error": error_payload(error)})
    headers = [JSON_CONTENT_TYPE, (b"x-request-id", request_id.encode())]
    status = error_status(error)
    # OpenAI tells clients explicitly whether a retry can help.
    retryable = error.should_retry
    if retryable is None:
        retryable = status in (408, 409, 429) or status >= 500
    headers.append((b"x-should-retry", b"true" if retryable else b"false"))
    if error.retry_after_s is not None:
        headers.extend(retry_after_headers(error.retry_after_s))
    return JsonResponse(status, body, headers)


def stream_error_frame(error: SimulatorError) -> bytes:
    """A mid-stream error as OpenAI sends it: a ``data:`` chunk holding ``{"error": …}``."""
    return sse_frame(orjson.dumps({"error": error_payload(error)}))
