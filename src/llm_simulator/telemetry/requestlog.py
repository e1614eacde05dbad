"""The request log: what the simulator received, for tests that assert on their own calls.

Off by default (bodies can be large and hold user data). When on, every finished request
adds one entry to a bounded ring (oldest dropped first): method, path, query, headers with
credentials masked, the body (parsed JSON when it is JSON, else text; truncated past the
configured size), and the outcome (status, provider, endpoint, model, duration).

With a shared state backend every entry is also appended to the fleet's capped list, and
``fleet_entries`` reads that one (numbered by one fleet-wide sequence), so
``GET /admin/requests`` on any replica lists what the whole fleet received. While the
backend is down, this replica's own ring answers.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Mapping
from typing import Any

import orjson

from llm_simulator.config.requestlog import RequestLogConfig
from llm_simulator.core.record import RequestRecord
from llm_simulator.core.redact import is_secret_header, mask
from llm_simulator.infra.state import RecordList
from llm_simulator.infra.state.guard import spawn

# Longest header or query value kept (a refused request may carry 64 kB of headers).
MAX_VALUE_CHARS = 1024


def _clip(value: str) -> str:
    return value if len(value) <= MAX_VALUE_CHARS else value[:MAX_VALUE_CHARS] + "…"


class RequestLog:
    """A ring of recent requests with a running sequence number (stable across truncation)."""

    def __init__(self, config: RequestLogConfig) -> None:
        self.enabled = config.enabled
        self.max_body = config.max_body_bytes
        self._max = config.max_entries
        self._entries: deque[dict[str, Any]] = deque(maxlen=config.max_entries)
        self._seq = 0
        self._shared: RecordList | None = None
        self._writes: set[asyncio.Task[Any]] = set()

    def share(self, records: RecordList | None) -> None:
        """Append to the fleet's list too (None: this worker only)."""
        self._shared = records

    def add(
        self,
        rec: RequestRecord,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        body: bytes,
        duration_s: float,
    ) -> None:
        """Keep one finished request."""
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
        }
        self._entries.append(entry)
        if self._shared is not None:
            spawn(self._writes, self._shared.append(orjson.dumps(entry), self._max))

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

    def entries(
        self, *, since: int = 0, path: str | None = None, model: str | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Kept entries, oldest first: after sequence ``since``, matching ``path``/``model``, the last ``limit``."""
        out = [
            e
            for e in self._entries
            if e["seq"] > since and (path is None or e["path"] == path) and (model is None or e["model"] == model)
        ]
        return out[-limit:] if limit else out

    async def fleet_entries(
        self, *, since: int = 0, path: str | None = None, model: str | None = None, limit: int | None = None
    ) -> tuple[list[dict[str, Any]], int]:
        """As ``entries``, from the fleet's list when shared; and the newest sequence number."""
        if self._shared is None:
            return self.entries(since=since, path=path, model=model, limit=limit), self._seq
        if self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)
        kept = await self._shared.read()
        if kept is None:  # the backend is down: this worker's own
            return self.entries(since=since, path=path, model=model, limit=limit), self._seq
        out = []
        for seq, raw in kept:
            entry = orjson.loads(raw)
            entry["seq"] = seq
            if seq > since and (path is None or entry["path"] == path) and (model is None or entry["model"] == model):
                out.append(entry)
        last = kept[-1][0] if kept else 0
        return (out[-limit:] if limit else out), last

    async def fleet_clear(self) -> int:
        """As ``clear``, for the fleet's list too when shared."""
        count = self.clear()
        if self._shared is not None:
            count = await self._shared.clear()
        return count

    def clear(self) -> int:
        """Forget every entry; the number forgotten."""
        count = len(self._entries)
        self._entries.clear()
        return count

    @property
    def last_seq(self) -> int:
        """The sequence number of the newest entry ever added (0 if none)."""
        return self._seq
