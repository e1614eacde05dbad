"""The store behind ``GET /v1/responses/{id}`` and ``previous_response_id``.

OpenAI keeps stored responses for 30 days; a simulator serving load tests must not grow
without bound, so the store is a bounded LRU with an expiry in each worker's memory. With a
shared state backend (``state.backend: redis``) every stored response is also written there
with the same time to live, and a worker that does not hold an id fetches it (``fetch``)
before the synchronous code looks it up: a follow-up request resolves on any replica.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from llm_simulator.core.types import Message
from llm_simulator.infra.clock import Clock
from llm_simulator.infra.state import BlobStore
from llm_simulator.infra.state.guard import spawn

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
        shared: BlobStore | None = None,
        shared_up: Callable[[], bool] = lambda: True,
    ) -> None:
        self._clock = clock
        self._max = max_entries
        self._ttl = ttl_s
        self._max_bytes = max_bytes
        self._bytes = 0
        self._entries: OrderedDict[str, StoredResponse] = OrderedDict()
        # The fleet's copy (None: this process only) and the writes to it not yet confirmed.
        self._shared = shared
        self._shared_up = shared_up
        self._writes: set[asyncio.Task[Any]] = set()

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
        if self._shared is not None:
            self._write(response_id, entry)
        self._keep(response_id, entry, now)

    def _keep(self, response_id: str, entry: StoredResponse, now: float) -> None:
        """Hold ``entry`` locally, evicting expired entries and then the least recently used."""
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

    # -- the fleet's copy (state.backend: redis) ----------------------------------------------

    def _write(self, response_id: str, entry: StoredResponse) -> None:
        """Start writing ``entry`` to the shared store (awaited by ``settle`` before answering)."""
        assert self._shared is not None
        spawn(self._writes, self._shared.put(response_id, _encode(entry), self._ttl))

    async def settle(self) -> None:
        """Wait for the shared writes started so far, so the client's next turn finds them anywhere.

        A failed write (the backend lost, failing closed) is the guard's to count; the answer
        already produced still goes out.
        """
        if self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)

    async def fetch(self, response_id: str) -> None:
        """Make this worker's copy of ``response_id`` the fleet's: fetched, or dropped when deleted.

        The shared store is the authority while it answers (a response deleted through
        another replica is gone here too); while it is down, the local copy serves.
        """
        if self._shared is None:
            return
        raw = await self._shared.get(response_id)
        if raw is not None:
            now = self._clock.now()
            self._keep(response_id, _decode(raw, now + self._ttl), now)
        elif self._shared_up():
            self._discard(response_id)

    async def forget(self, response_id: str) -> None:
        """Delete ``response_id`` from the shared store too."""
        if self._shared is not None:
            await self._shared.delete(response_id)


def _encode(entry: StoredResponse) -> bytes:
    """A stored response as JSON for the shared store (its expiry is the store's TTL)."""
    talk = entry.conversation
    return orjson.dumps(
        {
            "body": entry.body.decode(),
            "model": entry.model,
            "messages": [[m.role, m.text, m.name] for m in talk.messages],
            "tokens": talk.tokens,
            "call_ids": sorted(talk.call_ids),
            "open_calls": list(talk.open_calls),
            "items": entry.items,
            "items_size": entry.items_size,
        }
    )


def _decode(raw: bytes, expires: float) -> StoredResponse:
    """The stored response ``_encode`` wrote."""
    data = orjson.loads(raw)
    conversation = Conversation(
        tuple(Message(role, text, name) for role, text, name in data["messages"]),
        int(data["tokens"]),
        frozenset(data["call_ids"]),
        tuple(data["open_calls"]),
    )
    items = tuple(data["items"])
    return StoredResponse(data["body"].encode(), data["model"], conversation, expires, items, int(data["items_size"]))
