"""Bounded in-memory storage of one provider's files, shared by the providers' Files APIs.

A store keeps items (anything with a byte size) in insertion order within the three
``batches.*`` bounds: ``max_file_bytes`` (one item), ``max_files`` (how many) and
``max_stored_bytes`` (all together). Nothing is evicted behind a client's back: a new item
past a bound is refused with a ``StorageFull`` naming the bound, and each provider turns
that into its own error shape. Every provider keeps its own store.
"""

from __future__ import annotations

import enum
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

from llm_simulator.config.schema import BatchesConfig

T = TypeVar("T")


class Bound(enum.StrEnum):
    """The bound a refused item would pass."""

    FILE_BYTES = "max_file_bytes"
    FILES = "max_files"
    STORED_BYTES = "max_stored_bytes"


class StorageFull(Exception):
    """An item would pass ``bound``; ``message`` says which configured limit and how to get room."""

    def __init__(self, bound: Bound, message: str) -> None:
        super().__init__(message)
        self.bound = bound
        self.message = message


def refusal(limits: BatchesConfig, count: int, stored: int, size: int) -> StorageFull | None:
    """Why an item of ``size`` bytes cannot join ``count`` items of ``stored`` bytes (None: it can)."""
    if size > limits.max_file_bytes:
        return StorageFull(
            Bound.FILE_BYTES,
            f"File is too large: {size} bytes. The simulator's limit (batches.max_file_bytes) "
            f"is {limits.max_file_bytes} bytes.",
        )
    if count >= limits.max_files:
        return StorageFull(
            Bound.FILES,
            f"Too many files: the simulator keeps at most {limits.max_files} (batches.max_files). "
            "Delete some files and try again.",
        )
    if stored + size > limits.max_stored_bytes:
        return StorageFull(
            Bound.STORED_BYTES,
            f"Storage limit reached: {stored} bytes stored, {size} more would pass the simulator's limit "
            f"of {limits.max_stored_bytes} bytes (batches.max_stored_bytes). Delete some files and try again.",
        )
    return None


class BoundedStore(Generic[T]):
    """Items by name, oldest first, within the configured bounds."""

    def __init__(self, limits: BatchesConfig, size_of: Callable[[T], int]) -> None:
        self.limits = limits
        self._size_of = size_of
        self._items: OrderedDict[str, T] = OrderedDict()
        self._bytes = 0

    @property
    def stored_bytes(self) -> int:
        """Bytes held by every item."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._items)

    def check(self, size: int, pending: int = 0) -> None:
        """Raise ``StorageFull`` unless an item of ``size`` bytes fits (``pending``: bytes promised elsewhere)."""
        refused = refusal(self.limits, len(self._items), self._bytes + pending, size)
        if refused is not None:
            raise refused

    def add(self, name: str, item: T) -> T:
        """Keep ``item`` under ``name``; ``StorageFull`` when a bound would be passed."""
        size = self._size_of(item)
        self.check(size)
        self._items[name] = item
        self._bytes += size
        return item

    def get(self, name: str) -> T | None:
        """The item, or None."""
        return self._items.get(name)

    def pop(self, name: str) -> T | None:
        """Forget an item; the item, or None when there was none."""
        item = self._items.pop(name, None)
        if item is not None:
            self._bytes -= self._size_of(item)
        return item

    def items(self) -> list[T]:
        """Every item, oldest first."""
        return list(self._items.values())
