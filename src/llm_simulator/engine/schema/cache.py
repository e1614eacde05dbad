"""A bounded LRU of checked schemas: both the ones that passed and the ones that failed."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Generic, TypeVar

T = TypeVar("T")


class LRU(Generic[T]):
    """Least-recently-used entries, bounded in number and in total (approximate) bytes.

    The byte bound matters as much as the count: a key is a whole schema's JSON text and an
    entry may hold a generated instance of up to a megabyte. Thread-safe; values are computed
    outside the lock, so two threads may compute the same entry (both results are equal).
    """

    def __init__(self, entries: int, size: int) -> None:
        self.entries = entries
        self.size = size
        self._data: OrderedDict[str, tuple[T, int]] = OrderedDict()
        self._used = 0
        self._lock = threading.Lock()

    def get(self, key: str) -> T | None:
        """The entry for ``key`` (now the most recently used), or None."""
        with self._lock:
            found = self._data.get(key)
            if found is None:
                return None
            self._data.move_to_end(key)
            return found[0]

    def put(self, key: str, value: T, weight: int) -> None:
        """Store ``value`` for ``key``, ``weight`` bytes on top of the key, evicting as needed."""
        weight += len(key)
        if weight > self.size:
            return  # would evict everything else; the caller simply recomputes next time
        with self._lock:
            old = self._data.pop(key, None)
            if old is not None:
                self._used -= old[1]
            self._data[key] = (value, weight)
            self._used += weight
            while len(self._data) > self.entries or self._used > self.size:
                _, (_, dropped) = self._data.popitem(last=False)
                self._used -= dropped

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._data.clear()
            self._used = 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._data)
