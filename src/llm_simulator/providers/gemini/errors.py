"""Google's error body: ``{"error": {"code", "message", "status"}}`` with canonical statuses."""

from __future__ import annotations

from typing import Any

import orjson

from llm_simulator.core.errors import ErrorKind, LimitHit, SimulatorError
from llm_simulator.core.http import JSON_CONTENT_TYPE, JsonResponse
from llm_simulator.core.sse import sse_frame
from llm_simulator.providers.google_rpc import CANONICAL, CANONICAL_FOR_HTTP

# Google's answers to a bad or missing API key: (HTTP status, canonical status, message).
_KEY_ERRORS: dict[str, tuple[int, str, str]] = {
    "invalid_api_key": (400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key."),
    "missing_api_key": (
        403,
        "PERMISSION_DENIED",
        "Method doesn't allow unregistered callers (callers without established identity). Please use API Key "
        "or other form of API consumer identity to call this API.",
    ),
}


def _key_error(error: SimulatorError) -> tuple[int, str, str] | None:
    if error.kind is ErrorKind.AUTHENTICATION and error.code is not None:
        return _KEY_ERRORS.get(error.code)
    return None


def error_code(error: SimulatorError) -> int:
    """The HTTP status Google uses for ``error`` (an explicitly chosen status wins)."""
    code, _ = CANONICAL[error.kind]
    key = _key_error(error)
    if key is not None and not error.explicit_status:
        return key[0]
    return error.status if error.explicit_status else code


_QUOTA_TYPE = "type.googleapis.com/google.rpc.QuotaFailure"
_HELP_TYPE = "type.googleapis.com/google.rpc.Help"
_RETRY_TYPE = "type.googleapis.com/google.rpc.RetryInfo"
_METRIC = {
    "requests": "generate_content_requests",
    "tokens": "generate_content_token_count",
    "input_tokens": "generate_content_input_token_count",
    "output_tokens": "generate_content_output_token_count",
}
_QUOTA_ID = {
    "requests": "GenerateRequestsPer{window}PerProjectPerModel",
    "tokens": "GenerateContentTokensPer{window}PerProjectPerModel",
    "input_tokens": "GenerateContentInputTokensPer{window}PerProjectPerModel",
    "output_tokens": "GenerateContentOutputTokensPer{window}PerProjectPerModel",
}


def proto_duration(seconds: float) -> str:
    """A ``google.protobuf.Duration`` in JSON: seconds with at most millisecond digits, then ``s``."""
    text = f"{max(0.0, seconds):.3f}".rstrip("0").rstrip(".")
    return text + "s"


def limit_message(hit: LimitHit, retry_after_s: float | None) -> str:
    """Google's quota message, naming the metric, the limit and the model."""
    wait = f"\nPlease retry in {proto_duration(retry_after_s)}." if retry_after_s is not None else ""
    return (
        "You exceeded your current quota, please check your plan and billing details. For more information "
        "on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.\n"
        f"* Quota exceeded for metric: generativelanguage.googleapis.com/{_METRIC[hit.resource]}, "
        f"limit: {hit.limit}, model: {hit.model}{wait}"
    )


def error_details(error: SimulatorError) -> list[dict[str, Any]]:
    """``details`` of a quota refusal: which quota (``QuotaFailure``), where to read, when to retry."""
    details: list[dict[str, Any]] = []
    hit = error.limit
    if hit is not None:
        window = "Minute" if hit.window == "minute" else "Day"
        violation = {
            "quotaMetric": f"generativelanguage.googleapis.com/{_METRIC[hit.resource]}",
            "quotaId": _QUOTA_ID[hit.resource].format(window=window),
            "quotaDimensions": {"location": "global", "model": hit.model},
            "quotaValue": str(hit.limit),
        }
        details.append({"@type": _QUOTA_TYPE, "violations": [violation]})
        details.append(
            {
                "@type": _HELP_TYPE,
                "links": [
                    {
                        "description": "Learn more about Gemini API quotas",
                        "url": "https://ai.google.dev/gemini-api/docs/rate-limits",
                    }
                ],
            }
        )
    if error.retry_after_s is not None:
        details.append({"@type": _RETRY_TYPE, "retryDelay": proto_duration(error.retry_after_s)})
    return details


def error_body(error: SimulatorError) -> bytes:
    """The JSON error object; ``error`` is the first (only) key, as the SDK's stream check needs."""
    code, status = CANONICAL[error.kind]
    if error.explicit_status and error.status != code and error.kind is ErrorKind.OVERLOADED:
        status = CANONICAL_FOR_HTTP.get(error.status, status)
    message = limit_message(error.limit, error.retry_after_s) if error.limit is not None else error.message
    key = _key_error(error)
    if key is not None:
        _, status, wording = key
        message = error.message if error.explicit_message else wording
    inner: dict[str, Any] = {"code": error_code(error), "message": message, "status": status}
    details = error_details(error)
    if error.code == "invalid_api_key" and key is not None:
        details.append(
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "API_KEY_INVALID",
                "domain": "googleapis.com",
                "metadata": {"service": "generativelanguage.googleapis.com"},
            }
        )
    if details:
        inner["details"] = details
    return orjson.dumps({"error": inner})


def render_error(error: SimulatorError, request_id: str) -> JsonResponse:
    """The complete Google-shaped error response."""
    return JsonResponse(error_code(error), error_body(error), [JSON_CONTENT_TYPE])


def sse_error_frame(error: SimulatorError) -> bytes:
    """A mid-stream error in ``alt=sse`` mode: a data line whose JSON starts with ``{"error":``."""
    return sse_frame(error_body(error))
