"""Token counts of long texts, remembered within a character budget.

A request's long messages are counted more than once: by the provider while it parses the
prompt, again when the load-aware engine hashes the prompt's prefix blocks or Anthropic
places its cache breakpoints, and again on every later turn of a chat that re-sends them.
Tokenising 100 kB of text costs milliseconds, so the counts are kept — but a load test of
unique long prompts must not pin memory, so the cache holds at most ``max_chars`` characters
of text in all and forgets the least recently used first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

# 8 M characters: at most 8-32 MB of text (1-4 bytes a character) kept alive.
DEFAULT_MAX_CHARS = 8_000_000


class LongTextCounts:
    """An LRU map text → token count, bounded by the total length of the texts it holds.

    Thread-safe (counting may run in a worker thread, see ``engine.cpu``). A text longer
    than a quarter of the budget is never stored: one huge prompt must not evict the rest.
    """

    def __init__(self, max_chars: int = DEFAULT_MAX_CHARS) -> None:
        self.max_chars = max_chars
        self._counts: OrderedDict[str, int] = OrderedDict()
        self._chars = 0
        self._lock = threading.Lock()

    def get(self, text: str) -> int | None:
        """The remembered count of ``text``, or None (a lookup hashes ``text`` once; str caches its hash)."""
        with self._lock:
            count = self._counts.get(text)
            if count is not None:
                self._counts.move_to_end(text)
            return count

    def put(self, text: str, count: int) -> None:
        """Remember ``count`` for ``text``, forgetting the least recently used texts past the budget."""
        size = len(text)
        if size > self.max_chars // 4:
            return
        with self._lock:
            if text in self._counts:
                self._counts.move_to_end(text)
                return
            self._counts[text] = count
            self._chars += size
            while self._chars > self.max_chars:
                old, _ = self._counts.popitem(last=False)
                self._chars -= len(old)

    @property
    def chars(self) -> int:
        """Characters of text held now."""
        return self._chars

    def __len__(self) -> int:
        return len(self._counts)
