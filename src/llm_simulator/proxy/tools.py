"""Cassettes as files: read, summarise, prune, and turn into fixture rules or latency samples.

What the ``llm-simulator cassette`` command does, without the command line (``cli/cassette.py``
adds the latency fit, which lives in ``adapters``). A path is a ``.jsonl`` file or a directory
of them; a line that is not an entry stops with its file and line (``CassetteError``).
"""

from __future__ import annotations

import datetime
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llm_simulator.proxy.answers import respond_of
from llm_simulator.proxy.matching import exact, last_user_text
from llm_simulator.proxy.replay import CassetteError, check_entry
from llm_simulator.wire.recorded import StreamTiming
from llm_simulator.wire.recorded import stream_timing as recorded_stream_timing

# The fixture endpoint of a recorded path (fixtures answer the generation endpoints only).
_GENERATION = ("/chat/completions", "/responses", "/messages", ":generateContent", ":streamGenerateContent")


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


def stream_timing(entry: dict[str, Any]) -> StreamTiming | None:
    """The timing of a successful recorded stream (None for a whole answer, an error, a stream without output)."""
    chunks = entry.get("chunks")
    if not chunks or int(entry["status"]) != 200:
        return None
    return recorded_stream_timing(chunks)
