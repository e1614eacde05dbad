"""Cassettes: each proxied exchange as one JSON line, with the timing of every chunk.

An entry holds the normalised request (method, path, query, the few headers that shape an
answer, the JSON body), the response status, selected headers, and either the whole body or
the stream's chunks, each with its offset in milliseconds from the request's start. Secrets
never reach disk: credential headers are not written at all, Gemini's ``key`` query
parameter and the configured JSON paths of the body are replaced by ``[redacted]``.

Each worker process appends to its own file per day (``cassette-YYYYMMDD-<pid>.jsonl``), one
``write`` per entry under a lock, so concurrent exchanges never interleave within a line.
"""

from __future__ import annotations

import base64
import datetime
import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

from llm_simulator.core.http import Headers, HttpRequest
from llm_simulator.infra.clock import Clock
from llm_simulator.proxy.gate import json_body
from llm_simulator.proxy.wire import query_pairs

log = logging.getLogger("llm_simulator.proxy")

REDACTED = "[redacted]"
FORMAT_VERSION = 1
# Request headers that change what an upstream answers; every other header (credentials above all) is left out.
_KEPT_REQUEST_HEADERS = ("content-type", "accept", "anthropic-version", "anthropic-beta", "openai-beta")
# Response headers worth replaying: the content type, retry hints and rate-limit state.
_KEPT_RESPONSE_PREFIXES = ("content-type", "retry-after", "x-ratelimit-", "anthropic-ratelimit-", "x-should-retry")


def redact_json(body: Any, paths: tuple[str, ...]) -> Any:
    """``body`` with the value at every dotted path (``metadata.user_id``) replaced by ``[redacted]``.

    A path that is absent is skipped; a ``*`` segment matches every key of an object or item of a list.
    """
    for path in paths:
        _redact(body, path.split("."))
    return body


def _redact(node: Any, parts: list[str]) -> None:
    head, rest = parts[0], parts[1:]
    if isinstance(node, dict):
        children = list(node) if head == "*" else [head] if head in node else []
        for name in children:
            if rest:
                _redact(node[name], rest)
            else:
                node[name] = REDACTED
    elif isinstance(node, list) and head == "*":
        for index, item in enumerate(node):
            if rest:
                _redact(item, rest)
            else:
                node[index] = REDACTED


def normalised_request(request: HttpRequest, redact_paths: tuple[str, ...]) -> dict[str, Any]:
    """The request as a cassette keeps it (and as replay matches it): no secrets, body parsed when JSON."""
    body = json_body(request.body)
    query = normalised_query(query_pairs(request))
    headers = {name: request.headers[name] for name in _KEPT_REQUEST_HEADERS if name in request.headers}
    entry: dict[str, Any] = {"method": request.method, "path": request.path, "query": query, "headers": headers}
    if body is not None:
        entry["json"] = redact_json(body, redact_paths)
    elif request.body:
        entry["body_b64"] = base64.b64encode(request.body).decode()
    return entry


def normalised_query(pairs: list[tuple[str, str]]) -> dict[str, str | list[str]]:
    """The query by name, sorted; a repeated name keeps its values in order as a list; ``key`` redacted."""
    query: dict[str, str | list[str]] = {}
    for name, sent in sorted(pairs, key=lambda pair: pair[0]):
        value = REDACTED if name == "key" else sent
        held = query.get(name)
        if held is None:
            query[name] = value
        elif isinstance(held, list):
            held.append(value)
        else:
            query[name] = [held, value]
    return query


def kept_response_headers(headers: Headers) -> dict[str, str]:
    """The response headers a cassette keeps (content type, retry hints, rate-limit state)."""
    kept: dict[str, str] = {}
    for name, value in headers:
        text = name.decode("latin-1")
        if text.startswith(_KEPT_RESPONSE_PREFIXES):
            kept[text] = value.decode("latin-1")
    return kept


def _text(data: bytes) -> dict[str, str]:
    """Bytes as JSON can hold them: UTF-8 text, or base64 when not UTF-8 (read by ``wire.recorded.part_bytes``)."""
    try:
        return {"text": data.decode("utf-8")}
    except UnicodeDecodeError:
        return {"b64": base64.b64encode(data).decode()}


class Take:
    """One exchange being recorded: filled as the response arrives, written once when it ends."""

    def __init__(self, recorder: Recorder, request: dict[str, Any], provider: str) -> None:
        self._recorder = recorder
        self._clock = clock = recorder.clock
        self._started = clock.now()
        self._entry: dict[str, Any] = {
            "v": FORMAT_VERSION,
            "provider": provider,
            "recorded_at": datetime.datetime.fromtimestamp(clock.wall(), datetime.UTC).isoformat(timespec="seconds"),
            "request": request,
        }
        self._chunks: list[dict[str, Any]] = []
        self._closed = False

    def _offset_ms(self) -> float:
        return round((self._clock.now() - self._started) * 1000.0, 3)

    def response(self, status: int, headers: Headers) -> None:
        """The response's start: status and the headers kept, at its offset."""
        self._entry["status"] = status
        self._entry["headers"] = kept_response_headers(headers)
        self._entry["headers_ms"] = self._offset_ms()

    def chunk(self, data: bytes) -> None:
        """One stream chunk, as it arrived, with its offset from the request's start."""
        self._chunks.append({"ms": self._offset_ms(), **_text(data)})

    def body(self, data: bytes) -> None:
        """A whole (non-stream) body; the entry is written now."""
        self._entry["body"] = {"ms": self._offset_ms(), **_text(data)}
        self.close()

    def close(self) -> None:
        """Write the entry (once); a stream's entry is written when it ends, however it ends."""
        if self._closed:
            return
        self._closed = True
        if "body" not in self._entry:
            self._entry["chunks"] = self._chunks
        self._recorder.write(self._entry)


class Recorder:
    """Appends cassette entries to ``DIR/cassette-YYYYMMDD-<pid>.jsonl``, one write per line."""

    def __init__(self, directory: str, redact_paths: tuple[str, ...], clock: Clock) -> None:
        self.clock = clock
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.redact_paths = redact_paths
        self._lock = threading.Lock()

    def begin(self, request: HttpRequest, provider: str) -> Take:
        """Start recording the exchange of ``request`` (the clock for chunk offsets starts now)."""
        return Take(self, normalised_request(request, self.redact_paths), provider)

    def path(self) -> Path:
        """Today's file of this process."""
        day = datetime.datetime.fromtimestamp(self.clock.wall(), datetime.UTC).strftime("%Y%m%d")
        return self.directory / f"cassette-{day}-{os.getpid()}.jsonl"

    def write(self, entry: dict[str, Any]) -> None:
        """Append one entry as one line: a single ``write`` under the lock, so lines never interleave."""
        line = json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n"
        try:
            with self._lock, self.path().open("a", encoding="utf-8") as out:
                out.write(line)
        except OSError as exc:
            # A full disk loses the recording, never the caller's answer.
            log.warning("cassette entry not written to %s: %s", self.directory, exc)
