"""A test's request journal as a list, with assertion helpers whose failures show the entries.

``Admin.journal()`` (``GET /admin/journal``) returns a ``Journal``: the entries, oldest first,
each a dict with the request (``method``, ``path``, ``headers``, ``body``, ``provider``,
``endpoint``, ``model``, ``stream``, ``test_id``) and the simulator's answer (``status``,
``error_type``, ``error_message``, ``finish_reason``, ``usage``, ``answer`` with its ``text``
and ``tool_calls``, ``chaos``, ``fixture``). The helpers:

- ``last(**filters)``: the newest entry matching, or None;
- ``assert_requested(times=None, **filters)``: at least one (or exactly ``times``) matching;
- ``assert_tool_result_sent(call_id)``: the last request carried the tool's result, in any
  provider's shape (OpenAI ``tool`` message, Responses ``function_call_output``, Anthropic
  ``tool_result`` block, Gemini ``functionResponse``);
- ``assert_no_unmatched()``: no request missed every fixture under strict mode.

Filters compare an entry's field for equality; ``status`` also takes a class (``"4xx"``) and
``model`` matches the model the request's body named as well as the one the server resolved
it to (an alias's dated id). ``finish_reason`` is the simulator's neutral reason (``stop``,
``length``, ``tool_calls``, ``content_filter``), whatever the provider calls it on the wire.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypedDict

__all__ = [
    "STRICT_MISS_ERROR_TYPES",
    "Journal",
    "JournalAssertionError",
    "JournalFilters",
    "ToolResult",
    "tool_results",
]

# The ``error_type`` of a request that nothing scripted matched while misses were errors: no
# fixture under strict mode, or no cassette entry when replaying with ``replay_miss: error``.
STRICT_MISS_ERROR_TYPES = frozenset({"strict_no_fixture", "cassette_miss"})
# What the misses of one kind did not match, for the failure message.
_MISSED_WHAT = {frozenset({"strict_no_fixture"}): "fixture", frozenset({"cassette_miss"}): "cassette entry"}
# Entries shown in a failure message (the newest ones), so a long journal stays readable.
SHOWN = 20


class JournalFilters(TypedDict, total=False):
    """The server-side filters of ``Admin.journal`` (``GET /admin/journal``).

    ``test_id`` defaults to the client's own (``None``: every scope); ``status`` is a status
    (404) or a class ("4xx"); ``since``/``until`` are sequence numbers (after, up to);
    ``since_ts``/``until_ts`` epoch seconds; ``limit`` keeps the newest N.
    """

    test_id: str | None
    provider: str
    model: str
    path: str
    endpoint: str
    status: int | str
    since: int
    until: int
    since_ts: float
    until_ts: float
    limit: int


class JournalAssertionError(AssertionError):
    """A journal assertion failed; the message lists the relevant entries."""


@dataclass(frozen=True, slots=True)
class ToolResult:
    """One tool result a request carried back: the call's id (None in Gemini without one) and the tool's name."""

    call_id: str | None
    name: str | None
    shape: str


def _dicts(items: object) -> list[dict[str, Any]]:
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


def _openai_chat(body: Mapping[str, Any]) -> Iterable[ToolResult]:
    for message in _dicts(body.get("messages")):
        if message.get("role") == "tool":
            yield ToolResult(message.get("tool_call_id"), message.get("name"), "openai tool message")


def _openai_responses(body: Mapping[str, Any]) -> Iterable[ToolResult]:
    for item in _dicts(body.get("input")):
        if item.get("type") == "function_call_output":
            yield ToolResult(item.get("call_id"), None, "responses function_call_output")


def _anthropic(body: Mapping[str, Any]) -> Iterable[ToolResult]:
    for message in _dicts(body.get("messages")):
        for block in _dicts(message.get("content")):
            if block.get("type") == "tool_result":
                yield ToolResult(block.get("tool_use_id"), None, "anthropic tool_result")


def _gemini(body: Mapping[str, Any]) -> Iterable[ToolResult]:
    for content in _dicts(body.get("contents")):
        for part in _dicts(content.get("parts")):
            response = part.get("functionResponse")
            if isinstance(response, dict):
                yield ToolResult(response.get("id"), response.get("name"), "gemini functionResponse")


def tool_results(entry: Mapping[str, Any]) -> list[ToolResult]:
    """The tool results ``entry``'s request body carried back, whatever the provider's shape."""
    body = entry.get("body")
    if not isinstance(body, dict):
        return []
    out: list[ToolResult] = []
    for shape in (_openai_chat, _openai_responses, _anthropic, _gemini):
        out.extend(shape(body))
    return out


def _status_matches(status: object, want: object) -> bool:
    if isinstance(want, str) and len(want) == 3 and want[1:].lower() == "xx" and isinstance(status, int):
        return str(status)[0] == want[0]
    return status == want


def _model_matches(entry: Mapping[str, Any], want: object) -> bool:
    """The model the server resolved (``claude-haiku-4-5-20251001``) or the one the body asked for."""
    body = entry.get("body")
    return entry.get("model") == want or (isinstance(body, dict) and body.get("model") == want)


def _matches(entry: Mapping[str, Any], filters: Mapping[str, Any]) -> bool:
    for key, want in filters.items():
        if key == "status":
            if not _status_matches(entry.get("status"), want):
                return False
        elif key == "model":
            if not _model_matches(entry, want):
                return False
        elif entry.get(key) != want:
            return False
    return True


def _describe(filters: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in filters.items()) or "any request"


def summary(entry: Mapping[str, Any]) -> str:
    """One line for an entry: sequence, request, outcome, and the tool results it carried."""
    parts = [f"#{entry.get('seq')} {entry.get('method')} {entry.get('path')}"]
    for key in ("provider", "model", "status", "error_type", "finish_reason", "test_id"):
        if entry.get(key) is not None:
            parts.append(f"{key}={entry[key]}")
    if entry.get("stream"):
        parts.append("stream")
    results = tool_results(entry)
    if results:
        parts.append("tool results for " + ", ".join(str(r.call_id or r.name) for r in results))
    if entry.get("error_message"):
        parts.append(f"error: {str(entry['error_message'])[:200]}")
    return " ".join(parts)


class Journal(list[dict[str, Any]]):
    """The journal entries read at one moment, oldest first, with assertion helpers (see the module doc)."""

    def __init__(self, entries: Iterable[dict[str, Any]] = (), *, last_seq: int = 0) -> None:
        super().__init__(entries)
        self.last_seq = last_seq
        """The newest sequence number the server had given when this was read."""

    def matching(self, **filters: Any) -> Journal:
        """The entries whose fields equal the filters (``status`` also takes ``"4xx"``)."""
        return Journal((e for e in self if _matches(e, filters)), last_seq=self.last_seq)

    def last(self, **filters: Any) -> dict[str, Any] | None:
        """The newest entry matching the filters, or None."""
        found = self.matching(**filters)
        return found[-1] if found else None

    def describe(self, entries: Iterable[Mapping[str, Any]] | None = None) -> str:
        """The entries (default: all), one summary line each, the newest ``SHOWN`` of them."""
        shown = list(self if entries is None else entries)
        if not shown:
            return "  (no requests)"
        lines = [f"  {summary(e)}" for e in shown[-SHOWN:]]
        if len(shown) > SHOWN:
            lines.insert(0, f"  ... {len(shown) - SHOWN} older entries not shown")
        return "\n".join(lines)

    def _fail(self, message: str) -> JournalAssertionError:
        return JournalAssertionError(f"{message}\nthe journal ({len(self)} requests):\n{self.describe()}")

    def assert_requested(self, times: int | None = None, **filters: Any) -> Journal:
        """At least one request (or exactly ``times``) matched the filters; the matching entries."""
        found = self.matching(**filters)
        if (times is None and not found) or (times is not None and len(found) != times):
            expected = "at least one request" if times is None else f"{times} request(s)"
            raise self._fail(f"expected {expected} with {_describe(filters)}, got {len(found)}")
        return found

    def assert_tool_result_sent(
        self, call_id: str | None = None, *, name: str | None = None, **filters: Any
    ) -> dict[str, Any]:
        """The last request (matching the filters) carried the result of tool call ``call_id`` (or tool ``name``).

        Gemini's ``functionResponse`` has no id unless the client sent one: match it by ``name``.
        Returns that request's entry.
        """
        if call_id is None and name is None:
            raise TypeError("assert_tool_result_sent needs a call_id or a name")
        entry = self.last(**filters)
        wanted = f"call {call_id!r}" if call_id is not None else f"tool {name!r}"
        if entry is None:
            raise self._fail(
                f"expected the last request with {_describe(filters)} to carry the result of {wanted}; there is none"
            )
        results = tool_results(entry)
        if any((call_id is None or r.call_id == call_id) and (name is None or r.name == name) for r in results):
            return entry
        if isinstance(entry.get("body"), dict):
            carried = ", ".join(f"{r.shape} for {r.call_id or r.name}" for r in results) or "no tool results"
        else:
            carried = "a body the journal could not read (truncated or not JSON)"
        raise self._fail(
            f"expected the last request (#{entry.get('seq')}) to carry the result of {wanted}; it carried {carried}"
        )

    def assert_no_unmatched(self) -> None:
        """No request missed every fixture under strict mode, nor every cassette entry in strict replay.

        Those are the journal entries whose ``error_type`` is ``strict_no_fixture`` or ``cassette_miss``.
        """
        missed = [e for e in self if e.get("error_type") in STRICT_MISS_ERROR_TYPES]
        if missed:
            kinds = frozenset(str(e.get("error_type")) for e in missed)
            what = _MISSED_WHAT.get(kinds, "fixture or cassette entry")
            raise self._fail(f"{len(missed)} request(s) matched no {what} (strict mode):\n{self.describe(missed)}")
