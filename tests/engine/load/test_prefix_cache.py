"""Prefix caching and block accounting: full-block hits, registration, LRU eviction, refcounts."""

from __future__ import annotations

import pytest

from llm_simulator.engine.load.kvcache import KvCache
from tests.engine.load.helpers import Driver, replica, seq

HASHES = (1, 2, 3, 4, 5, 6)


def test_a_second_request_with_the_same_prefix_computes_fewer_tokens() -> None:
    rep = replica(prefix_caching=True, block_size=16)
    drv = Driver(rep)
    first = seq(1, 100, 2, hashes=HASHES)
    rep.enqueue(first)
    drv.run()
    assert first.cached_tokens == 0
    again = seq(2, 100, 2, hashes=HASHES)
    assert rep.peek_cached_tokens(again) == 96
    rep.enqueue(again)
    batch = drv.step()
    assert batch is not None and batch.prefill_tokens == 4  # 6 full blocks (96 tokens) were cached
    assert again.cached_tokens == 96
    drv.run()
    other = seq(3, 100, 2, hashes=(11, 12, 13, 14, 15, 16))
    assert rep.peek_cached_tokens(other) == 0
    rep.enqueue(other)
    batch = drv.step()
    assert batch is not None and batch.prefill_tokens == 100 and other.cached_tokens == 0
    assert (rep.kv.lookups, rep.kv.hits) == (300, 96)


def test_at_least_one_token_is_always_computed() -> None:
    rep = replica(prefix_caching=True, block_size=16)
    drv = Driver(rep)
    rep.enqueue(seq(1, 96, 1, hashes=HASHES))
    drv.run()
    exact = seq(2, 96, 1, hashes=HASHES)  # every block cached, but one token must run to sample
    assert rep.peek_cached_tokens(exact) == 80  # what admission will find: whole blocks only
    rep.enqueue(exact)
    batch = drv.step()
    assert batch is not None and batch.prefill_tokens == 16 and exact.cached_tokens == 80


def test_a_partial_block_never_hits() -> None:
    rep = replica(prefix_caching=True, block_size=16)
    drv = Driver(rep)
    rep.enqueue(seq(1, 40, 1, hashes=(1, 2)))  # 2 full blocks and 8 tokens
    drv.run()
    assert rep.kv.cached_prefix((1, 2, 3)) == 2


def test_blocks_register_as_chunks_complete_and_are_shared_while_held() -> None:
    rep = replica(prefix_caching=True, block_size=16, max_num_batched_tokens=2048)
    drv = Driver(rep)
    hashes = tuple(range(1, 132))  # 2100 tokens: 131 full blocks
    first = seq(1, 2100, 5, hashes=hashes)
    rep.enqueue(first)
    drv.step()
    assert rep.kv.cached_prefix(hashes) == 128  # the first 2048-token chunk's blocks, already
    second = seq(2, 2100, 5, hashes=hashes)
    rep.enqueue(second)
    batch = drv.step()  # first finishes its prompt (52 tokens); second reuses the 128 blocks
    assert batch is not None and batch.progress == [52, 2100 - 2048]
    assert second.cached_tokens == 128 * 16
    assert second.shared[:128] == list(hashes[:128])  # references, not copies
    used = rep.kv.used
    assert used == 132 + (132 - 128)  # first's 132 blocks; second's last 4 (3 full, 1 partial)
    drv.run()
    assert rep.kv.used == 0 and rep.kv.available == rep.kv.total_blocks


def test_eviction_is_least_recently_used_and_takes_the_tail_of_a_prefix_first() -> None:
    rep = replica(prefix_caching=True, block_size=16, kv_blocks=8, watermark=0.0)
    drv = Driver(rep)
    rep.enqueue(seq(1, 48, 1, hashes=(1, 2, 3)))
    drv.run()
    assert rep.kv.cached_prefix((1, 2, 3)) == 3 and rep.kv.free_blocks == 5
    rep.enqueue(seq(2, 96, 1, hashes=(10, 11, 12, 13, 14, 15)))  # needs 6: one parked block goes
    drv.run()
    # vLLM frees a request's blocks tail first, so the tail is evicted first and the head
    # of the prefix (what the next request would hit) stays useful.
    assert rep.kv.cached_prefix((1, 2, 3)) == 2


def test_lru_order_follows_last_use() -> None:
    kv = KvCache(4, 16, prefix_caching=True)
    for h in (100, 200, 300):
        assert kv.allocate(1)
        assert kv.register(h)
        kv.release(0, [h])  # its holder ended: parked
    kv.acquire_prefix((100,), 1)  # a hit on 100 makes it the most recently used
    kv.release(0, [100])
    assert kv.allocate(3)  # 1 free + 2 evicted: 200 then 300
    assert [kv.cached_prefix((h,)) for h in (100, 200, 300)] == [1, 0, 0]
    assert kv.invariant_errors(3, {}) == []


def test_refcounts_follow_holders_and_never_go_negative() -> None:
    rep = replica(prefix_caching=True, block_size=16)
    drv = Driver(rep)
    a = seq(1, 64, 50, hashes=(1, 2, 3, 4))
    rep.enqueue(a)
    drv.step()
    b = seq(2, 64, 50, hashes=(1, 2, 3, 4))
    rep.enqueue(b)
    drv.step()  # b holds a's first 3 blocks (the 4th is recomputed: one token must run)
    assert b.shared == [1, 2, 3]
    rep.check_invariants()
    rep.abort(a)
    rep.check_invariants()
    rep.abort(b)
    rep.check_invariants()
    assert rep.kv.used == 0 and rep.kv.cached_prefix((1, 2, 3, 4)) == 4


def test_invariant_errors_name_what_is_wrong() -> None:
    kv = KvCache(4, 16, prefix_caching=True)
    assert kv.allocate(2)
    assert kv.invariant_errors(2, {}) == []
    assert kv.invariant_errors(1, {}) != []
    assert kv.register(7)
    assert any("holders" in e for e in kv.invariant_errors(1, {}))
    assert kv.invariant_errors(1, {7: 1}) == []


def test_bad_cache_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="at least one block"):
        KvCache(0)


def test_a_failed_admission_leaves_the_lru_order_alone() -> None:
    rep = replica(prefix_caching=True, block_size=16, kv_blocks=10, watermark=0.0)
    drv = Driver(rep)
    for i, h in enumerate((1, 2)):
        rep.enqueue(seq(i, 16, 1, hashes=(h,)))
        drv.run()  # 1 then 2 parked: 1 is the least recently used
    runner = seq(5, 112, 40)
    rep.enqueue(runner)
    drv.step()  # 7 blocks: 1 free, 2 parked
    blocked = seq(6, 64, 1, hashes=(1, 50, 51, 52))  # hits block 1 but needs 3 more: cannot start
    rep.enqueue(blocked)
    for _ in range(17):  # runner's 1st output block takes the free one, its 2nd evicts one
        drv.step()
    assert blocked in rep.waiting
    assert [rep.kv.cached_prefix((h,)) for h in (1, 2)] == [0, 1]
