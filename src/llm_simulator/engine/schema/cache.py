"""A bounded LRU of checked schemas (both the ones that passed and the ones that failed), on ``infra.cache``."""

from __future__ import annotations

import math
from typing import Generic, TypeVar

from llm_simulator.infra.cache import Cache

T = TypeVar("T")


class LRU(Generic[T]):
    """Least-recently-used entries, bounded in number and in total (approximate) bytes.

    The byte bound matters as much as the count: a key is a whole schema's JSON text and an
    entry may hold a generated instance of up to a megabyte. A thin face on ``infra.cache``
    (no expiry, no statistics, no cleanup task); thread-safe, with values computed outside
    the lock, so two threads may compute the same entry (both results are equal).
    """

    def __init__(self, entries: int, size: int) -> None:
        self.entries = entries
        self.size = size
        self._cache: Cache[str, T] = Cache(
            ttl_s=math.inf, max_entries=entries, max_weight=size, cleanup_interval_s=None, stats_enabled=False
        )

    def get(self, key: str) -> T | None:
        """The entry for ``key`` (now the most recently used), or None."""
        return self._cache.get(key)

    def put(self, key: str, value: T, weight: int) -> None:
        """Store ``value`` for ``key``, ``weight`` bytes on top of the key, evicting as needed.

        An entry larger than the whole cache is not kept: the caller simply recomputes it.
        """
        self._cache.set(key, value, weight=weight + len(key))

    def clear(self) -> None:
        """Forget every entry."""
        self._cache.clear()

    def __len__(self) -> int:
        return len(self._cache)
