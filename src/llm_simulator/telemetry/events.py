"""Request lifecycle events, schema ``llm_simulator.event/v1`` (documented in docs/events.md).

Every event is a flat JSON object with the common fields below plus its own. A new field
may appear in v1 at any time (consumers must ignore unknown fields); removing or renaming
one, or changing its meaning, makes v2.

Common: ``schema``, ``event``, ``ts`` (epoch seconds, float), ``request_id``, ``trace_id``
and ``span_id`` (or null), ``provider``, ``endpoint``, ``model`` (or null), ``method``, ``path``.
``server.state`` belongs to no request: its request fields are all null (present, so a v1
consumer that indexes them keeps working), then its own fields.
"""

from __future__ import annotations

from typing import Any, Protocol

from llm_simulator.core.event_types import (
    CHAOS_INJECTED,
    COMPLETED,
    EVENT_TYPES,
    FAILED,
    FIRST_TOKEN,
    RATE_LIMITED,
    RECEIVED,
    SCHEMA,
    SERVER_STATE,
)
from llm_simulator.core.record import RequestRecord

# The names are defined once, in core (config validates sink filters against them too).
__all__ = [
    "CHAOS_INJECTED",
    "COMPLETED",
    "EVENT_TYPES",
    "FAILED",
    "FIRST_TOKEN",
    "RATE_LIMITED",
    "RECEIVED",
    "SCHEMA",
    "SERVER_STATE",
    "EventSink",
    "build_event",
    "outcome_fields",
    "state_event",
    "wall_time",
]


class EventSink(Protocol):
    """A destination for events. ``emit`` never blocks and never raises: a full queue drops."""

    name: str

    @property
    def sent(self) -> int:
        """Events delivered."""
        ...

    @property
    def dropped(self) -> int:
        """Events dropped: queue full, delivery failed, or left at shutdown."""
        ...

    def wants(self, event: str) -> bool:
        """Whether this sink takes events of this type."""
        ...

    def emit(self, event: dict[str, Any]) -> None:
        """Queue one event (drop and count it when the queue is full)."""
        ...

    def start(self) -> None:
        """Start background delivery (called inside the running event loop)."""
        ...

    async def close(self) -> None:
        """Deliver what is queued (bounded by the sink's timeout), then stop."""
        ...


# The common fields that describe a request: null in an event that belongs to none.
_REQUEST_FIELDS = ("request_id", "trace_id", "span_id", "provider", "endpoint", "model", "method", "path")


def wall_time(rec: RequestRecord, monotonic: float) -> float:
    """Epoch seconds of a monotonic instant of the request: its wall start plus the elapsed time."""
    return round(rec.started_wall + (monotonic - rec.started), 6)


def build_event(event: str, rec: RequestRecord, monotonic: float, fields: dict[str, Any]) -> dict[str, Any]:
    """One event: the common fields of ``rec`` at ``monotonic``, then ``fields``."""
    return {
        "schema": SCHEMA,
        "event": event,
        "ts": wall_time(rec, monotonic),
        "request_id": rec.request_id,
        "trace_id": rec.trace_id or None,
        "span_id": rec.span_id or None,
        "provider": rec.provider,
        "endpoint": rec.endpoint,
        "model": rec.model or None,
        "method": rec.method,
        "path": rec.path,
        **fields,
    }


def outcome_fields(rec: RequestRecord, duration_s: float, output_tokens: int, cost: float, key: str) -> dict[str, Any]:
    """The fields of ``request.completed`` / ``request.failed``."""
    ttft = rec.ttft_s
    return {
        "status": rec.status,
        "duration_ms": round(duration_s * 1000, 3),
        "stream": rec.stream,
        "ttft_ms": round(ttft * 1000, 3) if ttft is not None else None,
        "input_tokens": rec.prompt_tokens,
        "output_tokens": output_tokens,
        "finish_reason": rec.finish_reason or None,
        "cost_dollars": round(cost, 8),
        "error_type": rec.error_type or None,
        "chaos": rec.chaos or None,
        "rate_limited": rec.rate_limited or None,
        "api_key": key or None,
    }


def state_event(state: str, previous: str | None, reason: str, pid: int, ts: float) -> dict[str, Any]:
    """A ``server.state`` event: worker ``pid`` went from ``previous`` to ``state`` because of ``reason``."""
    return {
        "schema": SCHEMA,
        "event": SERVER_STATE,
        "ts": round(ts, 6),
        **dict.fromkeys(_REQUEST_FIELDS),
        "state": state,
        "previous": previous,
        "pid": pid,
        "reason": reason,
    }
