"""What an uploaded image is, read from its header: PNG, JPEG or WebP, its size, whether it has alpha.

Only the headers are read (no pixels are decoded), which is all the image endpoints check:
the format, the dimensions (square, equal to the mask's) and transparency.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from llm_simulator.infra.media import PNG_SIGNATURE

# JPEG start-of-frame markers (baseline, progressive, lossless…): they carry the dimensions.
_JPEG_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
# PNG colour types with an alpha channel: grey + alpha, RGBA.
_PNG_ALPHA_TYPES = (4, 6)


@dataclass(frozen=True, slots=True)
class ImageInfo:
    """An image's format (``png``, ``jpeg`` or ``webp``), size in pixels and whether it has transparency."""

    format: str
    width: int
    height: int
    alpha: bool


def _png(data: bytes) -> ImageInfo | None:
    if len(data) < 33 or data[12:16] != b"IHDR":
        return None
    width, height, _depth, colour = struct.unpack(">IIBB", data[16:26])
    alpha = colour in _PNG_ALPHA_TYPES
    pos = 33  # past IHDR: a tRNS chunk before the image data also makes pixels transparent
    while not alpha and pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if kind == b"IDAT":
            break
        alpha = kind == b"tRNS"
        pos += 12 + length
    return ImageInfo("png", width, height, alpha) if width and height else None


def _jpeg(data: bytes) -> ImageInfo | None:
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # markers without a length
            pos += 2
            continue
        length = struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        if marker in _JPEG_SOF:
            if pos + 9 > len(data):
                return None
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            return ImageInfo("jpeg", width, height, False) if width and height else None
        if marker == 0xD9 or length < 2:
            return None
        pos += 2 + length
    return None


def _webp(data: bytes) -> ImageInfo | None:
    kind, body = data[12:16], data[20:]
    if kind == b"VP8 " and len(body) >= 10 and body[3:6] == b"\x9d\x01\x2a":
        width, height = struct.unpack("<HH", body[6:10])
        return ImageInfo("webp", width & 0x3FFF, height & 0x3FFF, False)
    if kind == b"VP8L" and len(body) >= 5 and body[0] == 0x2F:
        bits = int.from_bytes(body[1:5], "little")
        return ImageInfo("webp", (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1, bool(bits >> 28 & 1))
    if kind == b"VP8X" and len(body) >= 10:
        width = int.from_bytes(body[4:7], "little") + 1
        height = int.from_bytes(body[7:10], "little") + 1
        return ImageInfo("webp", width, height, bool(body[0] & 0x10))
    return None


def probe(data: bytes) -> ImageInfo | None:
    """The image in ``data``, or None when it is no PNG, JPEG or WebP (or its header is broken)."""
    if data.startswith(PNG_SIGNATURE):
        return _png(data)
    if data.startswith(b"\xff\xd8\xff"):
        return _jpeg(data)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _webp(data)
    return None
