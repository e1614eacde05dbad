"""The AWS event-stream framing (``application/vnd.amazon.eventstream``), both ways.

Bedrock's streaming operations (ConverseStream, InvokeModelWithResponseStream) send binary
messages, not SSE. One message is::

    prelude   total length (uint32 BE), headers length (uint32 BE)
    prelude CRC32 of those 8 bytes (uint32 BE)
    headers   per header: name length (uint8), name, value type (uint8), value
              (type 7, a string: length uint16 BE, then the UTF-8 bytes)
    payload   (JSON for Bedrock)
    message CRC32 of everything before it (uint32 BE)

so ``total = 12 + headers + payload + 4``. The simulator encodes (``encode_message``); the
load generator and the tests decode (``EventStreamDecoder``), checking both CRCs as botocore
does. Only string headers are written; the decoder reads the other value types too.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

CONTENT_TYPE = "application/vnd.amazon.eventstream"
PRELUDE = struct.Struct(">II")
UINT32 = struct.Struct(">I")
PRELUDE_BYTES = 12  # the two lengths and their CRC
CRC_BYTES = 4
STRING_TYPE = 7
# botocore refuses larger messages and headers; so does the decoder.
MAX_MESSAGE_BYTES = 16 * 1024 * 1024
MAX_HEADERS_BYTES = 128 * 1024
# Fixed widths of the header value types (0/1 are true/false with no bytes; 6 and 7 are
# length-prefixed byte arrays and strings).
_FIXED_WIDTH = {0: 0, 1: 0, 2: 1, 3: 2, 4: 4, 5: 8, 8: 8, 9: 16}


class EventStreamError(ValueError):
    """A message whose framing is broken: a bad length, a CRC mismatch, an unknown header type."""


def encode_headers(headers: tuple[tuple[str, str], ...]) -> bytes:
    """The header block of string-valued ``headers`` (name, value), in order."""
    out = bytearray()
    for name, value in headers:
        raw_name = name.encode()
        raw_value = value.encode()
        out += bytes((len(raw_name),)) + raw_name + bytes((STRING_TYPE,)) + struct.pack(">H", len(raw_value))
        out += raw_value
    return bytes(out)


def encode_message(header_block: bytes, payload: bytes) -> bytes:
    """One framed message from an encoded header block (``encode_headers``) and a payload.

    The prelude CRC covers the two lengths; the message CRC covers everything before it,
    computed incrementally from the prelude CRC's running value (``zlib.crc32``'s second
    argument) so the message is never copied to be checked.
    """
    total = PRELUDE_BYTES + len(header_block) + len(payload) + CRC_BYTES
    prelude = PRELUDE.pack(total, len(header_block))
    prelude_crc = UINT32.pack(zlib.crc32(prelude))
    crc = zlib.crc32(payload, zlib.crc32(header_block, zlib.crc32(prelude_crc, zlib.crc32(prelude))))
    return prelude + prelude_crc + header_block + payload + UINT32.pack(crc)


@dataclass(frozen=True, slots=True)
class EventMessage:
    """One decoded message: its headers (``:event-type``, ``:message-type``…) and payload."""

    headers: dict[str, object]
    payload: bytes

    @property
    def message_type(self) -> str:
        """``event``, ``exception`` or ``error``."""
        return str(self.headers.get(":message-type", ""))

    @property
    def event_type(self) -> str:
        """The event's name (``contentBlockDelta``, ``chunk``…), or the exception's for an exception."""
        if self.message_type == "exception":
            return str(self.headers.get(":exception-type", ""))
        return str(self.headers.get(":event-type", ""))


def decode_headers(block: bytes) -> dict[str, object]:
    """The headers of one message (strings decoded, byte arrays kept, integers as int)."""
    headers: dict[str, object] = {}
    i = 0
    while i < len(block):
        size = block[i]
        name = block[i + 1 : i + 1 + size].decode()
        i += 1 + size
        if i >= len(block):
            raise EventStreamError(f"header {name!r} has no value type")
        kind = block[i]
        i += 1
        if kind in (6, STRING_TYPE):
            (length,) = struct.unpack_from(">H", block, i)
            raw = block[i + 2 : i + 2 + length]
            headers[name] = raw.decode() if kind == STRING_TYPE else raw
            i += 2 + length
        elif kind in _FIXED_WIDTH:
            width = _FIXED_WIDTH[kind]
            raw = block[i : i + width]
            headers[name] = kind == 0 if kind in (0, 1) else int.from_bytes(raw, "big", signed=kind != 9)
            i += width
        else:
            raise EventStreamError(f"header {name!r} has unknown value type {kind}")
    if i != len(block):
        raise EventStreamError("the header block overruns its length")
    return headers


class EventStreamDecoder:
    """Reassembles messages from bytes arriving in arbitrary pieces (``feed``), checking CRCs.

    A stream repeats a handful of header blocks (one per event type), so each distinct block
    is parsed once and its dict shared by the messages carrying it (never mutate it).
    """

    __slots__ = ("_buffer", "_headers")

    def __init__(self) -> None:
        self._buffer = b""
        self._headers: dict[bytes, dict[str, object]] = {}

    def feed(self, data: bytes) -> list[EventMessage]:
        """Every message completed by ``data`` (none if it ends mid-message)."""
        buffer = self._buffer + data if self._buffer else data
        messages: list[EventMessage] = []
        pos = 0
        end = len(buffer)
        while end - pos >= PRELUDE_BYTES:
            total, headers_length = PRELUDE.unpack_from(buffer, pos)
            (prelude_crc,) = UINT32.unpack_from(buffer, pos + 8)
            if zlib.crc32(buffer[pos : pos + 8]) != prelude_crc:
                raise EventStreamError("prelude CRC mismatch")
            if total > MAX_MESSAGE_BYTES or headers_length > MAX_HEADERS_BYTES:
                raise EventStreamError(f"message of {total} bytes ({headers_length} of headers) is too large")
            if total < PRELUDE_BYTES + headers_length + CRC_BYTES:
                raise EventStreamError(f"message length {total} is shorter than its headers")
            if end - pos < total:
                break
            body_end = pos + total - CRC_BYTES
            (crc,) = UINT32.unpack_from(buffer, body_end)
            if zlib.crc32(buffer[pos:body_end]) != crc:
                raise EventStreamError("message CRC mismatch")
            payload_start = pos + PRELUDE_BYTES + headers_length
            block = buffer[pos + PRELUDE_BYTES : payload_start]
            headers = self._headers.get(block)
            if headers is None:
                headers = self._headers[block] = decode_headers(block)
            messages.append(EventMessage(headers, buffer[payload_start:body_end]))
            pos += total
        self._buffer = buffer[pos:]
        return messages

    @property
    def pending(self) -> int:
        """Bytes received but not yet part of a whole message (non-zero at the end: a cut message)."""
        return len(self._buffer)
