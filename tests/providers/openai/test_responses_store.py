"""The bounded, expiring store of Responses API objects (in process, on a fake clock)."""

from __future__ import annotations

from llm_simulator.infra.clock import FakeClock
from llm_simulator.providers.openai.responses_store import EMPTY_CONVERSATION, ResponseStore


def test_least_recently_used_entry_is_evicted_first() -> None:
    store = ResponseStore(FakeClock(), max_entries=2, ttl_s=60)
    store.put("a", b"{}", "m", EMPTY_CONVERSATION)
    store.put("b", b"{}", "m", EMPTY_CONVERSATION)
    assert store.get("a") is not None  # "a" is now the most recently used
    store.put("c", b"{}", "m", EMPTY_CONVERSATION)
    assert store.get("b") is None
    assert store.get("a") is not None and store.get("c") is not None
    assert len(store) == 2


def test_entries_expire() -> None:
    clock = FakeClock()
    store = ResponseStore(clock, max_entries=10, ttl_s=60)
    store.put("a", b"{}", "m", EMPTY_CONVERSATION)
    clock.advance_to(clock.now() + 30)
    store.put("b", b"{}", "m", EMPTY_CONVERSATION)
    clock.advance_to(clock.now() + 31)
    assert store.get("a") is None
    assert store.get("b") is not None
    store.put("c", b"{}", "m", EMPTY_CONVERSATION)
    clock.advance_to(clock.now() + 120)
    store.put("d", b"{}", "m", EMPTY_CONVERSATION)  # sweeps the expired entries at the front
    assert len(store) == 1


def test_delete() -> None:
    store = ResponseStore(FakeClock())
    store.put("a", b"{}", "m", EMPTY_CONVERSATION)
    assert store.delete("a") is True
    assert store.delete("a") is False
    assert store.get("a") is None


def test_the_byte_budget_evicts_the_least_recently_used() -> None:
    store = ResponseStore(FakeClock(), max_entries=100, ttl_s=60, max_bytes=250)
    for name in "abc":
        store.put(name, b"x" * 100, "m", EMPTY_CONVERSATION)
    assert store.get("a") is None  # 300 bytes would be over the budget
    assert store.get("b") is not None and store.get("c") is not None
    assert store.bytes == 200
    store.put("huge", b"x" * 1000, "m", EMPTY_CONVERSATION)  # bigger than the whole budget
    assert store.get("huge") is None and len(store) == 2
    store.put("b", b"y" * 10, "m", EMPTY_CONVERSATION)  # replacing an entry re-counts it
    assert store.bytes == 110
    assert store.delete("c") and store.bytes == 10
