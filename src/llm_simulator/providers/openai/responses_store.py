"""The per-process store behind ``GET /v1/responses/{id}`` and ``previous_response_id``.

OpenAI keeps stored responses for 30 days; a simulator serving load tests must not grow
without bound, so the store is a bounded LRU with an expiry. It lives in one worker's
memory: with several workers, a follow-up request may reach a worker that never saw the
response (run one worker when conversation state matters).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import orjson

from llm_simulator.core.types import Message
from llm_simulator.infra.clock import Clock

# Most responses kept at once; the least recently used one goes first. (Module constants for
# now; candidates for the config file.)
MAX_STORED_RESPONSES = 10_000
# Agent workloads echo their tools and carry whole conversations (tens of kB per response),
# so the count alone does not bound memory: the store also keeps at most this many bytes.
MAX_STORED_BYTES = 256 * 1024 * 1024
# Seconds a stored response stays retrievable after it was created (OpenAI: 30 days; a
# simulator only needs to outlive one test's conversation).
STORED_RESPONSE_TTL_S = 3600.0


@dataclass(frozen=True, slots=True)
class Conversation:
    """A conversation reduced to what the next turn needs.

    ``messages`` and ``tokens`` cover every input and output item so far (not the
    instructions, which are never carried over); ``call_ids`` are the function calls made
    so far, ``open_calls`` those the last response made, which the next turn must answer.
    """

    messages: tuple[Message, ...] = ()
    tokens: int = 0
    call_ids: frozenset[str] = frozenset()
    open_calls: tuple[str, ...] = ()


EMPTY_CONVERSATION = Conversation()


# Input items in their stored (output) shape: ``id``, ``type``, ``status``, typed content.
Items = tuple[dict[str, Any], ...]


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """One stored response: its final JSON body, its model, its conversation and its input items.

    ``items`` are what ``GET /v1/responses/{id}/input_items`` lists, oldest first: the input
    items of the response it continued (``previous_response_id``), that response's output
    items, then this turn's own. Earlier turns' items are shared, not copied, so
    ``items_size`` counts only this turn's.
    """

    body: bytes
    model: str
    conversation: Conversation
    expires: float
    items: Items = ()
    items_size: int = 0

    @property
    def size(self) -> int:
        """Approximate bytes held: the body, the conversation's text and this turn's input items."""
        return len(self.body) + sum(len(m.text) for m in self.conversation.messages) + self.items_size

    def context_items(self) -> Items:
        """The items a follow-up response continues from: these input items, then this response's output."""
        output = orjson.loads(self.body).get("output") or []
        return self.items + tuple(output)


class ResponseStore:
    """A bounded, expiring LRU map from response id to ``StoredResponse``."""

    def __init__(
        self,
        clock: Clock,
        max_entries: int = MAX_STORED_RESPONSES,
        ttl_s: float = STORED_RESPONSE_TTL_S,
        max_bytes: int = MAX_STORED_BYTES,
    ) -> None:
        self._clock = clock
        self._max = max_entries
        self._ttl = ttl_s
        self._max_bytes = max_bytes
        self._bytes = 0
        self._entries: OrderedDict[str, StoredResponse] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def put(
        self,
        response_id: str,
        body: bytes,
        model: str,
        conversation: Conversation,
        items: Items = (),
        items_size: int = 0,
    ) -> None:
        """Keep a response, evicting expired entries and then the least recently used."""
        now = self._clock.now()
        entry = StoredResponse(body, model, conversation, now + self._ttl, items, items_size)
        if entry.size > self._max_bytes:
            return  # larger than the whole budget: keeping it would evict everything else
        entries = self._entries
        self._discard(response_id)
        entries[response_id] = entry
        self._bytes += entry.size
        # Expiry runs from creation and the front is the least recently used entry, so this
        # sweep is a heuristic; entries it misses expire when they are next looked up.
        while entries:
            oldest_id, oldest = next(iter(entries.items()))
            if oldest.expires > now and len(entries) <= self._max and self._bytes <= self._max_bytes:
                break
            self._discard(oldest_id)

    @property
    def bytes(self) -> int:
        """Approximate bytes held by the stored responses."""
        return self._bytes

    def _discard(self, response_id: str) -> None:
        entry = self._entries.pop(response_id, None)
        if entry is not None:
            self._bytes -= entry.size

    def get(self, response_id: str) -> StoredResponse | None:
        """The stored response, or None when unknown or expired (a hit counts as a use)."""
        entry = self._entries.get(response_id)
        if entry is None:
            return None
        if entry.expires <= self._clock.now():
            self._discard(response_id)
            return None
        self._entries.move_to_end(response_id)
        return entry

    def delete(self, response_id: str) -> bool:
        """Forget a response; False when it was not stored (or had expired)."""
        if self.get(response_id) is None:
            return False
        self._discard(response_id)
        return True
