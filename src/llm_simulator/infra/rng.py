"""Seeded randomness: every random stream is derived from a seed and a purpose.

Deriving a separate ``random.Random`` per request and per purpose (text, latency, ids) means a
change in one (say, a different latency profile) never shifts the others, and a request
``seed`` reproduces that request's text whatever else the simulator does.
"""

from __future__ import annotations

import hashlib
import random
import secrets


def derive_seed(*parts: object) -> int:
    """Derive a 64-bit seed from ordered parts with BLAKE2b (stable across processes).

    Python's ``hash()`` is salted per process, so it cannot be used for reproducible seeds.
    """
    h = hashlib.blake2b(digest_size=8)
    for part in parts:
        h.update(repr(part).encode())
        h.update(b"\x1f")
    return int.from_bytes(h.digest(), "big")


def derive_random(*parts: object) -> random.Random:
    """A ``random.Random`` seeded from ``derive_seed(*parts)``."""
    return random.Random(derive_seed(*parts))


class SeedSource:
    """Hands out per-request seeds: reproducible when a run seed is set, fresh otherwise.

    With a run seed, the k-th request gets ``derive_seed(run_seed, k)``, so the same request
    sequence yields the same outputs. Without one, seeds come from the OS.
    """

    def __init__(self, run_seed: int | None) -> None:
        self._run_seed = run_seed
        self._counter = 0

    @property
    def run_seed(self) -> int | None:
        """The run seed, if any."""
        return self._run_seed

    def next_seed(self) -> int:
        """The seed for the next request."""
        self._counter += 1
        if self._run_seed is None:
            return secrets.randbits(64)
        return derive_seed("run", self._run_seed, self._counter)
