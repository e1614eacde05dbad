"""Replay: answers from cassettes, with the recorded timing (optionally scaled).

``Cassettes`` loads every ``*.jsonl`` of the replay directory at start-up and indexes its
entries by the configured matching key (``matching.py``). Several entries with one key are
answered in turn, round robin: a conversation recorded twice replays both answers.

A hit is answered as recorded: status, the kept headers, and the body or every chunk at its
recorded offset from the request's arrival times ``proxy.replay_time_scale`` (0: no waiting).
Ids and timestamps are the recorded ones.
"""

from __future__ import annotations

import datetime
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llm_simulator.config.loader import ConfigError
from llm_simulator.config.proxy import ProxyConfig
from llm_simulator.config.schema import SimulatorConfig
from llm_simulator.core.errors import ErrorKind, SimulatorError
from llm_simulator.core.faults import Admission
from llm_simulator.core.http import Headers, HttpRequest, JsonResponse, Response
from llm_simulator.engine.simulator import Simulator
from llm_simulator.proxy.cassette import normalised_request
from llm_simulator.proxy.faults import relayed_stream
from llm_simulator.proxy.gate import json_body, model_of, model_spec
from llm_simulator.proxy.ids import IdBook, refresher
from llm_simulator.proxy.matching import CONVERSATION, SYSTEM, last_user_text, strategy
from llm_simulator.proxy.retime import ModelPace, Pace, RecordedPace
from llm_simulator.wire.recorded import part_bytes

log = logging.getLogger("llm_simulator.proxy")

# How much of the unmatched request's last user message the miss error quotes.
_QUOTE_CHARS = 80
# The error type (and code) of a request no cassette entry matches under ``replay_miss: error``.
CASSETTE_MISS = "cassette_miss"


class CassetteError(ConfigError):
    """The replay directory cannot be used (missing, or a line that is not a cassette entry)."""


@dataclass(frozen=True, slots=True)
class ReplayTurn:
    """One request a cassette entry answers, as admitted: what ``Cassettes.answer`` needs of it.

    ``started`` is when the answer's clock starts (after admission: a chaos delay adds to the
    recorded offsets rather than hiding inside them).
    """

    entry: dict[str, Any]
    request: HttpRequest
    provider: str
    admission: Admission | None
    started: float


class Cassettes:
    """The recorded exchanges of one directory, indexed by matching key."""

    def __init__(self, config: ProxyConfig) -> None:
        assert config.replay_dir is not None
        self.config = config
        self.match = config.replay_match
        self.redact_paths = config.redact_paths
        self._key_of = strategy(config.replay_match, config.replay_key)
        self._entries: dict[str, list[dict[str, Any]]] = {}
        self._turn: dict[str, int] = {}
        self.count = 0
        # The fresh ids replay handed out, so a request quoting one matches the recording.
        self.book = IdBook()
        self._load(Path(config.replay_dir))

    def _load(self, directory: Path) -> None:
        if not directory.is_dir():
            raise CassetteError(f"proxy.replay_dir: {directory} is not a directory")
        for path in sorted(directory.glob("*.jsonl")):
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    entry = check_entry(json.loads(line))
                    key = self._key_of(entry["request"])
                except (ValueError, KeyError, TypeError, AttributeError) as exc:
                    raise CassetteError(f"{path}:{number} is not a cassette entry ({exc})") from None
                self._entries.setdefault(key, []).append(entry)
                self.count += 1

    def normalised(self, request: HttpRequest) -> dict[str, Any]:
        """The request as matching sees it: normalised as when recording, fresh ids back to recorded ones."""
        normal = normalised_request(request, self.redact_paths)
        book = self.book
        if "json" in normal:
            normal["json"] = book.restore(normal["json"])
        normal["path"] = "/".join(book.restore(request.path.split("/")))
        return normal

    def find(self, request: HttpRequest) -> dict[str, Any] | None:
        """The entry answering ``request`` (the next in turn when several share its key), or None."""
        key = self._key_of(self.normalised(request))
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
        record = request.exchange.record
        if record is not None:
            # The journal's ``assert_no_unmatched`` looks for this type, as for a strict fixture miss.
            record.error_type = CASSETTE_MISS
        return SimulatorError(
            ErrorKind.NOT_FOUND,
            f"No cassette entry matches {request.method} {request.path} (match {self.match}; "
            f"model {model!r}; last user message {said!r}; {self.count} entries loaded).",
            code=CASSETTE_MISS,
        )

    def _pace(self, turn: ReplayTurn, sim: Simulator) -> Pace:
        config = self.config
        admission = turn.admission
        if config.replay_timing == "model":
            request = turn.request
            body = json_body(request.body)
            model = model_of(request, body)
            spec = model_spec(sim, model, turn.provider)
            prompt = sim.count_tokens(_prompt_text(body)) if body is not None else len(request.body) // 4
            return ModelPace(sim, spec, prompt, admission)
        scale = config.replay_time_scale * (admission.latency_scale if admission is not None else 1.0)
        return RecordedPace(sim, turn.started, scale, float(turn.entry.get("headers_ms", 0.0)))

    def _rewrite(self, entry: dict[str, Any], sim: Simulator) -> Callable[[bytes], bytes]:
        if self.config.replay_ids == "recorded":
            return _same
        try:
            recorded = datetime.datetime.fromisoformat(str(entry.get("recorded_at"))).timestamp()
        except ValueError:
            recorded = sim.clock.wall()
        return refresher(self.book, round(sim.clock.wall() - recorded))

    async def answer(self, turn: ReplayTurn, sim: Simulator) -> Response:
        """Answer the turn's request from its entry: paced (``retime.py``), ids fresh or recorded; faults strike."""
        pace = self._pace(turn, sim)
        entry = turn.entry
        rewrite = self._rewrite(entry, sim)
        headers: Headers = [
            (name.encode(), value.encode("latin-1")) for name, value in entry.get("headers", {}).items()
        ]
        fault = turn.admission.fault if turn.admission is not None else None
        if "chunks" in entry:
            await pace.headers()
            frames = pace.events(entry["chunks"], rewrite)
            return relayed_stream(frames, headers, turn.provider, fault, sim)
        body = entry.get("body", {})
        data = part_bytes(body)
        await pace.body(data, float(body.get("ms", 0.0)))
        return JsonResponse(int(entry["status"]), rewrite(data), headers)


def _same(data: bytes) -> bytes:
    return data


def _prompt_text(body: dict[str, Any]) -> str:
    """The text a prompt's size is counted from: its conversation and system prompt as JSON."""
    picked = [body.get(name) for name in (*CONVERSATION, *SYSTEM) if name in body]
    return json.dumps(picked, ensure_ascii=False)


def check_entry(entry: Any) -> dict[str, Any]:
    """``entry`` when it has the shape of a cassette entry; raises ``ValueError`` naming what is wrong."""
    if not isinstance(entry, dict):
        raise ValueError("not a JSON object")
    if not isinstance(entry.get("request"), dict):
        raise ValueError("no request object")
    int(entry["status"])
    chunks = entry.get("chunks")
    if chunks is not None and not (isinstance(chunks, list) and all(isinstance(c, dict) for c in chunks)):
        raise ValueError("chunks is not a list of objects")
    if chunks is None and not isinstance(entry.get("body", {}), dict):
        raise ValueError("body is not an object")
    return entry


def check_cassettes(config: SimulatorConfig) -> None:
    """Load the replay directory once up front (``serve``), so a bad cassette fails before any worker starts."""
    if config.proxy.replay_dir:
        Cassettes(config.proxy)
