"""The state backend seam: one small protocol per kind of fleet-wide state.

Each consumer gets only the store it needs, never the whole backend:

- ``BucketStore`` (``infra/buckets.py``): rate-limit token buckets, taken atomically;
- ``SharedDocument``: one versioned document every replica follows (the chaos state and
  the scenario clock), polled by version;
- ``SharedMap``: named entries every replica follows, each stamped with a version when set
  (circuit-breaker openings and resets);
- ``StepStore``: a counter per scenario session, advanced by compare-and-set, and
  budgets claimed one use at a time (one-shot faults);
- ``BlobStore``: bytes under a key with a time to live (stored Responses);
- ``RecordList``: a bounded list of records with a fleet-wide sequence (the request log and
  its test scopes' journal);
- ``CounterStore``: named counters under a key, added to by every replica and expiring when
  idle (test scopes' counters; shared backends only).

``backends.py`` builds the memory (default) or Redis implementation from the config; the
Redis one lives in ``redis_store.py`` and imports ``redis`` only when selected.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol


class SharedDocument(Protocol):
    """A document shared by every replica, with a version that grows on every publish."""

    async def publish(self, document: bytes) -> int:
        """Replace the document; the new version."""
        ...

    async def publish_if_absent(self, document: bytes) -> bool:
        """Publish only when no document exists yet (the first replica's start-up state)."""
        ...

    async def fetch_newer(self, known: int) -> tuple[int, bytes] | None:
        """The document and its version when newer than ``known``; None otherwise."""
        ...


class SharedMap(Protocol):
    """Entries by name; setting one stamps it with a version above every earlier one."""

    async def set(self, name: str, value: str) -> int:
        """Set ``name`` to ``value``; the stamp it got (0: not shared)."""
        ...

    async def entries_newer(self, known: int) -> tuple[int, dict[str, tuple[str, int]]] | None:
        """When anything was set after version ``known``: the latest version and every entry."""
        ...


class StepStore(Protocol):
    """Per-session step counters (which scenario step a session is at)."""

    async def get(self, key: str) -> int:
        """The session's next step (0 for an unknown session)."""
        ...

    async def compare_and_set(self, key: str, expected: int, new: int) -> bool:
        """Set ``new`` only if the value is still ``expected``; False if another replica moved it."""
        ...

    async def claim(self, key: str, limit: int) -> bool:
        """Take one use of the budget ``key`` (at most ``limit`` uses in all): atomically, fleet-wide."""
        ...

    async def clear(self) -> None:
        """Forget every session's step."""
        ...


class BlobStore(Protocol):
    """Bytes under a key, each expiring ``ttl_s`` after it was written."""

    async def put(self, key: str, value: bytes, ttl_s: float) -> None:
        """Store ``value`` (replacing any)."""
        ...

    async def get(self, key: str) -> bytes | None:
        """The value, or None when unknown or expired."""
        ...

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        """Each key's value, in order (None when unknown or expired), in one step."""
        ...

    async def delete(self, key: str) -> bool:
        """Forget a key; False when it was not there."""
        ...


class CounterStore(Protocol):
    """Named integer counters under a key, summed over every replica, expiring ``ttl_s`` after the last add."""

    async def add(self, key: str, deltas: Mapping[str, int], ttl_s: float) -> bool:
        """Add ``deltas`` to the key's counters (in one step) and extend its time to live; False on failure."""
        ...

    async def read(self, key: str, ttl_s: float | None = None) -> dict[str, int] | None:
        """The key's counters (empty when unknown); None when the backend is unreachable.

        With ``ttl_s`` the read also extends an existing key's time to live, in the same
        step: a reader keeping the scope alive keeps its counters alive.
        """
        ...

    async def read_many(self, keys: Sequence[str]) -> list[dict[str, int]] | None:
        """Each key's counters, in order (empty when unknown), in one step; None when unreachable."""
        ...

    async def delete(self, key: str) -> bool:
        """Forget the key's counters; False when there were none."""
        ...

    async def keys(self) -> list[str]:
        """Every key with counters (empty when the backend is unreachable)."""
        ...


class RecordList(Protocol):
    """A bounded, append-only list of records numbered by one fleet-wide sequence."""

    async def append(self, record: bytes, keep: int) -> int:
        """Add a record, keeping the newest ``keep``; its sequence number."""
        ...

    async def read(self) -> list[tuple[int, bytes]] | None:
        """Every record kept, oldest first, with its sequence number; None when unreachable."""
        ...

    async def clear(self) -> int:
        """Forget every record; how many there were."""
        ...

    async def remove(self, records: Sequence[tuple[int, bytes]]) -> int:
        """Forget these records (as ``read`` returned them); how many were still kept."""
        ...
