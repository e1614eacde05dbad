"""Event-stream frames of Bedrock's streaming responses: events, the response headers, the broken frame.

Every event of a stream carries the same three headers but its ``:event-type``, so each
type's header block is encoded once (``HEADER_BLOCKS``) and a frame costs one payload
encoding and the CRCs.
"""

from __future__ import annotations

import base64

from llm_simulator.core.http import Headers, HttpRequest
from llm_simulator.wire.eventstream import CONTENT_TYPE, UINT32, encode_headers, encode_message

EVENT_TYPES = (
    "messageStart",
    "contentBlockStart",
    "contentBlockDelta",
    "contentBlockStop",
    "messageStop",
    "metadata",
    "chunk",
)
HEADER_BLOCKS: dict[str, bytes] = {
    name: encode_headers(((":event-type", name), (":content-type", "application/json"), (":message-type", "event")))
    for name in EVENT_TYPES
}


def event_frame(event_type: str, payload: bytes) -> bytes:
    """One ``:message-type: event`` message of ``event_type`` carrying the JSON ``payload``."""
    return encode_message(HEADER_BLOCKS[event_type], payload)


def _corrupted(frame: bytes) -> bytes:
    """``frame`` with its message CRC off by one: the framing holds, the checksum fails."""
    (crc,) = UINT32.unpack_from(frame, len(frame) - 4)
    return frame[:-4] + UINT32.pack((crc + 1) & 0xFFFFFFFF)


# What a chaos ``malformed`` fault sends: a delta whose message CRC does not match (botocore
# raises ChecksumMismatch on it; the load generator counts a malformed chunk).
MALFORMED_FRAME = _corrupted(event_frame("contentBlockDelta", b'{"contentBlockIndex":0,"delta":{"text":"tr"}}'))


def stream_headers(request: HttpRequest, *extra: tuple[bytes, bytes]) -> Headers:
    """Headers of an event-stream response (the server appends ``x-request-id``)."""
    return [
        (b"content-type", CONTENT_TYPE.encode()),
        (b"x-amzn-requestid", request.request_id.encode()),
        *extra,
    ]


def json_headers(request: HttpRequest, content_type: bytes = b"application/json") -> Headers:
    """Headers of a complete JSON answer."""
    return [(b"content-type", content_type), (b"x-amzn-requestid", request.request_id.encode())]


def chunk_frame(payload: bytes) -> bytes:
    """An InvokeModelWithResponseStream ``chunk``: ``{"bytes": base64(payload)}``, the model's own JSON inside."""
    return event_frame("chunk", b'{"bytes":"' + base64.b64encode(payload) + b'"}')


def invocation_metrics(prompt_tokens: int, output_tokens: int, latency_s: float, first_byte_s: float) -> dict[str, int]:
    """``amazon-bedrock-invocationMetrics``, which Bedrock adds to the last chunk of every family."""
    return {
        "inputTokenCount": prompt_tokens,
        "outputTokenCount": output_tokens,
        "invocationLatency": round(latency_s * 1000),
        "firstByteLatency": round(first_byte_s * 1000),
    }


def invoke_headers(request: HttpRequest, prompt_tokens: int, output_tokens: int, latency_s: float) -> Headers:
    """Headers of a complete InvokeModel answer: Bedrock reports the token counts and latency in them."""
    return [
        *json_headers(request),
        (b"x-amzn-bedrock-input-token-count", b"%d" % prompt_tokens),
        (b"x-amzn-bedrock-output-token-count", b"%d" % output_tokens),
        (b"x-amzn-bedrock-invocation-latency", b"%d" % round(latency_s * 1000)),
    ]
