"""The Redis stores against a real redis-server: atomic buckets, documents, steps, blobs, faults."""

from __future__ import annotations

import asyncio
import math

import pytest

from llm_simulator.core.errors import ErrorKind, SimulatorError
from llm_simulator.infra.buckets import Demand, MemoryBucketStore
from llm_simulator.infra.state.backends import RedisStores
from tests.state.redis_server import RedisServer


def _stores(server: RedisServer, on_error: str = "fail_open", retry_after_s: float = 0.2) -> RedisStores:
    return RedisStores(server.url, on_error=on_error, prefix="t:", timeout_s=0.3, retry_after_s=retry_after_s)  # type: ignore[arg-type]


async def test_take_is_exact_under_concurrency_and_agrees_with_memory(redis_server: RedisServer) -> None:
    redis = _stores(redis_server)
    buckets = redis.stores.buckets
    # 50 concurrent takes against a bucket of 20 that refills once a minute: exactly 20.
    demands = [Demand("0\x1fkey\x1fgpt\x1frequests\x1fminute", 20.0, 20 / 60, 1.0)]
    results = await asyncio.gather(*(buckets.take(demands, 0.0) for _ in range(50)))
    admitted = sum(1 for _, refusal in results if refusal is None)
    assert admitted == 20
    levels, refusal = await buckets.take(demands, 0.0)
    assert refusal is not None and refusal.index == 0
    assert 0 <= refusal.retry_after_s <= 3.5  # one unit at 1/3 per second
    # The memory store answers the same shape for the same sequence.
    memory = MemoryBucketStore()
    for _ in range(20):
        await memory.take(demands, 0.0)
    mem_levels, mem_refusal = await memory.take(demands, 0.0)
    assert mem_refusal is not None and mem_refusal.index == refusal.index
    assert levels[0].remaining == pytest.approx(mem_levels[0].remaining, abs=0.2)
    assert await buckets.count() == 1
    await buckets.clear()
    assert await buckets.count() == 0
    await redis.aclose()


async def test_take_is_all_or_nothing_and_adjust_refunds(redis_server: RedisServer) -> None:
    redis = _stores(redis_server)
    buckets = redis.stores.buckets
    requests = Demand("0\x1fk\x1fm\x1frequests\x1fminute", 10.0, 10 / 60, 1.0)
    tokens = Demand("0\x1fk\x1fm\x1ftokens\x1fminute", 100.0, 100 / 60, 80.0)
    _, refusal = await buckets.take([requests, tokens], 0.0)
    assert refusal is None
    levels, refusal = await buckets.take([requests, tokens], 0.0)
    assert refusal is not None and refusal.index == 1
    assert levels[0].remaining == pytest.approx(9.0, abs=0.1)  # the request budget was not charged
    # A demand larger than the bucket can ever hold is refused for good.
    _, never = await buckets.take([Demand(tokens.bucket, 100.0, 100 / 60, 500.0)], 0.0)
    assert never is not None and math.isinf(never.retry_after_s)
    # Two refunds in one window travel together.
    await buckets.adjust(Demand(tokens.bucket, 100.0, 100 / 60, -30.0), 0.0)
    await buckets.adjust(Demand(tokens.bucket, 100.0, 100 / 60, -30.0), 0.0)
    await redis.buckets.settle()
    levels, refusal = await buckets.take([requests, tokens], 0.0)
    assert refusal is None, levels
    await redis.aclose()


async def test_document_steps_and_blobs(redis_server: RedisServer) -> None:
    redis = _stores(redis_server)
    other = _stores(redis_server)
    doc, doc2 = redis.stores.chaos, other.stores.chaos
    assert await doc.publish_if_absent(b'{"a":1}')
    assert not await doc2.publish_if_absent(b'{"a":2}')
    first = await doc2.fetch_newer(0)
    assert first is not None and first[1] == b'{"a":1}'
    version = await doc2.publish(b'{"a":3}')
    assert version > first[0]
    assert await doc.fetch_newer(first[0]) == (version, b'{"a":3}')
    assert await doc.fetch_newer(version) is None
    # Redis restarted empty: the next document still has a newer version than any seen.
    redis_server.stop()
    redis_server.start()
    assert (await doc.publish(b'{"a":4}')) > version
    assert redis.stores.guard is not None and redis.stores.guard.errors == 0  # a reconnect, not an outage
    steps, steps2 = redis.stores.steps, other.stores.steps
    assert await steps.get("session") == 0
    assert await steps.compare_and_set("session", 0, 1)
    assert not await steps2.compare_and_set("session", 0, 1)
    assert await steps2.get("session") == 1
    blobs, blobs2 = redis.stores.responses, other.stores.responses
    await blobs.put("resp_1", b"body", 60.0)
    assert await blobs2.get("resp_1") == b"body"
    assert await blobs2.delete("resp_1")
    assert await blobs.get("resp_1") is None
    await redis.aclose()
    await other.aclose()


async def test_fail_open_falls_back_and_recovers(redis_server: RedisServer) -> None:
    redis = _stores(redis_server, retry_after_s=0.2)
    buckets = redis.stores.buckets
    demand = [Demand("0\x1fk\x1fm\x1frequests\x1fminute", 5.0, 5 / 60, 1.0)]
    await buckets.take(demand, 0.0)
    guard = redis.stores.guard
    assert guard is not None and guard.up
    redis_server.stop()
    loop = asyncio.get_running_loop()
    started = loop.time()
    _, refusal = await buckets.take(demand, 0.0)  # from local state
    assert refusal is None
    assert (guard.up, guard.errors) == (False, 1)
    assert loop.time() - started < 2.0  # short socket timeouts: no hang
    _, refusal = await buckets.take(demand, 0.0)  # straight to the fallback while down
    assert (guard.errors, guard.fallbacks) == (1, 2)
    redis_server.start()
    await asyncio.sleep(0.3)
    levels, refusal = await buckets.take(demand, 0.0)
    assert (guard.up, guard.transitions) == (True, 2)
    # A restarted, empty Redis: the bucket came back full.
    assert refusal is None and levels[0].remaining == pytest.approx(4.0, abs=0.1)
    await redis.aclose()


async def test_fail_closed_refuses_with_unavailable(redis_server: RedisServer) -> None:
    redis = _stores(redis_server, on_error="fail_closed")
    buckets = redis.stores.buckets
    demand = [Demand("0\x1fk\x1fm\x1frequests\x1fminute", 5.0, 5 / 60, 1.0)]
    redis_server.stop()
    with pytest.raises(SimulatorError) as caught:
        await buckets.take(demand, 0.0)
    assert caught.value.kind is ErrorKind.UNAVAILABLE and caught.value.code == "state_backend_unavailable"
    assert redis.stores.guard is not None and redis.stores.guard.refusals == 1
    await redis.aclose()


async def test_scripts_are_loaded_again_after_script_flush(redis_server: RedisServer) -> None:
    redis = _stores(redis_server)
    buckets = redis.stores.buckets
    demand = [Demand("0\x1fk\x1fm\x1frequests\x1fminute", 5.0, 5 / 60, 1.0)]
    await buckets.take(demand, 0.0)
    await redis.state.client.script_flush()
    levels, refusal = await buckets.take(demand, 0.0)  # EVALSHA → NOSCRIPT → loaded again
    assert refusal is None and levels[0].remaining == pytest.approx(3.0, abs=0.1)
    assert redis.stores.guard is not None and redis.stores.guard.errors == 0
    await redis.aclose()


async def test_keys_never_hold_an_api_key_in_clear(redis_server: RedisServer) -> None:
    redis = _stores(redis_server)
    await redis.stores.buckets.take([Demand("0\x1fsk-secret-key\x1fgpt\x1frequests\x1fminute", 5.0, 1.0, 1.0)], 0.0)
    keys = [bytes(k).decode() async for k in redis.state.client.scan_iter(match="t:*")]
    assert len(keys) == 1 and "sk-secret" not in keys[0] and keys[0].startswith("t:rl:{")
    await redis.aclose()


async def test_map_entries_are_stamped_and_followed(redis_server: RedisServer) -> None:
    redis, other = _stores(redis_server), _stores(redis_server)
    shared, follower = redis.stores.breakers, other.stores.breakers
    assert await follower.entries_newer(0) is None
    first = await shared.set("gpt-4.1", "open")
    second = await shared.set("", "closed")
    assert second > first > 0
    newer = await follower.entries_newer(0)
    assert newer == (second, {"gpt-4.1": ("open", first), "": ("closed", second)})
    assert await follower.entries_newer(second) is None
    await redis.aclose()
    await other.aclose()


async def test_scope_counters_and_documents_read_in_one_pipeline_and_a_keeping_read_extends_the_ttl(
    redis_server: RedisServer,
) -> None:
    redis = _stores(redis_server)
    counters = redis.stores.scope_counters
    assert counters is not None
    assert await counters.add("a", {"requests": 2, "200": 2}, 1.0)
    assert await counters.add("b", {"requests": 1}, 1.0)
    assert await counters.read_many(["a", "missing", "b"]) == [{"requests": 2, "200": 2}, {}, {"requests": 1}]
    assert await counters.read_many([]) == []
    key = "t:scope-counters:a"
    assert 0 < await redis.state.client.pttl(key) <= 1000
    assert await counters.read("a") == {"requests": 2, "200": 2}  # a plain read leaves the TTL alone
    assert await redis.state.client.pttl(key) <= 1000
    assert await counters.read("a", 60.0) == {"requests": 2, "200": 2}  # a keeping read extends it
    assert 59_000 < await redis.state.client.pttl(key) <= 60_000
    assert await counters.read("missing", 60.0) == {}
    assert not await redis.state.client.exists("t:scope-counters:missing")  # never created by a read
    documents = redis.stores.scopes
    await documents.put("a", b"settings", 60.0)
    assert await documents.get_many(["a", "missing"]) == [b"settings", None]
    assert await documents.get_many([]) == []
    redis_server.stop()  # unreachable: None, and the caller shows its own counts
    assert await counters.read_many(["a"]) is None
    assert await counters.read("a", 60.0) is None
    await redis.aclose()
