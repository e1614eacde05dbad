"""``infra.image_probe``: format, size and transparency from PNG, JPEG and WebP headers."""

from __future__ import annotations

import pytest

from llm_simulator.infra.image_probe import ImageInfo, probe
from llm_simulator.infra.media import png as simulator_png
from tests.providers.openai.image_files import jpeg, png, webp_extended, webp_lossless, webp_lossy


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (png(3, 5), ImageInfo("png", 3, 5, False)),
        (png(7, 7, alpha=True), ImageInfo("png", 7, 7, True)),
        (png(4, 2, trns=True), ImageInfo("png", 4, 2, True)),
        (simulator_png(16, 8, 1), ImageInfo("png", 16, 8, False)),
        (simulator_png(16, 8, 1, alpha=True), ImageInfo("png", 16, 8, True)),
        (jpeg(640, 480), ImageInfo("jpeg", 640, 480, False)),
        (jpeg(300, 200, marker=0xC2), ImageInfo("jpeg", 300, 200, False)),  # progressive
        (webp_lossy(320, 240), ImageInfo("webp", 320, 240, False)),
        (webp_lossless(100, 50, alpha=True), ImageInfo("webp", 100, 50, True)),
        (webp_extended(5000, 3000, alpha=False), ImageInfo("webp", 5000, 3000, False)),
    ],
)
def test_reads_each_format(data: bytes, expected: ImageInfo) -> None:
    assert probe(data) == expected


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"GIF89a" + bytes(20),
        png(4, 4)[:20],  # cut inside IHDR
        b"\xff\xd8\xff\xe0\x00\x10JFIF",  # no frame header
        jpeg(10, 10)[:-15],  # cut inside the frame header
        b"RIFF\x10\x00\x00\x00WEBPVP8 \x04\x00\x00\x00abcd",  # no start code
    ],
)
def test_anything_else_is_none(data: bytes) -> None:
    assert probe(data) is None
