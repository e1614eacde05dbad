"""Cassettes as files: read, summarise, prune, and turn into fixture rules or latency samples.

What the ``llm-simulator cassette`` command does, without the command line (``cli/cassette.py``
adds the latency fit, which lives in ``adapters``). A path is a ``.jsonl`` file or a directory
of them; a line that is not an entry stops with its file and line (``CassetteError``).
"""

from __future__ import annotations

import datetime
import itertools
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llm_simulator.proxy.answers import respond_of
from llm_simulator.proxy.cassette import entry_bytes
from llm_simulator.proxy.matching import exact, last_user_text
from llm_simulator.proxy.replay import CassetteError, check_entry
from llm_simulator.proxy.retime import carries_output, split_events

# The fixture endpoint of a recorded path (fixtures answer the generation endpoints only).
_GENERATION = ("/chat/completions", "/responses", "/messages", ":generateContent", ":streamGenerateContent")
# Where a recorded answer's usage says how long its prompt was (OpenAI, Anthropic, Gemini).
_PROMPT_TOKENS = re.compile(rb'"(?:prompt_tokens|input_tokens|promptTokenCount)":\s*(\d+)')


@dataclass(frozen=True)
class Loaded:
    """One entry and where it is: file and line (from 1)."""

    path: Path
    line: int
    entry: dict[str, Any]


def cassette_files(path: Path) -> list[Path]:
    """The cassette files of ``path`` (a ``.jsonl`` file, or every one in a directory)."""
    if path.is_dir():
        return sorted(path.glob("*.jsonl"))
    if path.is_file():
        return [path]
    raise CassetteError(f"{path}: no such cassette file or directory")


def read_entries(path: Path) -> Iterator[Loaded]:
    """Every entry of ``path``, in file and line order."""
    for file in cassette_files(path):
        for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                entry = check_entry(json.loads(line))
            except (ValueError, KeyError, TypeError) as exc:
                raise CassetteError(f"{file}:{number} is not a cassette entry ({exc})") from None
            yield Loaded(file, number, entry)


def summary(loaded: Loaded) -> dict[str, Any]:
    """One entry in a line of ``cassette list``/``inspect``: where, what was asked and answered, how long."""
    entry = loaded.entry
    request = entry["request"]
    body = request.get("json") or {}
    chunks = entry.get("chunks")
    last_ms = chunks[-1]["ms"] if chunks else entry.get("body", {}).get("ms", 0.0)
    return {
        "file": loaded.path.name,
        "line": loaded.line,
        "recorded_at": entry.get("recorded_at", ""),
        "provider": entry.get("provider", ""),
        "method": request.get("method", ""),
        "path": request.get("path", ""),
        "model": body.get("model") or _path_model(str(request.get("path", ""))),
        "stream": chunks is not None,
        "status": entry["status"],
        "chunks": len(chunks) if chunks is not None else 0,
        "ms": round(float(last_ms or 0.0), 1),
        "says": last_user_text(body)[:60],
    }


def _path_model(path: str) -> str:
    """The model a Gemini path names (``.../models/{model}:action``), or ''."""
    _, found, rest = path.partition("/models/")
    return rest.partition(":")[0] if found else ""


def _recorded_at(entry: dict[str, Any]) -> datetime.datetime | None:
    try:
        return datetime.datetime.fromisoformat(str(entry.get("recorded_at")))
    except ValueError:
        return None


def prune(
    path: Path, *, older_than_days: float | None, errors: bool, duplicates: bool, dry_run: bool, now: float
) -> tuple[int, int]:
    """Drop entries from the files of ``path``; returns (kept, dropped).

    ``older_than_days``: recorded longer ago; ``errors``: answered with a status of 400 or
    more; ``duplicates``: all but the latest entry of each exact request. Each file is
    rewritten whole through a temporary file and a rename, so a reader never sees half a file.
    """
    entries = list(read_entries(path))
    drop: set[tuple[Path, int]] = set()
    cutoff = now - older_than_days * 86400 if older_than_days is not None else None
    latest: dict[str, Loaded] = {}
    for loaded in entries:
        entry = loaded.entry
        when = _recorded_at(entry)
        if cutoff is not None and when is not None and when.timestamp() < cutoff:
            drop.add((loaded.path, loaded.line))
        if errors and int(entry["status"]) >= 400:
            drop.add((loaded.path, loaded.line))
        if duplicates:
            key = exact(entry["request"])
            earlier = latest.get(key)
            if earlier is not None:
                drop.add((earlier.path, earlier.line))
            latest[key] = loaded
    if not dry_run:
        for file in {loaded.path for loaded in entries}:
            kept = [lo.entry for lo in entries if lo.path == file and (lo.path, lo.line) not in drop]
            _rewrite(file, kept)
    return len(entries) - len(drop), len(drop)


def _rewrite(file: Path, entries: list[dict[str, Any]]) -> None:
    temporary = file.with_name(f".{file.name}.{os.getpid()}.tmp")
    text = "".join(json.dumps(e, ensure_ascii=False, separators=(",", ":")) + "\n" for e in entries)
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(file)


def fixture_rule(loaded: Loaded) -> dict[str, Any] | None:
    """A fixture rule answering the entry's request as recorded (None: not a generation request).

    It matches the provider, the model and the last user message exactly, and says what
    the upstream said: its text and tool calls, or its error.
    """
    entry = loaded.entry
    request = entry["request"]
    if request.get("method") != "POST" or not request.get("path", "").endswith(_GENERATION):
        return None
    body = request.get("json") or {}
    match: dict[str, Any] = {"provider": entry.get("provider", "openai")}
    if isinstance(body.get("model"), str):
        match["model"] = _glob_literal(body["model"])
    said = last_user_text(body)
    if said:
        match["message"] = {"equals": said}
    respond = respond_of(entry)
    if not respond:
        return None
    return {"name": f"{loaded.path.stem}-{loaded.line}", "match": match, "respond": respond}


def _glob_literal(text: str) -> str:
    """``text`` as a glob matching only itself (``[``, ``*`` and ``?`` bracketed)."""
    return "".join(f"[{ch}]" if ch in "[]*?" else ch for ch in text)


@dataclass(frozen=True)
class Timing:
    """A recorded stream's timing: TTFT, the gaps between tokens, the whole, the prompt's size."""

    ttft_ms: float
    gaps_ms: tuple[float, ...]
    e2e_ms: float
    prompt_tokens: int | None
    output_events: int


def stream_timing(entry: dict[str, Any]) -> Timing | None:
    """The timing of a successful recorded stream (None for a whole answer, an error, a stream without output).

    TTFT is the offset of the first chunk carrying output. A chunk that carried ``k`` output
    events ``g`` ms after the previous output chunk gives ``k`` gaps of ``g / k`` (the events
    coalesced on the way; their spacing within the chunk is not known).
    """
    chunks = entry.get("chunks")
    if not chunks or int(entry["status"]) != 200:
        return None
    timed = []
    for chunk in chunks:
        outputs = sum(1 for event in split_events(entry_bytes(chunk)) if carries_output(event))
        if outputs:
            timed.append((float(chunk["ms"]), outputs))
    if not timed:
        return None
    gaps: list[float] = []
    for (before, _), (after, count) in itertools.pairwise(timed):
        gaps.extend([(after - before) / count] * count)
    found = _PROMPT_TOKENS.findall(b"".join(entry_bytes(c) for c in chunks))
    prompt = max(int(count) for count in found) if found else None
    return Timing(timed[0][0], tuple(gaps), float(chunks[-1]["ms"]), prompt, sum(c for _, c in timed))
