"""The request log: what the simulator received, for tests that assert on their own calls.

Off by default (bodies can be large and hold user data). When on, every finished request
adds one entry to a bounded ring (oldest dropped first): method, path, query, headers with
credentials masked, the body (parsed JSON when it is JSON, else text; truncated past the
configured size), and the outcome (status, provider, endpoint, model, duration).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import Any

import orjson

from llm_simulator.config.requestlog import RequestLogConfig
from llm_simulator.core.record import RequestRecord
from llm_simulator.core.redact import is_secret_header, mask

# Longest header or query value kept (a refused request may carry 64 kB of headers).
MAX_VALUE_CHARS = 1024


def _clip(value: str) -> str:
    return value if len(value) <= MAX_VALUE_CHARS else value[:MAX_VALUE_CHARS] + "…"


class RequestLog:
    """A ring of recent requests with a running sequence number (stable across truncation)."""

    def __init__(self, config: RequestLogConfig) -> None:
        self.enabled = config.enabled
        self.max_body = config.max_body_bytes
        self._entries: deque[dict[str, Any]] = deque(maxlen=config.max_entries)
        self._seq = 0

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
        self._entries.append(
            {
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
        )

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

    def clear(self) -> int:
        """Forget every entry; the number forgotten."""
        count = len(self._entries)
        self._entries.clear()
        return count

    @property
    def last_seq(self) -> int:
        """The sequence number of the newest entry ever added (0 if none)."""
        return self._seq
