"""The Redis implementation of the state protocols (``pip install 'llm-simulator[redis]'``).

One ``RedisState`` per worker holds the asyncio client (created on first use, inside the
worker's event loop), the ``Guard`` and the local stores it falls back to. Atomicity comes
from server-side scripts (``lua.py``) run with EVALSHA; redis-py's ``Script`` loads a
script again when Redis answers NOSCRIPT (after a restart or ``SCRIPT FLUSH``). Keys carry
``state.key_prefix``; caller identities (API keys) appear in keys only as hashes.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from llm_simulator.core.errors import SimulatorError
from llm_simulator.infra.buckets import Demand, Level, MemoryBucketStore, Refusal
from llm_simulator.infra.state import lua
from llm_simulator.infra.state.guard import Guard, OnError
from llm_simulator.infra.state.memory import MemoryBlobStore, MemoryDocument, MemoryStepStore

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.commands.core import AsyncScript

EXTRA_HINT = "the Redis state backend needs the 'redis' extra: pip install 'llm-simulator[redis]'"
# Seconds a bucket outlives the moment it is full again, and a scenario session's step.
BUCKET_MARGIN_S = 60.0
STEP_TTL_S = 86_400
# How long settlements of rate-limit buckets are gathered before one pipeline sends them.
ADJUST_WINDOW_S = 0.005


class StateBackendMissing(RuntimeError):
    """The ``redis`` package is not installed."""


class StateBackendUnreachable(RuntimeError):
    """Redis did not answer at start-up."""


def _redis_module() -> Any:
    """``redis`` itself, imported only when the Redis backend is selected."""
    try:
        import redis
        import redis.asyncio
        import redis.backoff
    except ImportError:
        raise StateBackendMissing(EXTRA_HINT) from None
    return redis


def _digest(text: str) -> str:
    """A short stable hash: keys never carry a caller's API key in clear."""
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def shown_url(url: str) -> str:
    """``url`` without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def check_reachable(url: str, timeout_s: float) -> None:
    """PING Redis once, synchronously (the CLI, before any worker starts); raise when it cannot."""
    redis = _redis_module()
    client = redis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)
    try:
        client.ping()
    except (redis.exceptions.RedisError, OSError) as exc:
        raise StateBackendUnreachable(f"state backend {shown_url(url)}: Redis is unreachable ({exc})") from None
    finally:
        client.close()


class RedisState:
    """The worker's connection to Redis, its guard and the scripts."""

    def __init__(self, url: str, *, on_error: OnError, prefix: str, timeout_s: float, retry_after_s: float) -> None:
        self._redis = _redis_module()
        self.url = url
        self.prefix = prefix
        self._timeout_s = timeout_s
        exceptions = self._redis.exceptions
        self.guard = Guard(on_error, retry_after_s, timeout_s, (exceptions.ConnectionError, exceptions.TimeoutError))
        self._client: Redis | None = None
        self._scripts: dict[str, AsyncScript] = {}

    @property
    def client(self) -> Redis:
        """The asyncio client (created in the running loop on first use; one quick retry)."""
        if self._client is None:
            redis = self._redis
            self._client = redis.asyncio.Redis.from_url(
                self.url,
                socket_timeout=self._timeout_s,
                socket_connect_timeout=self._timeout_s,
                # One immediate retry: a pooled connection Redis closed (a restart) is
                # replaced at once instead of counting as an outage.
                retry=redis.asyncio.retry.Retry(redis.backoff.NoBackoff(), 1),
                decode_responses=False,
            )
        return self._client

    def script(self, source: str) -> AsyncScript:
        """A registered script: EVALSHA, loaded again on NOSCRIPT."""
        script = self._scripts.get(source)
        if script is None:
            script = self.client.register_script(source)
            self._scripts[source] = script
        return script

    async def delete_matching(self, pattern: str) -> int:
        """Unlink every key matching ``prefix + pattern`` (admin resets; SCAN, never KEYS)."""
        deleted = 0
        async for key in self.client.scan_iter(match=self.prefix + pattern, count=1000):
            deleted += await self.client.unlink(key)
        return deleted

    async def count_matching(self, pattern: str) -> int:
        """How many keys match ``prefix + pattern``."""
        return sum([1 async for _ in self.client.scan_iter(match=self.prefix + pattern, count=1000)])

    async def aclose(self) -> None:
        """Close the connection pool."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None


class RedisBucketStore:
    """Token buckets in Redis: ``take`` is one script; adjustments are coalesced.

    A response's settlement (refund or late charge of its output estimate) need not land
    before the response ends: adjustments to one bucket within ``ADJUST_WINDOW_S`` are
    summed and sent together, one pipeline per window, so a busy replica pays one round
    trip per window instead of one per request.
    """

    def __init__(self, state: RedisState) -> None:
        self._state = state
        self.local = MemoryBucketStore()
        # bucket key → (the demand's shape, summed amount, the latest ``now``)
        self._adjustments: dict[str, tuple[Demand, float, float]] = {}
        self._flush: asyncio.Task[None] | None = None

    def _key(self, bucket: str) -> str:
        # The buckets of one caller and model share a hash tag, so one request's keys live
        # in one cluster slot (a multi-key script needs that on Redis Cluster).
        head, sep, budget = bucket.rpartition("\x1f")
        head, sep2, resource = head.rpartition("\x1f")
        if not sep or not sep2:
            return f"{self._state.prefix}rl:{{{_digest(bucket)}}}"
        return f"{self._state.prefix}rl:{{{_digest(head)}}}:{resource}:{budget}"

    async def take(self, demands: Sequence[Demand], now: float) -> tuple[list[Level], Refusal | None]:
        """Take every demand or none, atomically across the fleet."""
        return await self._state.guard.call(lambda: self._take(demands), lambda: self.local.take(demands, now))

    async def _take(self, demands: Sequence[Demand]) -> tuple[list[Level], Refusal | None]:
        args: list[float] = [BUCKET_MARGIN_S]
        for d in demands:
            args += (d.capacity, d.refill_per_s, d.amount)
        out = await self._state.script(lua.TAKE)(keys=[self._key(d.bucket) for d in demands], args=args)
        refused, wait = int(out[0]), float(out[1])
        levels = [float(x) for x in out[2:]]
        result = [Level(d.bucket, level, _full_in(level, d)) for d, level in zip(demands, levels, strict=True)]
        if refused == 0:
            return result, None
        index = refused - 1
        return result, Refusal(index, max(0.0, levels[index]), math.inf if wait < 0 else wait)

    async def adjust(self, demand: Demand, now: float) -> None:
        """Refund or charge late: queued, and sent with the window's other adjustments."""
        key = self._key(demand.bucket)
        queued = self._adjustments.get(key)
        total = demand.amount + (queued[1] if queued is not None else 0.0)
        self._adjustments[key] = (demand, total, now)
        if self._flush is None:
            self._flush = asyncio.ensure_future(self._send_adjustments())

    async def settle(self) -> None:
        """Wait until the queued adjustments are sent (shutdown, tests)."""
        if self._flush is not None:
            await self._flush

    async def _send_adjustments(self) -> None:
        """After the window, every queued adjustment in one pipeline (each an atomic script)."""
        await asyncio.sleep(ADJUST_WINDOW_S)
        batch, self._adjustments, self._flush = self._adjustments, {}, None
        script = self._state.script(lua.ADJUST)

        async def remote() -> None:
            async with self._state.client.pipeline(transaction=False) as pipe:
                for key, (demand, amount, _) in batch.items():
                    args = [BUCKET_MARGIN_S, demand.capacity, demand.refill_per_s, amount]
                    await script(keys=[key], args=args, client=pipe)
                await pipe.execute()

        async def fallback() -> None:
            for demand, amount, now in batch.values():
                await self.local.adjust(Demand(demand.bucket, demand.capacity, demand.refill_per_s, amount), now)

        with contextlib.suppress(SimulatorError):  # failing closed: a settlement has no one to answer
            await self._state.guard.call(remote, fallback)

    async def count(self) -> int:
        """Buckets tracked fleet-wide."""
        return await self._state.guard.call(lambda: self._state.count_matching("rl:*"), self.local.count)

    async def clear(self) -> None:
        """Refill every bucket fleet-wide (and the local fallback's)."""
        await self.local.clear()

        async def remote() -> None:
            await self._state.delete_matching("rl:*")

        await self._state.guard.call(remote, self.local.clear)


def _full_in(level: float, demand: Demand) -> float:
    """Seconds until the bucket is full: (capacity − level) / rate."""
    return 0.0 if level >= demand.capacity else (demand.capacity - level) / demand.refill_per_s


class RedisDocument:
    """A versioned document (``<prefix><name>`` and ``<prefix><name>:version``)."""

    def __init__(self, state: RedisState, name: str) -> None:
        self._state = state
        self._keys = [state.prefix + name, state.prefix + name + ":version"]
        self.local = MemoryDocument()

    async def publish(self, document: bytes) -> int:
        """Replace the document for every replica."""

        async def remote() -> int:
            return int(await self._state.script(lua.PUBLISH)(keys=self._keys, args=[document]))

        return await self._state.guard.quietly(remote, 0)

    async def publish_if_absent(self, document: bytes) -> bool:
        """Publish when no replica has yet."""

        async def remote() -> bool:
            return bool(await self._state.script(lua.PUBLISH_IF_ABSENT)(keys=self._keys, args=[document]))

        return await self._state.guard.quietly(remote, False)

    async def fetch_newer(self, known: int) -> tuple[int, bytes] | None:
        """The document when another replica published a newer one."""

        async def remote() -> tuple[int, bytes] | None:
            out = await self._state.script(lua.FETCH_NEWER)(keys=self._keys, args=[known])
            return (int(out[0]), bytes(out[1])) if out else None

        return await self._state.guard.quietly(remote, None)


class RedisMap:
    """Stamped entries in a hash (``<prefix><name>``, ``<prefix><name>:version``)."""

    def __init__(self, state: RedisState, name: str) -> None:
        self._state = state
        self._keys = [state.prefix + name, state.prefix + name + ":version"]

    async def set(self, name: str, value: str) -> int:
        """Set an entry for every replica; its stamp (0 while Redis is down)."""

        async def remote() -> int:
            return int(await self._state.script(lua.MAP_SET)(keys=self._keys, args=[name, value]))

        return await self._state.guard.quietly(remote, 0)

    async def entries_newer(self, known: int) -> tuple[int, dict[str, tuple[str, int]]] | None:
        """Every entry, when any was set after ``known``."""

        async def remote() -> tuple[int, dict[str, tuple[str, int]]] | None:
            out = await self._state.script(lua.MAP_NEWER)(keys=self._keys, args=[known])
            if not out:
                return None
            items = [x.decode() if isinstance(x, bytes) else str(x) for x in out]
            entries: dict[str, tuple[str, int]] = {}
            for field, raw in zip(items[1::2], items[2::2], strict=True):
                stamp, _, value = raw.partition(" ")
                entries[field] = (value, int(stamp))
            return int(items[0]), entries

        return await self._state.guard.quietly(remote, None)


class RedisStepStore:
    """Scenario session steps: ``<prefix>step:<hash of the session>``."""

    def __init__(self, state: RedisState) -> None:
        self._state = state
        self.local = MemoryStepStore()

    def _key(self, key: str) -> str:
        return f"{self._state.prefix}step:{_digest(key)}"

    async def get(self, key: str) -> int:
        """The session's next step."""

        async def remote() -> int:
            value = await self._state.client.get(self._key(key))
            return int(value) if value is not None else 0

        return await self._state.guard.call(remote, lambda: self.local.get(key))

    async def compare_and_set(self, key: str, expected: int, new: int) -> bool:
        """Advance the session unless another replica did first."""

        async def remote() -> bool:
            script = self._state.script(lua.COMPARE_AND_SET)
            return bool(await script(keys=[self._key(key)], args=[expected, new, STEP_TTL_S]))

        return await self._state.guard.call(remote, lambda: self.local.compare_and_set(key, expected, new))

    async def claim(self, key: str, limit: int) -> bool:
        """Take one use of a budget in one script: concurrent replicas never over-spend it."""

        async def remote() -> bool:
            script = self._state.script(lua.CLAIM)
            return bool(await script(keys=[self._key(key)], args=[limit, STEP_TTL_S]))

        return await self._state.guard.call(remote, lambda: self.local.claim(key, limit))

    async def clear(self) -> None:
        """Forget every session's step."""
        await self.local.clear()

        async def remote() -> None:
            await self._state.delete_matching("step:*")

        await self._state.guard.call(remote, self.local.clear)


class RedisBlobStore:
    """Expiring bytes: ``<prefix><namespace>:<key>`` with a TTL."""

    def __init__(self, state: RedisState, namespace: str) -> None:
        self._state = state
        self._namespace = namespace
        self.local = MemoryBlobStore()

    def _key(self, key: str) -> str:
        return f"{self._state.prefix}{self._namespace}:{key}"

    async def put(self, key: str, value: bytes, ttl_s: float) -> None:
        """Store for ``ttl_s`` seconds."""

        async def remote() -> None:
            await self._state.client.set(self._key(key), value, px=max(1, int(ttl_s * 1000)))

        await self._state.guard.call(remote, lambda: self.local.put(key, value, ttl_s))

    async def get(self, key: str) -> bytes | None:
        """The value, or None."""

        async def remote() -> bytes | None:
            value = await self._state.client.get(self._key(key))
            return value.encode() if isinstance(value, str) else value

        return await self._state.guard.call(remote, lambda: self.local.get(key))

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        """Each value, or None: one pipeline of GETs (not MGET: the keys may sit in different cluster slots)."""
        if not keys:
            return []

        async def remote() -> list[bytes | None]:
            async with self._state.client.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.get(self._key(key))
                values = await pipe.execute()
            return [value.encode() if isinstance(value, str) else value for value in values]

        return await self._state.guard.call(remote, lambda: self.local.get_many(keys))

    async def delete(self, key: str) -> bool:
        """Forget a key."""

        async def remote() -> bool:
            return bool(await self._state.client.delete(self._key(key)))

        return await self._state.guard.call(remote, lambda: self.local.delete(key))


class RedisCounters:
    """Named counters summed over the fleet: one hash ``<prefix><namespace>:<key>`` with a TTL.

    Nothing falls back to memory: each process keeps its own counts beside (a read while
    Redis is unreachable is None, and the caller shows those; an add that failed is False,
    and the caller adds those counts again later: one whose reply timed out after Redis ran
    it is then counted twice).
    """

    def __init__(self, state: RedisState, namespace: str) -> None:
        self._state = state
        self._namespace = namespace

    def _key(self, key: str) -> str:
        return f"{self._state.prefix}{self._namespace}:{key}"

    async def add(self, key: str, deltas: Mapping[str, int], ttl_s: float) -> bool:
        """Add ``deltas`` in one script (HINCRBY each, then PEXPIRE); False when Redis is unreachable."""
        args: list[str | int] = []
        for name, delta in deltas.items():
            args += [name, delta]
        args.append(max(1, int(ttl_s * 1000)))

        async def remote() -> bool:
            await self._state.script(lua.COUNTERS_ADD)(keys=[self._key(key)], args=args)
            return True

        return await self._state.guard.quietly(remote, False)

    async def read(self, key: str, ttl_s: float | None = None) -> dict[str, int] | None:
        """Every counter of the key (HGETALL); with ``ttl_s``, one script that also extends its TTL."""

        async def remote() -> dict[str, int] | None:
            if ttl_s is None:
                raw = await self._state.client.hgetall(self._key(key))
                return {_text(name): int(value) for name, value in raw.items()}
            script = self._state.script(lua.COUNTERS_READ_KEEP)
            flat = await script(keys=[self._key(key)], args=[max(1, int(ttl_s * 1000))])
            return {_text(name): int(value) for name, value in zip(flat[::2], flat[1::2], strict=True)}

        return await self._state.guard.quietly(remote, None)

    async def read_many(self, keys: Sequence[str]) -> list[dict[str, int]] | None:
        """Every counter of each key: one pipeline of HGETALLs, so one round trip for any number of keys."""
        if not keys:
            return []

        async def remote() -> list[dict[str, int]] | None:
            async with self._state.client.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.hgetall(self._key(key))
                replies = await pipe.execute()
            return [{_text(name): int(value) for name, value in raw.items()} for raw in replies]

        return await self._state.guard.quietly(remote, None)

    async def delete(self, key: str) -> bool:
        """Forget the key's counters."""

        async def remote() -> bool:
            return bool(await self._state.client.delete(self._key(key)))

        return await self._state.guard.quietly(remote, False)

    async def keys(self) -> list[str]:
        """Every key with counters (SCAN, never KEYS)."""
        head = self._key("")

        async def remote() -> list[str]:
            found = self._state.client.scan_iter(match=head + "*", count=1000)
            return [_text(key)[len(head) :] async for key in found]

        return await self._state.guard.quietly(remote, [])


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RedisRecordList:
    """A capped Redis list of ``<seq> LF <record>`` strings and its sequence counter."""

    def __init__(self, state: RedisState, name: str) -> None:
        self._state = state
        self._keys = [state.prefix + name, state.prefix + name + ":seq"]

    async def append(self, record: bytes, keep: int) -> int:
        """Add a record (atomically numbered and capped)."""

        async def remote() -> int:
            return int(await self._state.script(lua.APPEND_RECORD)(keys=self._keys, args=[record, keep]))

        return await self._state.guard.quietly(remote, 0)

    async def read(self) -> list[tuple[int, bytes]] | None:
        """Every kept record, oldest first; None while Redis is down (the caller keeps its own)."""

        async def remote() -> list[tuple[int, bytes]] | None:
            out = []
            for item in await self._state.client.lrange(self._keys[0], 0, -1):
                seq, _, record = (item.encode() if isinstance(item, str) else item).partition(b"\n")
                out.append((int(seq), record))
            return out

        return await self._state.guard.quietly(remote, None)

    async def clear(self) -> int:
        """Forget every record (the sequence keeps counting)."""

        async def remote() -> int:
            async with self._state.client.pipeline(transaction=True) as pipe:
                pipe.llen(self._keys[0])
                pipe.delete(self._keys[0])
                count, _ = await pipe.execute()
            return int(count)

        return await self._state.guard.quietly(remote, 0)

    async def remove(self, records: Sequence[tuple[int, bytes]]) -> int:
        """Forget these records (a test scope's journal entries); how many were still kept."""

        async def remote() -> int:
            async with self._state.client.pipeline(transaction=True) as pipe:
                for seq, record in records:
                    # redis-py sends bytes as they are (its stub asks for str).
                    pipe.lrem(self._keys[0], 1, b"%d\n%s" % (seq, record))  # type: ignore[arg-type]
                removed = await pipe.execute()
            return sum(int(n) for n in removed)

        return await self._state.guard.quietly(remote, 0) if records else 0
