"""Seeded randomness: every reproducible random stream is derived from a seed and a purpose.

Deriving a separate ``random.Random`` per request and per purpose (text, latency) means a
change in one (say, a different latency profile) never shifts the others, and a request
``seed`` (or the run's seed) reproduces that request's text whatever else the simulator
does. What nobody asked to reproduce (an unseeded request of a run without a seed, ids)
draws from one generator seeded by the OS instead: ``FRESH`` (``IDS`` formats its draws).
"""

from __future__ import annotations

import _random
import hashlib
import os
import random


def derive_seed(*parts: object) -> int:
    """Derive a 64-bit seed from ordered parts with BLAKE2b (stable across processes).

    Python's ``hash()`` is salted per process, so it cannot be used for reproducible seeds.
    The hashed bytes are each part's ``repr`` followed by a unit separator (0x1F), fed in
    one call: the same digest as one ``update`` per repr and separator, at a fraction of
    the calls (a request's seed has six parts). The hash object is a copy of an empty
    8-byte BLAKE2b: the same state as ``blake2b(digest_size=8)`` without parsing its
    keyword arguments, which cost as much as hashing a request's parts (a request derives
    two seeds).
    """
    digest = _EMPTY_BLAKE2B.copy()
    if parts:  # no parts hash no bytes (not a lone separator)
        digest.update(("\x1f".join(map(repr, parts)) + "\x1f").encode())
    return int.from_bytes(digest.digest(), "big")


_EMPTY_BLAKE2B = hashlib.blake2b(digest_size=8)


def derive_random(*parts: object) -> random.Random:
    """A ``random.Random`` seeded from ``derive_seed(*parts)``.

    The same generator as ``random.Random(seed)`` (the same state), built without the
    Python-level ``__init__`` and ``seed`` wrappers around the C seeding: one per request
    on the hot path, where the wrappers cost about a fifth of the seeding itself.
    """
    rng = _new_random(random.Random)
    _seed_mt(rng, derive_seed(*parts))
    rng.gauss_next = None  # type: ignore[attr-defined]  # what Random.seed resets besides the C state
    return rng


_new_random = random.Random.__new__
_seed_mt = _random.Random.seed  # MT19937 seeding from an int (init_by_array), as Random.seed does


# Fresh randomness for everything nobody asked to reproduce (unseeded requests' draws, ids):
# seeded once by the OS (not a system call per draw), and again in a forked child, which must
# not replay its parent's.
FRESH = random.Random(os.urandom(32))
os.register_at_fork(after_in_child=lambda: FRESH.seed(os.urandom(32)))


class FreshSeed(int):
    """A base seed drawn from ``FRESH``: nothing derived from it has to come out the same again.

    An ``int`` like any base seed (anything may still derive from it), marked so that
    ``SeedSource.generator`` can hand out ``FRESH`` itself instead of seeding a generator.
    Arithmetic on it gives a plain ``int``, whose draws are derived as usual.
    """

    __slots__ = ()


class SeedSource:
    """Hands out per-request seeds and generators: reproducible when asked for, fresh otherwise.

    With a run seed, the k-th request gets ``derive_seed(run_seed, k)``, so the same request
    sequence yields the same outputs. Without one, seeds come from the OS (``FRESH``).
    """

    def __init__(self, run_seed: int | None) -> None:
        self._run_seed = run_seed
        self._counter = 0

    @property
    def run_seed(self) -> int | None:
        """The run seed, if any."""
        return self._run_seed

    def next_seed(self) -> int:
        """The seed for the next request (a ``FreshSeed`` without a run seed)."""
        self._counter += 1
        if self._run_seed is None:
            return FreshSeed(FRESH.getrandbits(64))
        return derive_seed("run", self._run_seed, self._counter)

    @staticmethod
    def generator(base_seed: int, purpose: str) -> random.Random:
        """The generator of one request's ``purpose`` draws (its text, its latency samples).

        ``derive_random(base_seed, purpose)``: the same draws for the same base seed (a
        request that sent a ``seed``, any request of a run with a run seed). A ``FreshSeed``
        came from ``FRESH`` and cannot be drawn again, so its request draws from ``FRESH``
        itself: the same distribution, without seeding a Mersenne Twister of its own (≈ 3 µs,
        a tenth of a non-streamed request in process) or holding one (≈ 2.5 KB per open
        stream with a sampled latency profile). Requests that draw from it at once interleave
        their draws, which leaves each of them as fresh as before.
        """
        if type(base_seed) is FreshSeed:
            return FRESH
        return derive_random(base_seed, purpose)


class FastIds:
    """Random identifiers drawn from ``FRESH`` (seeded by the OS, and again in a forked child).

    Ids only need to be unique, not secret; one ``os.urandom`` call per id (a system call
    that also wakes the server's I/O thread) measured 12 % of the non-streamed hot path.
    """

    _ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

    # Byte value → alphabet character, so a token is one ``randbytes`` and one C-level
    # ``translate`` (a Python loop per character cost ~5 µs per id). 256 = 4 × 62 + 8, so
    # the first 8 characters are 5/4 as likely as the rest: irrelevant for uniqueness.
    _TABLE = (_ALPHABET * 5).encode()[:256]

    def token(self, length: int) -> str:
        """``length`` random alphanumeric characters."""
        # ``Random.randbytes``'s own body (a Python-level wrapper in 3.11): the same bytes.
        return FRESH.getrandbits(8 * length).to_bytes(length, "little").translate(self._TABLE).decode()

    def hex(self, nbytes: int) -> str:
        """``2 * nbytes`` random hex digits."""
        return format(FRESH.getrandbits(8 * nbytes), f"0{2 * nbytes}x")


IDS = FastIds()
