"""Deterministic embeddings from hashed n-gram features.

Each text is mapped to word unigrams, word bigrams and character trigrams; each feature is
hashed (BLAKE2b, stable across processes) to a dimension and a sign, with a weight. The
vector is then L2-normalised. Texts that share words and spellings share features, so
similar texts get higher cosine similarity than unrelated ones — enough for a RAG pipeline
under test to behave plausibly, with no model weights.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import re

_WORD = re.compile(r"\w+", re.UNICODE)


def _features(text: str) -> list[tuple[str, float]]:
    words = _WORD.findall(text.lower())
    feats: list[tuple[str, float]] = [("w:" + w, 1.0) for w in words]
    feats += [(f"b:{a} {b}", 0.7) for a, b in itertools.pairwise(words)]
    for word in words:
        padded = f"#{word}#"
        feats += [("c:" + padded[i : i + 3], 0.35) for i in range(len(padded) - 2)]
    if not feats:
        # Text without word characters (punctuation, emoji): fall back to its characters.
        feats = [("r:" + ch, 1.0) for ch in text] or [("empty", 1.0)]
    return feats


# Features recur across texts (words, their bigrams and trigrams): their hashes are kept, which
# makes embedding 2048 ordinary inputs several times faster. The cache is bounded by being
# dropped whole when full (each entry ~150 bytes: ~40 MB at most).
HASH_CACHE_ENTRIES = 1 << 18
_HASHES: dict[str, tuple[int, float]] = {}


def _hash(feature: str) -> tuple[int, float]:
    """A feature's 48-bit bucket number (before ``mod dimensions``) and its sign."""
    digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
    return int.from_bytes(digest[:6], "little"), 1.0 if digest[7] & 1 else -1.0


def embed(text: str, dimensions: int) -> list[float]:
    """A unit-norm vector of ``dimensions`` floats for ``text`` (same text → same vector).

    v[h(f) mod d] += sign(f) · weight(f) for every feature f, then v ← v / ‖v‖.
    """
    vec = [0.0] * dimensions
    hashes = _HASHES
    for feature, weight in _features(text):
        hashed = hashes.get(feature)
        if hashed is None:
            hashed = _hash(feature)
            if len(hashes) >= HASH_CACHE_ENTRIES:
                hashes.clear()
            hashes[feature] = hashed
        vec[hashed[0] % dimensions] += hashed[1] * weight
    norm = math.sqrt(sum(x * x for x in vec))
    if norm == 0.0:
        # All features cancelled out (possible in tiny dimensions): use a fixed unit vector.
        vec[0] = 1.0
        return vec
    return [x / norm for x in vec]
