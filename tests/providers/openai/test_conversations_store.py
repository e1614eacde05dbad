"""The conversation store's bounds: count and bytes, least recently used first; items per conversation."""

from __future__ import annotations

import pytest

from llm_simulator.core.errors import SimulatorError
from llm_simulator.infra.clock import FakeClock
from llm_simulator.providers.openai import conversations
from llm_simulator.providers.openai.conversations import ConversationStore, stored_items


def test_least_recently_used_conversations_go_first() -> None:
    store = ConversationStore(FakeClock(), max_conversations=2)
    a, b = store.create({}), store.create({})
    assert store.get(a.id) is a  # a is now the most recent
    store.create({})
    assert store.get(b.id) is None and store.get(a.id) is a and len(store) == 2


def test_bytes_are_bounded_and_accounted() -> None:
    store = ConversationStore(FakeClock(), max_bytes=2_000)
    a = store.create({})
    store.append(a, stored_items([{"role": "user", "content": "x" * 1_000}]))
    held = store.bytes
    assert held > 1_000
    b = store.create({})
    store.append(b, stored_items([{"role": "user", "content": "y" * 1_500}]))
    assert store.get(a.id) is None and store.get(b.id) is b and store.bytes < 2_000
    store.remove_item(b, next(iter(b.items)))
    assert store.bytes == 0
    store.delete(b.id)
    assert len(store) == 0


def test_items_per_conversation_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conversations, "MAX_ITEMS", 2)
    store = ConversationStore(FakeClock())
    c = store.create({})
    store.append(c, stored_items([{"role": "user", "content": "a"}] * 2))
    with pytest.raises(SimulatorError):
        store.append(c, stored_items([{"role": "user", "content": "b"}]))
