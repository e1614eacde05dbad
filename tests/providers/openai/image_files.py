"""Image uploads for the image-endpoint tests, built here from the format specs (not by the simulator).

The endpoints read headers only, so the JPEG and WebP files are headers with a token body.
"""

from __future__ import annotations

import struct
import zlib

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png(width: int, height: int, *, alpha: bool = False, trns: bool = False, padding: int = 0) -> bytes:
    """A PNG of one colour: RGBA with ``alpha``; RGB with a ``tRNS`` chunk with ``trns``; ``padding`` extra bytes."""
    channels = 4 if alpha else 3
    rows = b"".join(b"\x00" + b"\x80" * (width * channels) for _ in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 6 if alpha else 2, 0, 0, 0)
    extra = _chunk(b"tRNS", b"\x00\x00\x00\x00\x00\x00") if trns else b""
    junk = _chunk(b"zzZz", bytes(padding)) if padding else b""
    idat = _chunk(b"IDAT", zlib.compress(rows))
    return PNG_SIGNATURE + _chunk(b"IHDR", ihdr) + extra + junk + idat + _chunk(b"IEND", b"")


def jpeg(width: int, height: int, marker: int = 0xC0) -> bytes:
    """JPEG headers: SOI, a JFIF APP0 segment, then a start-of-frame (``marker``) with the size."""
    app0 = b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof = struct.pack(">BHHB", 8, height, width, 3) + b"\x01\x22\x00\x02\x11\x01\x03\x11\x01"
    return (
        b"\xff\xd8"
        + b"\xff\xe0" + struct.pack(">H", len(app0) + 2) + app0
        + bytes((0xFF, marker)) + struct.pack(">H", len(sof) + 2) + sof
        + b"\xff\xd9"
    )  # fmt: skip


def _riff(kind: bytes, body: bytes) -> bytes:
    chunk = kind + struct.pack("<I", len(body)) + body
    return b"RIFF" + struct.pack("<I", 4 + len(chunk)) + b"WEBP" + chunk


def webp_lossy(width: int, height: int) -> bytes:
    """A ``VP8 `` WebP header: frame tag, start code, 14-bit width and height."""
    return _riff(b"VP8 ", b"\x9d\x01\x00" + b"\x9d\x01\x2a" + struct.pack("<HH", width, height) + bytes(8))


def webp_lossless(width: int, height: int, alpha: bool) -> bytes:
    """A ``VP8L`` WebP header: signature 0x2F, then (width - 1), (height - 1), the alpha bit."""
    bits = (width - 1) | ((height - 1) << 14) | (int(alpha) << 28)
    return _riff(b"VP8L", b"\x2f" + bits.to_bytes(4, "little") + bytes(8))


def webp_extended(width: int, height: int, alpha: bool) -> bytes:
    """A ``VP8X`` WebP header: flags (0x10: alpha), then 24-bit (width - 1) and (height - 1)."""
    body = (
        bytes((0x10 if alpha else 0, 0, 0, 0)) + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    )
    return _riff(b"VP8X", body)
