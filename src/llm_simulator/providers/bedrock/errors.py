"""Bedrock's errors: ``{"message": ...}`` named by ``x-amzn-ErrorType``, and event-stream exceptions.

botocore's rest-json parser takes the error code from the ``x-amzn-ErrorType`` header (up
to the first ``:``) and the text from the body's ``message``; boto3 then raises
``client.exceptions.<Code>``. Inside an event stream an error is a message with
``:message-type: exception`` and ``:exception-type`` naming the stream's member
(``throttlingException``…), which botocore raises as ``EventStreamError``.
"""

from __future__ import annotations

import orjson

from llm_simulator.core.errors import ErrorKind, SimulatorError
from llm_simulator.core.http import JSON_CONTENT_TYPE, JsonResponse
from llm_simulator.engine.chaos.failures import FAILURES
from llm_simulator.providers.retry_hints import retry_after_headers
from llm_simulator.wire.eventstream import encode_headers, encode_message

# Bedrock's own text of a throttled request, and the neutral text of a chaos ``rate_limit`` it replaces.
THROTTLED = "Too many requests, please wait before trying again."
_CHAOS_RATE_LIMIT = FAILURES["rate_limit"].message
# (exception name, HTTP status) per neutral kind, as the Bedrock runtime's model declares them.
_EXCEPTIONS: dict[ErrorKind, tuple[str, int]] = {
    ErrorKind.INVALID_REQUEST: ("ValidationException", 400),
    ErrorKind.AUTHENTICATION: ("UnrecognizedClientException", 403),
    ErrorKind.PERMISSION: ("AccessDeniedException", 403),
    ErrorKind.NOT_FOUND: ("ResourceNotFoundException", 404),
    ErrorKind.METHOD_NOT_ALLOWED: ("ValidationException", 405),
    ErrorKind.PAYLOAD_TOO_LARGE: ("ValidationException", 413),
    ErrorKind.CONTEXT_LENGTH: ("ValidationException", 400),
    ErrorKind.RATE_LIMIT: ("ThrottlingException", 429),
    ErrorKind.QUOTA_EXHAUSTED: ("ServiceQuotaExceededException", 400),
    ErrorKind.CONTENT_FILTER: ("ValidationException", 400),
    ErrorKind.SERVER_ERROR: ("InternalServerException", 500),
    ErrorKind.BAD_GATEWAY: ("ModelErrorException", 424),
    ErrorKind.OVERLOADED: ("ModelNotReadyException", 429),
    ErrorKind.UNAVAILABLE: ("ServiceUnavailableException", 503),
    ErrorKind.TIMEOUT: ("ModelTimeoutException", 408),
}
# Codes a raiser may pick itself (the SigV4 check's refusals); any other code is a neutral one.
_AWS_CODES = frozenset(
    {
        "IncompleteSignatureException",
        "InvalidSignatureException",
        "MissingAuthenticationTokenException",
        "UnrecognizedClientException",
    }
)
# The members an error may take inside a stream (ConverseStreamOutput, ResponseStream).
_STREAM_EXCEPTIONS: dict[ErrorKind, str] = {
    ErrorKind.RATE_LIMIT: "throttlingException",
    ErrorKind.QUOTA_EXHAUSTED: "throttlingException",
    ErrorKind.OVERLOADED: "serviceUnavailableException",
    ErrorKind.UNAVAILABLE: "serviceUnavailableException",
    ErrorKind.INVALID_REQUEST: "validationException",
    ErrorKind.CONTEXT_LENGTH: "validationException",
    ErrorKind.CONTENT_FILTER: "validationException",
    ErrorKind.TIMEOUT: "modelStreamErrorException",
    ErrorKind.BAD_GATEWAY: "modelStreamErrorException",
}
_NAMESPACE = ":http://internal.amazon.com/coral/com.amazon.bedrock/"


def exception_name(error: SimulatorError) -> str:
    """The AWS exception ``error`` is sent as (``ThrottlingException``…)."""
    if error.code in _AWS_CODES:
        return error.code
    return _EXCEPTIONS[error.kind][0]


def error_status(error: SimulatorError) -> int:
    """The HTTP status (an explicitly chosen one wins, else the exception's own)."""
    return error.status if error.explicit_status else _EXCEPTIONS[error.kind][1]


def error_message(error: SimulatorError) -> str:
    """The ``message``: a rate limit in Bedrock's wording, otherwise the error's own text.

    A rate-limit tier's refusal and a chaos ``rate_limit`` with its default text alike (a
    chaos rule that words its own message keeps it).
    """
    if error.limit is not None or (error.kind is ErrorKind.RATE_LIMIT and error.message == _CHAOS_RATE_LIMIT):
        return THROTTLED
    return error.message


def render_error(error: SimulatorError, request_id: str) -> JsonResponse:
    """The whole error response: status, ``x-amzn-ErrorType``, ``x-amzn-RequestId``, ``{"message"}``."""
    name = exception_name(error)
    headers = [
        JSON_CONTENT_TYPE,
        (b"x-amzn-errortype", (name + _NAMESPACE).encode()),
        (b"x-amzn-requestid", request_id.encode()),
    ]
    if error.retry_after_s is not None:
        headers.extend(retry_after_headers(error.retry_after_s))
    return JsonResponse(error_status(error), orjson.dumps({"message": error_message(error)}), headers)


def stream_exception(error: SimulatorError) -> bytes:
    """An exception message inside an event stream (the stream's member for ``error``'s kind)."""
    name = _STREAM_EXCEPTIONS.get(error.kind, "internalServerException")
    header_block = encode_headers(
        ((":exception-type", name), (":content-type", "application/json"), (":message-type", "exception"))
    )
    return encode_message(header_block, orjson.dumps({"message": error_message(error)}))
