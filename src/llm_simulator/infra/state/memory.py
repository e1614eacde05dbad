"""In-memory implementations of the state protocols: one process, no I/O, no awaits inside.

These are what a single process uses (the default) and what a Redis-backed replica falls
back to while Redis is unreachable with ``state.on_error: fail_open``.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Sequence

# Entries kept at most by the memory step and blob stores (least recently written go first).
MAX_ENTRIES = 10_000


class MemoryDocument:
    """A document in this process only: publishing it reaches nobody else."""

    def __init__(self) -> None:
        self._version = 0
        self._document: bytes | None = None

    async def publish(self, document: bytes) -> int:
        """Replace the document; the new version."""
        self._version += 1
        self._document = document
        return self._version

    async def publish_if_absent(self, document: bytes) -> bool:
        """Publish when nothing was published yet."""
        if self._document is not None:
            return False
        await self.publish(document)
        return True

    async def fetch_newer(self, known: int) -> tuple[int, bytes] | None:
        """The document when newer than ``known``."""
        if self._document is None or self._version <= known:
            return None
        return self._version, self._document


class MemoryMap:
    """Entries in this process only."""

    def __init__(self) -> None:
        self._version = 0
        self._entries: dict[str, tuple[str, int]] = {}

    async def set(self, name: str, value: str) -> int:
        """Set an entry; its stamp."""
        self._version += 1
        self._entries[name] = (value, self._version)
        return self._version

    async def entries_newer(self, known: int) -> tuple[int, dict[str, tuple[str, int]]] | None:
        """Every entry, when any was set after ``known``."""
        if self._version <= known:
            return None
        return self._version, dict(self._entries)


class MemoryStepStore:
    """Step counters in a bounded map."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._steps: OrderedDict[str, int] = OrderedDict()
        self._max = max_entries

    async def get(self, key: str) -> int:
        """The session's next step (0 if unknown)."""
        return self._steps.get(key, 0)

    async def compare_and_set(self, key: str, expected: int, new: int) -> bool:
        """Set when still ``expected`` (always true within one event loop)."""
        if self._steps.get(key, 0) != expected:
            return False
        self._steps[key] = new
        self._steps.move_to_end(key)
        if len(self._steps) > self._max:
            self._steps.popitem(last=False)
        return True

    async def claim(self, key: str, limit: int) -> bool:
        """Take one use of ``key`` while fewer than ``limit`` were taken (one event loop: atomic)."""
        used = self._steps.get(key, 0)
        if used >= limit:
            return False
        return await self.compare_and_set(key, used, used + 1)

    async def clear(self) -> None:
        """Forget every step."""
        self._steps.clear()


class MemoryBlobStore:
    """Expiring bytes in a bounded map (monotonic clock)."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._blobs: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._max = max_entries

    async def put(self, key: str, value: bytes, ttl_s: float) -> None:
        """Store ``value`` until ``ttl_s`` from now."""
        self._blobs[key] = (time.monotonic() + ttl_s, value)
        self._blobs.move_to_end(key)
        if len(self._blobs) > self._max:
            self._blobs.popitem(last=False)

    async def get(self, key: str) -> bytes | None:
        """The value unless expired."""
        entry = self._blobs.get(key)
        if entry is None:
            return None
        if entry[0] <= time.monotonic():
            del self._blobs[key]
            return None
        return entry[1]

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        """Each key's value unless expired, in order."""
        return [await self.get(key) for key in keys]

    async def delete(self, key: str) -> bool:
        """Forget a key."""
        return self._blobs.pop(key, None) is not None
