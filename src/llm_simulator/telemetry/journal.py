"""The request journal's two halves beside the ring: what the simulator answered, and the filters.

``answer_fields`` reads a finished ``RequestRecord`` into the journal fields that describe the
simulator's answer (status and error, finish reason, usage, the answer's text and tool calls,
the chaos fault and the fixture that answered). It runs only when an entry is kept: on the
request path the server merely keeps a reference to the final plan on the record.

``JournalQuery`` is one parsed ``GET``/``DELETE /admin/requests`` (or ``/admin/journal``)
query: every filter checked once, with a clear 400 naming the parameter when a value is bad,
then tested against each entry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from llm_simulator.core.errors import invalid
from llm_simulator.core.record import RequestRecord
from llm_simulator.core.test_scope import is_valid_test_id

# Longest answer text kept, in characters (an answer is user-visible data, like a body).
MAX_ANSWER_CHARS = 8192

# The query parameters a journal read understands (anything else is refused, so a typo in a
# filter cannot silently list everything).
FILTERS = (
    "test_id",
    "provider",
    "model",
    "path",
    "endpoint",
    "status",
    "since",
    "until",
    "since_ts",
    "until_ts",
    "limit",
)


def _clip_text(text: str, limit: int) -> Any:
    """``text``, or a truncation marker like a clipped body's when it is longer than ``limit``."""
    if len(text) <= limit:
        return text
    return {"truncated": True, "text": text[:limit], "chars": len(text)}


def answer_fields(rec: RequestRecord, max_chars: int = MAX_ANSWER_CHARS) -> dict[str, Any]:
    """The journal fields describing the simulator's answer to ``rec``'s request.

    ``answer`` is None when nothing was generated (an error before planning, a non-generation
    endpoint); otherwise the first choice's visible ``text`` (truncated past ``max_chars``)
    and its ``tool_calls`` as planned (``id`` is the neutral id: OpenAI sends it as
    ``call_<id>``, Anthropic as ``toolu_01<id[:22]>``; Gemini sends none), plus ``choices``.
    """
    choices = rec.choices
    answer: dict[str, Any] | None = None
    if choices:
        first = choices[0]
        calls = [
            {"id": c.id, "name": c.name, "arguments": _clip_text(c.arguments, max_chars)} for c in first.tool_calls
        ]
        answer = {"text": _clip_text(first.text, max_chars), "tool_calls": calls, "choices": len(choices)}
    usage = None
    if rec.prompt_tokens or rec.completion_tokens:
        usage = {"prompt_tokens": rec.prompt_tokens, "completion_tokens": rec.completion_tokens}
    return {
        "test_id": rec.test_id,
        "error_message": rec.error_message or None,
        "finish_reason": str(rec.finish_reason) if rec.finish_reason else None,
        "usage": usage,
        "answer": answer,
        "chaos": rec.chaos or None,
        "fixture": rec.fixture or None,
    }


def _int(query: Mapping[str, str], name: str) -> int | None:
    raw = query.get(name)
    if raw is None:
        return None
    if not raw.isdigit():
        raise invalid(f"{name} must be a non-negative integer, got {raw!r}", param=name)
    return int(raw)


def _time(query: Mapping[str, str], name: str) -> float | None:
    raw = query.get(name)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not value >= 0 or value == float("inf"):  # also refuses NaN
        raise invalid(f"{name} must be epoch seconds (a non-negative number), got {raw!r}", param=name)
    return value


def _status(raw: str | None) -> tuple[int, int] | None:
    """The status filter as an inclusive range: ``404`` exactly, or a class such as ``4xx``."""
    if raw is None:
        return None
    if len(raw) == 3 and raw[0] in "12345" and raw[1:].lower() == "xx":
        low = int(raw[0]) * 100
        return low, low + 99
    if len(raw) == 3 and raw.isdigit() and 100 <= int(raw) <= 599:
        return int(raw), int(raw)
    raise invalid(f"status must be an HTTP status (404) or a class (4xx), got {raw!r}", param="status")


@dataclass(frozen=True, slots=True)
class JournalQuery:
    """The filters of one journal read; every field None (or 0) matches everything."""

    test_id: str | None = None
    provider: str | None = None
    model: str | None = None
    path: str | None = None
    endpoint: str | None = None
    status: tuple[int, int] | None = None
    since: int = 0
    until: int | None = None
    since_ts: float | None = None
    until_ts: float | None = None
    limit: int | None = None

    @classmethod
    def parse(cls, query: Mapping[str, str]) -> JournalQuery:
        """The filters of ``query``; a provider-neutral 400 naming the parameter for a bad value."""
        unknown = sorted(set(query) - set(FILTERS))
        if unknown:
            raise invalid(
                f"unknown journal filter {unknown[0]!r}; the filters are {', '.join(FILTERS)}", param=unknown[0]
            )
        test_id = query.get("test_id")
        if test_id is not None and not is_valid_test_id(test_id):
            raise invalid(f"test_id {test_id[:80]!r} is not a valid test id", param="test_id")
        return cls(
            test_id=test_id,
            provider=query.get("provider"),
            model=query.get("model"),
            path=query.get("path"),
            endpoint=query.get("endpoint"),
            status=_status(query.get("status")),
            since=_int(query, "since") or 0,
            until=_int(query, "until"),
            since_ts=_time(query, "since_ts"),
            until_ts=_time(query, "until_ts"),
            limit=_int(query, "limit") or None,
        )

    def matches(self, entry: Mapping[str, Any]) -> bool:
        """Whether ``entry`` passes every filter (sequence numbers: after ``since``, up to ``until``)."""
        seq = entry["seq"]
        if seq <= self.since or (self.until is not None and seq > self.until):
            return False
        for name, want in (
            ("test_id", self.test_id),
            ("provider", self.provider),
            ("model", self.model),
            ("path", self.path),
            ("endpoint", self.endpoint),
        ):
            if want is not None and entry.get(name) != want:
                return False
        if self.status is not None and not self.status[0] <= entry.get("status", 0) <= self.status[1]:
            return False
        ts = entry.get("ts", 0.0)
        if self.since_ts is not None and ts < self.since_ts:
            return False
        return self.until_ts is None or ts <= self.until_ts

    def select(self, entries: Any) -> list[dict[str, Any]]:
        """The matching ``entries`` (oldest first), the last ``limit`` of them."""
        out = [e for e in entries if self.matches(e)]
        return out[-self.limit :] if self.limit else out
