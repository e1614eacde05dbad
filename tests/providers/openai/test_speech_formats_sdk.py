"""``/v1/audio/speech`` in flac, opus (Ogg) and aac (ADTS): each file parsed down to its checksums.

The parsers and checksums here are written from the format specifications (bit by bit, no
tables), independently of ``infra/audio_containers.py``, so a wrong CRC or a miscounted
duration in the simulator fails here. ``ffprobe`` is not installed on CI, so the container
headers are the acceptance test.
"""

from __future__ import annotations

import hashlib
import shutil
import struct
import subprocess
from pathlib import Path

import openai
import pytest

from llm_simulator.providers.openai.audio import seconds_for

TEXT = "Seven words are spoken here, then some more words follow to make it longer. " * 4


def _crc(data: bytes, width: int, poly: int) -> int:
    """A non-reflected CRC with initial value 0 and no final XOR, one bit at a time."""
    top, mask, crc = 1 << (width - 1), (1 << width) - 1, 0
    for byte in data:
        crc ^= byte << (width - 8)
        for _ in range(8):
            crc = ((crc << 1) ^ poly) & mask if crc & top else (crc << 1) & mask
    return crc


def _utf8_value(data: bytes, pos: int) -> tuple[int, int]:
    """FLAC's UTF-8-coded frame number at ``pos``: (value, bytes used)."""
    lead = data[pos]
    if lead < 0x80:
        return lead, 1
    extra = 0
    while lead & (0x40 >> extra):
        extra += 1
    value = lead & (0x3F >> extra)
    for i in range(1, extra + 1):
        assert data[pos + i] & 0xC0 == 0x80
        value = (value << 6) | (data[pos + i] & 0x3F)
    return value, extra + 1


def flac_seconds(data: bytes) -> float:
    """Check a FLAC stream (STREAMINFO, every frame's CRC-8 and CRC-16, constant silence); its duration."""
    assert data[:4] == b"fLaC"
    assert data[4] & 0x80 and data[4] & 0x7F == 0  # the last metadata block, STREAMINFO
    length = int.from_bytes(data[5:8], "big")
    assert length == 34
    info = data[8 : 8 + length]
    min_block, max_block = struct.unpack(">HH", info[:4])
    min_frame, max_frame = int.from_bytes(info[4:7], "big"), int.from_bytes(info[7:10], "big")
    packed = int.from_bytes(info[10:18], "big")
    rate, channels, bits, total = (
        packed >> 44,
        ((packed >> 41) & 7) + 1,
        ((packed >> 36) & 31) + 1,
        packed & (2**36 - 1),
    )
    assert (rate, channels, bits) == (24_000, 1, 16)
    assert info[18:34] == hashlib.md5(bytes(2 * total)).digest()
    pos, samples, number = 8 + length, 0, 0
    while pos < len(data):
        assert data[pos : pos + 2] == b"\xff\xf8"  # sync, fixed block size
        size_code, rate_code = data[pos + 2] >> 4, data[pos + 2] & 15
        assert rate_code == 0b0111 and data[pos + 3] == 0b0000_1000  # 24 kHz; mono, 16-bit
        value, used = _utf8_value(data, pos + 4)
        assert value == number
        head = pos + 4 + used
        if size_code == 0b1100:
            block = 4096
        else:
            assert size_code == 0b0111
            block = struct.unpack(">H", data[head : head + 2])[0] + 1
            head += 2
        assert data[head] == _crc(data[pos:head], 8, 0x07)
        subframe = head + 1
        assert data[subframe] == 0  # CONSTANT subframe
        assert data[subframe + 1 : subframe + 3] == b"\x00\x00"  # of value 0
        end = subframe + 3
        assert struct.unpack(">H", data[end : end + 2])[0] == _crc(data[pos:end], 16, 0x8005)
        assert min_frame <= end + 2 - pos <= max_frame
        assert block <= max_block and (block >= min_block or end + 2 == len(data))
        samples += block
        pos, number = end + 2, number + 1
    assert samples == total
    return total / rate


def ogg_opus_seconds(data: bytes) -> float:
    """Check an Ogg Opus stream (page CRCs and sequence, OpusHead, OpusTags, packets); its duration."""
    pages: list[tuple[int, int, list[bytes]]] = []
    serials: set[int] = set()
    pos = 0
    while pos < len(data):
        assert data[pos : pos + 4] == b"OggS" and data[pos + 4] == 0
        flags, granule, serial, sequence, crc, count = struct.unpack("<BqIIIB", data[pos + 5 : pos + 27])
        lacing = data[pos + 27 : pos + 27 + count]
        body = pos + 27 + count
        end = body + sum(lacing)
        page = bytearray(data[pos:end])
        page[22:26] = b"\0\0\0\0"
        assert crc == _crc(bytes(page), 32, 0x04C11DB7)
        assert sequence == len(pages)
        serials.add(serial)
        packets, at = [], body
        for size in lacing:
            assert size < 255  # every packet ends on its page
            packets.append(data[at : at + size])
            at += size
        pages.append((flags, granule, packets))
        pos = end
    assert pages[0][0] == 0x02 and pages[-1][0] == 0x04  # begin and end of stream
    assert len(serials) == 1  # one logical stream
    head = pages[0][2][0]
    assert head[:8] == b"OpusHead"
    version, channels, pre_skip, rate, gain, family = struct.unpack("<BBHIhB", head[8:19])
    assert (version, channels, rate, gain, family) == (1, 1, 24_000, 0, 0)
    assert pages[1][2][0][:8] == b"OpusTags"
    packets = [p for _, _, page_packets in pages[2:] for p in page_packets]
    # TOC 0xF8: config 31 (CELT-only, fullband, 20 ms), mono, one frame: 960 samples at 48 kHz.
    assert packets and all(p[0] == 0xF8 for p in packets)
    granules = [g for _, g, _ in pages[2:]]
    assert granules == sorted(granules)
    final = granules[-1]
    assert len(packets) * 960 - 960 < final <= len(packets) * 960
    return float(final - pre_skip) / 48_000


def adts_seconds(data: bytes) -> float:
    """Check ADTS framing (MPEG-4 AAC-LC, 24 kHz, mono, no CRC, lengths chaining); the duration."""
    pos = frames = 0
    while pos < len(data):
        bits = int.from_bytes(data[pos : pos + 7], "big")
        assert bits >> 44 == 0xFFF  # sync
        assert (bits >> 40) & 1 == 1  # no CRC
        assert (bits >> 38) & 3 == 1  # AAC LC
        assert (bits >> 34) & 15 == 6  # 24 kHz
        assert (bits >> 30) & 7 == 1  # mono
        length = (bits >> 13) & 0x1FFF
        assert length > 7 and bits & 3 == 0  # one raw data block
        assert data[pos + 7] >> 5 == 0  # a single channel element
        pos += length
        frames += 1
    assert pos == len(data)
    return frames * 1024 / 24_000


@pytest.mark.parametrize(
    ("fmt", "content_type", "measure", "slack"),
    [
        ("flac", "audio/flac", flac_seconds, 1 / 24_000),
        ("opus", "audio/opus", ogg_opus_seconds, 1 / 48_000),
        ("aac", "audio/aac", adts_seconds, 1024 / 24_000),
    ],
)
def test_speech_formats_have_the_text_s_duration(
    client: openai.OpenAI, fmt: str, content_type: str, measure: object, slack: float
) -> None:
    with client.audio.speech.with_streaming_response.create(
        model="tts-1",
        voice="alloy",
        input=TEXT,
        response_format=fmt,  # type: ignore[arg-type]
    ) as resp:
        assert resp.headers["content-type"] == content_type
        data = resp.read()
    assert callable(measure)
    expected = seconds_for(TEXT, 1.0)
    assert 15 < expected < 40
    assert measure(data) == pytest.approx(expected, abs=slack)
    faster = client.audio.speech.create(
        model="tts-1-hd",
        voice="nova",
        input=TEXT,
        response_format=fmt,  # type: ignore[arg-type]
        speed=4.0,
    )
    assert measure(faster.content) == pytest.approx(expected / 4, abs=slack)


@pytest.mark.parametrize("fmt", ["flac", "opus", "aac"])
def test_ffprobe_reads_the_files_when_installed(client: openai.OpenAI, fmt: str, tmp_path: Path) -> None:
    ffprobe = shutil.which("ffprobe")
    if ffprobe is None:
        pytest.skip("ffprobe is not installed (the header checks above stand in for it)")
    data = client.audio.speech.create(model="tts-1", voice="alloy", input=TEXT, response_format=fmt).content  # type: ignore[arg-type]
    path = tmp_path / f"speech.{fmt}"
    path.write_bytes(data)
    out = subprocess.run(
        [ffprobe, "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert float(out.stdout.strip()) == pytest.approx(seconds_for(TEXT, 1.0), abs=0.1)
