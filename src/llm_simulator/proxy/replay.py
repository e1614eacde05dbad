"""Replay: answers from cassettes, with the recorded timing (optionally scaled).

``Cassettes`` loads every ``*.jsonl`` of the replay directory at start-up and indexes its
entries by the configured matching key (``matching.py``). Several entries with one key are
answered in turn, round robin: a conversation recorded twice replays both answers.

A hit is answered as recorded: status, the kept headers, and the body or every chunk at its
recorded offset from the request's arrival times ``proxy.replay_time_scale`` (0: no waiting).
Ids and timestamps are the recorded ones.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from llm_simulator.config.loader import ConfigError
from llm_simulator.config.schema import SimulatorConfig
from llm_simulator.core.errors import ErrorKind, SimulatorError
from llm_simulator.core.faults import StreamFault
from llm_simulator.core.http import Headers, HttpRequest, JsonResponse, Response
from llm_simulator.engine.simulator import Simulator
from llm_simulator.proxy.cassette import entry_bytes, normalised_request
from llm_simulator.proxy.faults import relayed_stream
from llm_simulator.proxy.matching import STRATEGIES, last_user_text

log = logging.getLogger("llm_simulator.proxy")

# How much of the unmatched request's last user message the miss error quotes.
_QUOTE_CHARS = 80


class CassetteError(ConfigError):
    """The replay directory cannot be used (missing, or a line that is not a cassette entry)."""


class Cassettes:
    """The recorded exchanges of one directory, indexed by matching key."""

    def __init__(self, directory: str, match: str, redact_paths: tuple[str, ...], time_scale: float) -> None:
        self.match = match
        self.redact_paths = redact_paths
        self.time_scale = time_scale
        self._key_of = STRATEGIES[match]
        self._entries: dict[str, list[dict[str, Any]]] = {}
        self._turn: dict[str, int] = {}
        self.count = 0
        self._load(Path(directory))

    def _load(self, directory: Path) -> None:
        if not directory.is_dir():
            raise CassetteError(f"proxy.replay_dir: {directory} is not a directory")
        for path in sorted(directory.glob("*.jsonl")):
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    entry = json.loads(line)
                    key = self._key_of(entry["request"])
                    int(entry["status"])  # a line without a status is no entry
                except (ValueError, KeyError, TypeError) as exc:
                    raise CassetteError(f"{path}:{number} is not a cassette entry ({exc})") from None
                self._entries.setdefault(key, []).append(entry)
                self.count += 1

    def find(self, request: HttpRequest) -> dict[str, Any] | None:
        """The entry answering ``request`` (the next in turn when several share its key), or None."""
        key = self._key_of(normalised_request(request, self.redact_paths))
        entries = self._entries.get(key)
        if not entries:
            return None
        turn = self._turn.get(key, 0)
        self._turn[key] = turn + 1
        return entries[turn % len(entries)]

    def miss(self, request: HttpRequest, provider: str) -> SimulatorError:
        """The strict-mode error for an unmatched request: names the request and how it was matched."""
        normal = normalised_request(request, self.redact_paths)
        body = normal.get("json") or {}
        said = last_user_text(body)[:_QUOTE_CHARS]
        model = body.get("model", "")
        log.warning("replay miss: %s %s model=%r last user message=%r", request.method, request.path, model, said)
        return SimulatorError(
            ErrorKind.NOT_FOUND,
            f"No cassette entry matches {request.method} {request.path} (match {self.match}; "
            f"model {model!r}; last user message {said!r}; {self.count} entries loaded).",
            code="cassette_miss",
        )

    async def answer(self, entry: dict[str, Any], provider: str, fault: StreamFault | None, sim: Simulator) -> Response:
        """Answer as recorded, waiting out the recorded offsets (scaled) from now; ``fault`` strikes a stream."""
        started = time.monotonic()
        headers: Headers = [
            (name.encode(), value.encode("latin-1")) for name, value in entry.get("headers", {}).items()
        ]
        if "chunks" in entry:
            await self._until(started, float(entry.get("headers_ms", 0.0)))
            return relayed_stream(self._frames(started, entry["chunks"]), headers, provider, fault, sim)
        body = entry.get("body", {})
        await self._until(started, float(body.get("ms", 0.0)))
        return JsonResponse(int(entry["status"]), entry_bytes(body), headers)

    async def _frames(self, started: float, chunks: list[dict[str, Any]]) -> AsyncIterator[bytes]:
        for chunk in chunks:
            await self._until(started, float(chunk.get("ms", 0.0)))
            yield entry_bytes(chunk)

    async def _until(self, started: float, offset_ms: float) -> None:
        """Sleep until ``offset_ms`` (scaled) after ``started``; at once when that is past."""
        wait = started + offset_ms * self.time_scale / 1000.0 - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)


def check_cassettes(config: SimulatorConfig) -> None:
    """Load the replay directory once up front (``serve``), so a bad cassette fails before any worker starts."""
    proxy = config.proxy
    if proxy.replay_dir:
        Cassettes(proxy.replay_dir, proxy.replay_match, proxy.redact_paths, proxy.replay_time_scale)
