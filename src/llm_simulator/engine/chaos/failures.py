"""The error each chaos error type stands for, in neutral form (providers render it).

Messages follow the real services' wording where the wording is neutral enough to share;
a rule's own ``message`` and ``status_code`` replace them.
"""

from __future__ import annotations

from dataclasses import dataclass

from llm_simulator.core.errors import ErrorKind, SimulatorError

# A timeout rule without its own delay answers 504 after this long.
DEFAULT_TIMEOUT_DELAY_S = 10.0
# The retry hint of a simulated 429 without its own retry_after_s.
DEFAULT_RATE_LIMIT_RETRY_S = 1.0


@dataclass(frozen=True, slots=True)
class _Failure:
    kind: ErrorKind
    message: str
    code: str | None = None
    should_retry: bool | None = None


FAILURES: dict[str, _Failure] = {
    "rate_limit": _Failure(
        ErrorKind.RATE_LIMIT, "Rate limit reached for requests. Please try again later.", "rate_limit_exceeded"
    ),
    "quota_exhausted": _Failure(
        ErrorKind.QUOTA_EXHAUSTED,
        "You exceeded your current quota, please check your plan and billing details.",
        "insufficient_quota",
        should_retry=False,
    ),
    "overloaded": _Failure(ErrorKind.OVERLOADED, "The model is overloaded. Please try again later.", "overloaded"),
    "server_error": _Failure(
        ErrorKind.SERVER_ERROR,
        "The server had an error while processing your request. Sorry about that!",
        "server_error",
    ),
    "bad_gateway": _Failure(ErrorKind.BAD_GATEWAY, "Bad gateway.", "bad_gateway"),
    "unavailable": _Failure(
        ErrorKind.UNAVAILABLE, "The service is temporarily unavailable. Please try again later.", "service_unavailable"
    ),
    "timeout": _Failure(ErrorKind.TIMEOUT, "Request timed out.", "timeout"),
    "authentication": _Failure(ErrorKind.AUTHENTICATION, "Incorrect API key provided.", "invalid_api_key"),
    "permission": _Failure(
        ErrorKind.PERMISSION, "You are not allowed to use this model with this API key.", "permission_denied"
    ),
    "invalid_request": _Failure(ErrorKind.INVALID_REQUEST, "The request is invalid.", "invalid_request"),
    "context_length": _Failure(
        ErrorKind.CONTEXT_LENGTH,
        "This model's maximum context length was exceeded. Please reduce the length of the messages.",
        "context_length_exceeded",
    ),
    "content_filter": _Failure(
        ErrorKind.CONTENT_FILTER,
        "The response was filtered due to the prompt triggering the content management policy.",
        "content_filter",
    ),
}


def chaos_error(
    error_type: str,
    *,
    message: str | None = None,
    status: int | None = None,
    retry_after_s: float | None = None,
) -> SimulatorError:
    """The neutral error of ``error_type`` (not ``hang``, which is no response at all).

    An ``authentication`` rule with status 403 becomes a permission error, as the SDKs map
    403 to ``PermissionDeniedError``. A ``rate_limit`` gets a one-second retry hint unless
    the rule gives its own.
    """
    failure = FAILURES[error_type]
    if failure.kind is ErrorKind.AUTHENTICATION and status == 403:
        failure = FAILURES["permission"]
    kind = failure.kind
    if retry_after_s is None and kind is ErrorKind.RATE_LIMIT:
        retry_after_s = DEFAULT_RATE_LIMIT_RETRY_S
    error = SimulatorError(
        kind,
        message or failure.message,
        code=failure.code,
        status=status,
        retry_after_s=retry_after_s,
        should_retry=failure.should_retry,
    )
    error.explicit_message = message is not None
    return error
