"""Silent audio in FLAC, Ogg Opus and AAC (ADTS), built with the standard library.

No encoder is needed because silence has trivial encodings in each format:

- **FLAC**: every frame holds one CONSTANT subframe of value 0 (mono, 16-bit, 24 kHz,
  4096-sample blocks), with the header CRC-8 and frame CRC-16 the format requires, after a
  STREAMINFO block that states the exact sample count and the MD5 of the decoded samples.
- **Ogg Opus**: an ``OpusHead`` and an ``OpusTags`` page, then pages of 20 ms CELT
  packets that decode to silence (TOC ``0xF8``: CELT-only, fullband, 20 ms, mono, one
  frame), each page with the Ogg CRC-32; the last page's granule position trims the stream
  to the exact duration, as RFC 7845 allows.
- **AAC**: ADTS frames (MPEG-4 AAC-LC, 24 kHz, mono), each one single-channel element with
  no scale-factor bands (``max_sfb = 0``: no spectral data, so silence) and the END element.
"""

from __future__ import annotations

import hashlib
import struct
from functools import cache

FLAC_SAMPLE_RATE = 24_000
FLAC_BLOCK = 4096
OPUS_GRANULE_RATE = 48_000  # Ogg Opus granule positions always count 48 kHz samples
OPUS_PRE_SKIP = 312  # what libopus reports for its encoder delay at 48 kHz
OPUS_FRAME = 960  # 20 ms at 48 kHz
OPUS_SILENT_PACKET = b"\xf8\xff\xfe"
OPUS_PACKETS_PER_PAGE = 50  # one second of audio per page
AAC_SAMPLE_RATE = 24_000
AAC_FRAME = 1024  # samples per AAC-LC frame
# SCE(tag 0), global_gain 160, ics_info all zero but window_shape, max_sfb 0, no pulse/TNS/gain
# control data, then END (0b111): 32 bits exactly.
_AAC_SILENT_BLOCK = b"\x01\x40\x20\x07"
_AAC_RATE_INDEX = {96_000: 0, 88_200: 1, 64_000: 2, 48_000: 3, 44_100: 4, 32_000: 5, 24_000: 6, 22_050: 7}


def _samples(seconds: float, rate: int) -> int:
    return max(1, round(seconds * rate))


# -- FLAC ------------------------------------------------------------------------------------


@cache
def _crc8_table() -> tuple[int, ...]:
    """CRC-8 (polynomial x^8 + x^2 + x + 1, initial 0): FLAC's frame-header check."""
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
        table.append(crc)
    return tuple(table)


@cache
def _crc16_table() -> tuple[int, ...]:
    """CRC-16 (polynomial x^16 + x^15 + x^2 + 1, initial 0): FLAC's whole-frame check."""
    table = []
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x8005) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
        table.append(crc)
    return tuple(table)


def crc8(data: bytes) -> int:
    """FLAC's CRC-8 of ``data``."""
    table = _crc8_table()
    crc = 0
    for byte in data:
        crc = table[crc ^ byte]
    return crc


def crc16(data: bytes) -> int:
    """FLAC's CRC-16 of ``data``."""
    table = _crc16_table()
    crc = 0
    for byte in data:
        crc = ((crc << 8) & 0xFFFF) ^ table[(crc >> 8) ^ byte]
    return crc


def _utf8_number(value: int) -> bytes:
    """FLAC's "UTF-8" coding of a frame number (the UTF-8 scheme, extended to 36 bits)."""
    if value < 0x80:
        return bytes((value,))
    # Continuation bytes carry 6 bits each; a lead byte before n of them has 6 - n bits free.
    tail: list[int] = []
    while True:
        tail.insert(0, 0x80 | (value & 0x3F))
        value >>= 6
        if value < 1 << (6 - len(tail)):
            lead = (0xFF << (7 - len(tail))) & 0xFF
            return bytes((lead | value, *tail))


def _silence_md5(size: int) -> bytes:
    """The MD5 of ``size`` zero bytes (the decoded samples), without holding them all at once."""
    digest = hashlib.md5(usedforsecurity=False)
    chunk = bytes(min(size, 1 << 16))
    while size > 0:
        digest.update(chunk[:size])
        size -= len(chunk)
    return digest.digest()


def _flac_frame(number: int, block: int) -> bytes:
    """One mono 16-bit 24 kHz frame of ``block`` silent samples (a CONSTANT subframe of 0)."""
    if block == FLAC_BLOCK:
        size_code, extra = 0b1100, b""  # 256 * 2^(12-8) = 4096
    else:
        size_code, extra = 0b0111, struct.pack(">H", block - 1)  # 16-bit (blocksize - 1) follows
    # Sync (14 bits) + reserved + fixed blocking; block size and sample rate (0b0111: 24 kHz);
    # channels (0: mono) and sample size (0b100: 16 bits).
    header = bytes((0xFF, 0xF8, (size_code << 4) | 0b0111, 0b0000_1000)) + _utf8_number(number) + extra
    header += bytes((crc8(header),))
    frame = header + b"\x00" + b"\x00\x00"  # subframe header: CONSTANT, no wasted bits; the value 0
    return frame + struct.pack(">H", crc16(frame))


def flac(seconds: float) -> bytes:
    """A FLAC stream of silence lasting ``seconds`` (24 kHz, mono, 16-bit)."""
    total = _samples(seconds, FLAC_SAMPLE_RATE)
    frames = []
    for number, start in enumerate(range(0, total, FLAC_BLOCK)):
        frames.append(_flac_frame(number, min(FLAC_BLOCK, total - start)))
    sizes = [len(f) for f in frames]
    # STREAMINFO: block sizes, frame sizes (24 bits each), then 20 bits of sample rate, 3 of
    # channels - 1, 5 of bits per sample - 1 and 36 of total samples, then the samples' MD5.
    packed = (FLAC_SAMPLE_RATE << 44) | (0 << 41) | (15 << 36) | total
    info = struct.pack(">HH", FLAC_BLOCK, FLAC_BLOCK)
    info += min(sizes).to_bytes(3, "big") + max(sizes).to_bytes(3, "big") + packed.to_bytes(8, "big")
    info += _silence_md5(2 * total)
    block_header = bytes((0x80,)) + len(info).to_bytes(3, "big")  # last metadata block, type 0
    return b"fLaC" + block_header + info + b"".join(frames)


# -- Ogg Opus --------------------------------------------------------------------------------


@cache
def _ogg_crc_table() -> tuple[int, ...]:
    """CRC-32 as Ogg defines it: polynomial 0x04C11DB7, not reflected, initial 0, no final XOR."""
    table = []
    for byte in range(256):
        crc = byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) & 0xFFFFFFFF if crc & 0x80000000 else (crc << 1) & 0xFFFFFFFF
        table.append(crc)
    return tuple(table)


def ogg_crc(data: bytes) -> int:
    """The Ogg page checksum of ``data`` (a page with its CRC field zeroed)."""
    table = _ogg_crc_table()
    crc = 0
    for byte in data:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ table[(crc >> 24) ^ byte]
    return crc


def _ogg_page(packets: list[bytes], granule: int, serial: int, sequence: int, flags: int) -> bytes:
    """One Ogg page holding whole ``packets`` (each under 255 bytes, so one lacing value each)."""
    lacing = bytes(len(p) for p in packets)
    header = b"OggS" + struct.pack("<BBqII", 0, flags, granule, serial, sequence) + b"\x00\x00\x00\x00"
    page = header + bytes((len(lacing),)) + lacing + b"".join(packets)
    return page[:22] + struct.pack("<I", ogg_crc(page)) + page[26:]


def ogg_opus(seconds: float, serial: int = 0x51A1) -> bytes:
    """An Ogg Opus stream of silence lasting ``seconds`` (mono; input rate 24 kHz)."""
    samples = _samples(seconds, OPUS_GRANULE_RATE)
    head = b"OpusHead" + struct.pack("<BBHIhB", 1, 1, OPUS_PRE_SKIP, 24_000, 0, 0)
    vendor = b"llm-simulator"
    tags = b"OpusTags" + struct.pack("<I", len(vendor)) + vendor + struct.pack("<I", 0)
    pages = [_ogg_page([head], 0, serial, 0, 0x02), _ogg_page([tags], 0, serial, 1, 0)]
    count = -(-(OPUS_PRE_SKIP + samples) // OPUS_FRAME)
    done = 0
    while done < count:
        batch = min(OPUS_PACKETS_PER_PAGE, count - done)
        done += batch
        last = done == count
        # The last page's granule ends the stream at the exact length (end trimming).
        granule = OPUS_PRE_SKIP + samples if last else done * OPUS_FRAME
        pages.append(_ogg_page([OPUS_SILENT_PACKET] * batch, granule, serial, len(pages), 0x04 if last else 0))
    return b"".join(pages)


# -- AAC (ADTS) ------------------------------------------------------------------------------


def adts_header(payload: int, sample_rate: int = AAC_SAMPLE_RATE) -> bytes:
    """A 7-byte ADTS header (MPEG-4, AAC-LC, mono, no CRC) for ``payload`` bytes of raw data."""
    length = 7 + payload
    index = _AAC_RATE_INDEX[sample_rate]
    bits = (0xFFF << 44) | (0 << 43) | (0 << 41) | (1 << 40)  # sync, MPEG-4, layer 0, no CRC
    bits |= (1 << 38) | (index << 34) | (1 << 30)  # profile AAC-LC (object type 2 - 1), rate, mono
    bits |= (length << 13) | (0x7FF << 2)  # frame length, buffer fullness (VBR), one raw block
    return bits.to_bytes(7, "big")


def aac(seconds: float) -> bytes:
    """An ADTS AAC-LC stream of silence lasting at least ``seconds`` (24 kHz, mono)."""
    frames = -(-_samples(seconds, AAC_SAMPLE_RATE) // AAC_FRAME)
    return (adts_header(len(_AAC_SILENT_BLOCK)) + _AAC_SILENT_BLOCK) * frames
