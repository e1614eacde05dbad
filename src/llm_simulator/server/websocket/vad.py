"""A simple energy-based voice-activity detector for streamed PCM16 audio.

Real servers run a neural VAD; a simulator only needs its observable behaviour: speech
starts when the audio gets loud, stops after ``silence_ms`` of quiet, and the times are
reported in milliseconds of audio received. Audio is cut into 20 ms windows; a window is
speech when its RMS level, as a fraction of full scale,

    rms = sqrt(mean(sample**2)) / 32768

exceeds ``threshold * ENERGY_SCALE`` (the API's ``threshold`` is 0..1; 0.5 maps to an RMS of
0.05, about -26 dBFS: a voice close to the microphone, well above room noise).
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

# How the API's 0..1 threshold maps onto an RMS fraction of full scale (see the module doc).
ENERGY_SCALE = 0.1
WINDOW_MS = 20
BYTES_PER_SAMPLE = 2


@dataclass(frozen=True, slots=True)
class VadEdge:
    """A change of state: ``started`` (speech began) or not (speech stopped) at ``at_ms`` of audio."""

    started: bool
    at_ms: int


class EnergyVad:
    """Feeds on PCM16 mono audio at ``rate`` Hz and reports the speech edges it sees."""

    def __init__(self, rate: int, threshold: float, silence_ms: int, prefix_ms: int) -> None:
        self.rate = rate
        self.level = threshold * ENERGY_SCALE
        self.silence_ms = silence_ms
        self.prefix_ms = prefix_ms
        self._window_bytes = rate * WINDOW_MS // 1000 * BYTES_PER_SAMPLE
        self._pending = b""
        self._ms = 0  # audio received so far, in whole windows
        self._speaking = False
        self._quiet_ms = 0

    @property
    def speaking(self) -> bool:
        """Whether speech is in progress."""
        return self._speaking

    def feed(self, audio: bytes) -> list[VadEdge]:
        """Consume ``audio``; the edges it completes, in order."""
        data = self._pending + audio
        edges: list[VadEdge] = []
        step = self._window_bytes
        whole = len(data) - len(data) % step
        for start in range(0, whole, step):
            loud = rms(data[start : start + step]) > self.level
            self._ms += WINDOW_MS
            if loud:
                self._quiet_ms = 0
                if not self._speaking:
                    self._speaking = True
                    edges.append(VadEdge(True, max(0, self._ms - WINDOW_MS - self.prefix_ms)))
            elif self._speaking:
                self._quiet_ms += WINDOW_MS
                if self._quiet_ms >= self.silence_ms:
                    self._speaking = False
                    edges.append(VadEdge(False, self._ms - self._quiet_ms))
        self._pending = data[whole:]
        return edges

    def reset(self) -> None:
        """Forget buffered audio and any speech in progress (the buffer was cleared)."""
        self._pending = b""
        self._speaking = False
        self._quiet_ms = 0


def rms(window: bytes) -> float:
    """The RMS level of PCM16 little-endian ``window`` as a fraction of full scale (0..1)."""
    count = len(window) // BYTES_PER_SAMPLE
    if count == 0:
        return 0.0
    samples = struct.unpack(f"<{count}h", window[: count * BYTES_PER_SAMPLE])
    return math.sqrt(sum(s * s for s in samples) / count) / 32768.0


def audio_ms(byte_count: int, rate: int) -> int:
    """Milliseconds of PCM16 mono audio in ``byte_count`` bytes at ``rate`` Hz."""
    return byte_count * 1000 // (rate * BYTES_PER_SAMPLE)
