"""The AWS event-stream codec against botocore's own parser, and its refusals of broken framing."""

from __future__ import annotations

import struct
import zlib

import pytest
from botocore.eventstream import ChecksumMismatch, EventStreamBuffer

from llm_simulator.wire.eventstream import (
    EventStreamDecoder,
    EventStreamError,
    decode_headers,
    encode_headers,
    encode_message,
)

HEADERS = ((":event-type", "contentBlockDelta"), (":content-type", "application/json"), (":message-type", "event"))
PAYLOAD = '{"contentBlockIndex":0,"delta":{"text":"héllo"}}'.encode()


def test_botocore_parses_what_the_encoder_writes() -> None:
    frames = encode_message(encode_headers(HEADERS), PAYLOAD) + encode_message(encode_headers(HEADERS[:1]), b"")
    buffer = EventStreamBuffer()
    buffer.add_data(frames)
    messages = list(buffer)
    assert [m.headers for m in messages] == [dict(HEADERS), dict(HEADERS[:1])]
    assert [m.payload for m in messages] == [PAYLOAD, b""]


def test_prelude_lengths_and_crcs_are_as_specified() -> None:
    header_block = encode_headers(HEADERS)
    frame = encode_message(header_block, PAYLOAD)
    total, headers_length, prelude_crc = struct.unpack(">III", frame[:12])
    assert total == len(frame) == 12 + len(header_block) + len(PAYLOAD) + 4
    assert headers_length == len(header_block)
    assert prelude_crc == zlib.crc32(frame[:8])
    assert struct.unpack(">I", frame[-4:])[0] == zlib.crc32(frame[:-4])


def test_decoder_reassembles_messages_split_anywhere() -> None:
    frames = encode_message(encode_headers(HEADERS), PAYLOAD) * 3
    for cut in (1, 7, 12, 30, len(frames) - 1):
        decoder = EventStreamDecoder()
        messages = decoder.feed(frames[:cut]) + decoder.feed(frames[cut:])
        assert [m.payload for m in messages] == [PAYLOAD] * 3
        assert messages[0].event_type == "contentBlockDelta"
        assert messages[0].message_type == "event"
        assert decoder.pending == 0


def test_a_cut_message_stays_pending() -> None:
    frame = encode_message(encode_headers(HEADERS), PAYLOAD)
    decoder = EventStreamDecoder()
    assert decoder.feed(frame[:-5]) == []
    assert decoder.pending == len(frame) - 5


def test_a_corrupted_message_fails_both_decoders() -> None:
    frame = bytearray(encode_message(encode_headers(HEADERS), PAYLOAD))
    frame[-6] ^= 0xFF  # a payload byte
    with pytest.raises(EventStreamError, match="message CRC"):
        EventStreamDecoder().feed(bytes(frame))
    buffer = EventStreamBuffer()
    buffer.add_data(bytes(frame))
    with pytest.raises(ChecksumMismatch):
        list(buffer)


def test_a_corrupted_prelude_is_refused() -> None:
    frame = bytearray(encode_message(encode_headers(HEADERS), PAYLOAD))
    frame[2] ^= 0x01
    with pytest.raises(EventStreamError, match="prelude CRC"):
        EventStreamDecoder().feed(bytes(frame))


def test_exception_messages_name_their_exception() -> None:
    headers = ((":exception-type", "throttlingException"), (":message-type", "exception"))
    (message,) = EventStreamDecoder().feed(encode_message(encode_headers(headers), b'{"message":"slow down"}'))
    assert message.message_type == "exception"
    assert message.event_type == "throttlingException"


def test_other_header_value_types_decode() -> None:
    block = b"\x01a\x04" + struct.pack(">i", -5) + b"\x01b\x00" + b"\x01c\x06" + struct.pack(">H", 2) + b"\x00\x01"
    assert decode_headers(block) == {"a": -5, "b": True, "c": b"\x00\x01"}
    with pytest.raises(EventStreamError, match="unknown value type"):
        decode_headers(b"\x01a\x0f")
