"""Small, valid media files built with the standard library: PNG images, WAV/PCM and MP3 audio."""

from __future__ import annotations

import struct
import zlib

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# OpenAI's speech output: 24 kHz, 16-bit, mono.
SAMPLE_RATE = 24_000
# One MPEG-1 Layer III frame at 32 kbit/s, 24 kHz is impossible (24 kHz is MPEG-2); the
# frames below are MPEG-1 Layer III, 48 kHz, 32 kbit/s, mono: 1152 samples, 96 bytes each.
MP3_SAMPLE_RATE = 48_000
MP3_SAMPLES_PER_FRAME = 1152
_MP3_HEADER = bytes((0xFF, 0xFB, 0x14, 0xC4))  # sync, MPEG-1, Layer III, no CRC, 32 kbit/s, 48 kHz, mono
MP3_FRAME_BYTES = 144 * 32_000 // MP3_SAMPLE_RATE


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png(width: int, height: int, seed: int, alpha: bool = False) -> bytes:
    """An RGB PNG of ``width`` × ``height``: horizontal bands in two colours drawn from ``seed``.

    With ``alpha`` it is RGBA and every other band is fully transparent (a "transparent
    background").
    """
    a = bytes(((seed >> 0) & 0xFF, (seed >> 8) & 0xFF, (seed >> 16) & 0xFF))
    b = bytes(((seed >> 24) & 0xFF, (seed >> 32) & 0xFF, (seed >> 40) & 0xFF))
    if alpha:
        a, b = a + b"\xff", b + b"\x00"
    band = max(1, height // 8)
    rows = [b"\x00" + (a if (y // band) % 2 == 0 else b) * width for y in range(height)]
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 6 if alpha else 2, 0, 0, 0)
    idat = zlib.compress(b"".join(rows), 6)
    return PNG_SIGNATURE + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def pcm(seconds: float, seed: int, sample_rate: int = SAMPLE_RATE) -> bytes:
    """Raw 16-bit little-endian mono samples: a quiet, deterministic hum of ``seconds``."""
    count = max(1, round(seconds * sample_rate))
    period = 40 + seed % 60  # samples per cycle of a triangle wave (a few hundred Hz)
    cycle = [((i if i < period // 2 else period - i) * 400 // period) - 100 for i in range(period)]
    whole, rest = divmod(count, period)
    samples = cycle * whole + cycle[:rest]
    return struct.pack(f"<{count}h", *samples)


def wav(seconds: float, seed: int, sample_rate: int = SAMPLE_RATE) -> bytes:
    """A RIFF/WAVE file (PCM, 16-bit, mono) of ``seconds``."""
    data = pcm(seconds, seed, sample_rate)
    fmt = struct.pack("<HHIIHH", 1, 1, sample_rate, sample_rate * 2, 2, 16)
    return (
        b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVE"
        + b"fmt " + struct.pack("<I", len(fmt)) + fmt
        + b"data" + struct.pack("<I", len(data)) + data
    )  # fmt: skip


def mp3(seconds: float) -> bytes:
    """Silent MPEG-1 Layer III frames (48 kHz, 32 kbit/s, mono) lasting at least ``seconds``.

    Each frame is a header and zeroed side information and main data: every decoder reads
    that as silence.
    """
    frames = max(1, -(-round(seconds * MP3_SAMPLE_RATE) // MP3_SAMPLES_PER_FRAME))
    frame = _MP3_HEADER + bytes(MP3_FRAME_BYTES - len(_MP3_HEADER))
    return frame * frames
