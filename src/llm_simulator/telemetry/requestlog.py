"""The request log and journal: what the simulator received and what it answered.

Off by default for the whole server (bodies can be large and hold user data), on by
default for test scopes (``scoped``): a request carrying a test id (``core/test_scope.py``)
is journaled in its scope even when the global log is off. Every kept request is one entry:
method, path, query, headers with credentials masked, the body (parsed JSON when it is JSON,
else text; truncated past the configured size), the outcome (status, provider, endpoint,
model, duration) and the answer (``telemetry/journal.py``: error, finish reason, usage, text
and tool calls, chaos fault, fixture). The global ring and each scope's ring are bounded
(oldest dropped first), and so is the number of scopes (the least recently written dropped).

With a shared state backend every entry is also appended to the fleet's capped list, and
``fleet_entries`` reads that one (numbered by one fleet-wide sequence), so
``GET /admin/requests`` on any replica lists what the whole fleet received; the fleet list's
one cap (``max_entries``) then bounds the scopes too. While the backend is down, this
replica's own rings answer.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict, deque
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from llm_simulator.config.requestlog import RequestLogConfig
from llm_simulator.core.record import RequestRecord
from llm_simulator.core.redact import is_secret_header, mask
from llm_simulator.core.test_scope import is_valid_test_id
from llm_simulator.infra.state import RecordList
from llm_simulator.infra.state.guard import spawn
from llm_simulator.telemetry.journal import JournalQuery, answer_fields

# Longest header or query value kept (a refused request may carry 64 kB of headers).
MAX_VALUE_CHARS = 1024
# Every entry, for a read without filters.
EVERYTHING = JournalQuery()


def _clip(value: str) -> str:
    return value if len(value) <= MAX_VALUE_CHARS else value[:MAX_VALUE_CHARS] + "…"


class RequestLog:
    """A ring of recent requests, a ring per test scope, and a running sequence number."""

    def __init__(self, config: RequestLogConfig) -> None:
        self.enabled = config.enabled
        self.scoped = config.scoped
        self.max_body = config.max_body_bytes
        self._max = config.max_entries
        self._entries: deque[dict[str, Any]] = deque(maxlen=config.max_entries)
        self._scopes: OrderedDict[str, deque[dict[str, Any]]] = OrderedDict()
        self._max_scopes = config.max_scopes
        self._per_scope = config.max_entries_per_scope
        self._seq = 0
        self._shared: RecordList | None = None
        self._writes: set[asyncio.Task[Any]] = set()

    def share(self, records: RecordList | None) -> None:
        """Append to the fleet's list too (None: this worker only)."""
        self._shared = records

    def keeps(self, rec: RequestRecord) -> bool:
        """Whether ``rec``'s request is logged: the log is on, or it is a scoped request and scopes are."""
        return (self.enabled or (rec.test_id is not None and self.scoped)) and not rec.quiet

    def add(
        self,
        rec: RequestRecord,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        body: bytes,
        duration_s: float,
    ) -> None:
        """Keep one finished request (the caller has checked ``keeps``)."""
        self._seq += 1
        entry = {
            "seq": self._seq,
            "request_id": rec.request_id,
            "ts": rec.started_wall,
            "method": rec.method,
            "path": rec.path,
            "query": {k: (mask(v) if is_secret_header(k) else _clip(v)) for k, v in query.items()},
            "headers": {k: (mask(v) if is_secret_header(k) else _clip(v)) for k, v in headers.items()},
            "body": self._body(body, headers.get("content-type", "")),
            "provider": rec.provider,
            "endpoint": rec.endpoint,
            "model": rec.model or None,
            "stream": rec.stream,
            "status": rec.status,
            "error_type": rec.error_type or None,
            "duration_ms": round(duration_s * 1000, 3),
            "route": rec.route,
            **answer_fields(rec),
        }
        if self.enabled:
            self._entries.append(entry)
        test_id = rec.test_id
        if test_id is not None and self.scoped and is_valid_test_id(test_id):
            self._scope(test_id).append(entry)
        if self._shared is not None:
            spawn(self._writes, self._shared.append(orjson.dumps(entry), self._max))

    def _scope(self, test_id: str) -> deque[dict[str, Any]]:
        """The ring of ``test_id`` (created on first use), now the most recently written."""
        ring = self._scopes.get(test_id)
        if ring is None:
            ring = self._scopes[test_id] = deque(maxlen=self._per_scope)
            if len(self._scopes) > self._max_scopes:
                self._scopes.popitem(last=False)
        else:
            self._scopes.move_to_end(test_id)
        return ring

    def _body(self, body: bytes, content_type: str) -> Any:
        if not body:
            return None
        truncated = len(body) > self.max_body
        if not truncated and "json" in content_type:
            try:
                return orjson.loads(body)
            except orjson.JSONDecodeError:
                pass
        text = body[: self.max_body].decode("utf-8", "replace")
        return {"truncated": True, "text": text, "bytes": len(body)} if truncated else text

    def _local(self, query: JournalQuery) -> Iterable[dict[str, Any]]:
        """The entries of this worker a read looks through: the scope's own ring when it names one.

        With the global log off, every scope's entries in order (as the fleet's list holds them).
        """
        if query.test_id is not None:
            ring = self._scopes.get(query.test_id)
            if ring is not None:
                return ring
        if not self.enabled and self._scopes:
            return sorted((e for ring in self._scopes.values() for e in ring), key=lambda e: e["seq"])
        return self._entries

    def entries(self, query: JournalQuery = EVERYTHING) -> list[dict[str, Any]]:
        """Kept entries matching ``query``, oldest first."""
        return query.select(self._local(query))

    async def _fleet_kept(self) -> list[tuple[int, bytes]] | None:
        """The fleet's list (None when not shared or while the backend is down), after our writes land."""
        if self._shared is None:
            return None
        if self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)
        return await self._shared.read()

    async def fleet_entries(self, query: JournalQuery = EVERYTHING) -> tuple[list[dict[str, Any]], int]:
        """As ``entries``, from the fleet's list when shared; and the newest sequence number."""
        kept = await self._fleet_kept()
        if kept is None:  # this worker's own
            return self.entries(query), self._seq
        out = []
        for seq, raw in kept:
            entry = orjson.loads(raw)
            entry["seq"] = seq
            out.append(entry)
        last = kept[-1][0] if kept else 0
        return query.select(out), last

    async def fleet_clear(self, test_id: str | None = None) -> int:
        """As ``clear``, for the fleet's list too when shared."""
        count = self.clear(test_id)
        shared = self._shared
        kept = await self._fleet_kept()
        if kept is None or shared is None:
            return count
        if test_id is None:
            return await shared.clear()
        return await shared.remove([(seq, raw) for seq, raw in kept if orjson.loads(raw).get("test_id") == test_id])

    def clear(self, test_id: str | None = None) -> int:
        """Forget every entry, or one test scope's; the number forgotten."""
        if test_id is None:
            # An entry can be in the global ring and in its scope's: count it once.
            count = len({id(e) for ring in (self._entries, *self._scopes.values()) for e in ring})
            self._entries.clear()
            self._scopes.clear()
            return count
        ring = self._scopes.pop(test_id, None)
        others = [e for e in self._entries if e.get("test_id") != test_id]
        count = len({id(e) for e in ring or ()} | {id(e) for e in self._entries if e.get("test_id") == test_id})
        if len(others) != len(self._entries):
            self._entries = deque(others, maxlen=self._max)
        return count

    @property
    def last_seq(self) -> int:
        """The sequence number of the newest entry ever added (0 if none)."""
        return self._seq
