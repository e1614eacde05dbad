"""Aggregates shared by the worker processes of one server (``serve --workers N``).

A scrape reaches one worker, yet ``/metrics`` must count every worker's requests. Each
worker writes its aggregates to ``<dir>/worker-<pid>.json`` every flush interval (and just
before answering a scrape), replacing the file atomically; the worker answering merges its
own live aggregates with every other worker's file. Counters of a worker that has exited
stay counted (a counter must never go down); its in-flight gauges are dropped.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson

from llm_simulator.telemetry.stats import Stats

_PREFIX = "worker-"
_RESET = "reset"


class SharedStats:
    """A worker's file in the shared directory, and the merge of everyone's."""

    def __init__(self, directory: str, pid: int | None = None) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.pid = pid if pid is not None else os.getpid()
        self.path = self.directory / f"{_PREFIX}{self.pid}.json"

    def write(self, stats: Stats) -> None:
        """Replace this worker's file with its current aggregates (atomic rename)."""
        data = stats.to_data()
        data["pid"] = self.pid
        tmp = self.path.with_suffix(".tmp")
        tmp.write_bytes(orjson.dumps(data))
        os.replace(tmp, self.path)

    def request_reset(self, at: float) -> None:
        """Ask every worker to reset its counters (``/admin/stats/reset`` reached one of them)."""
        tmp = self.directory / f"{_RESET}.tmp"
        tmp.write_text(repr(at))
        os.replace(tmp, self.directory / _RESET)

    def reset_requested_at(self) -> float:
        """When the last reset was asked for (0 if never)."""
        try:
            return float((self.directory / _RESET).read_text())
        except (OSError, ValueError):
            return 0.0

    def others(self) -> list[dict[str, Any]]:
        """Every other worker's last written aggregates (unreadable files skipped).

        A worker that has not yet seen the latest reset counts as empty until it has.
        """
        reset_at = self.reset_requested_at()
        out = []
        for path in sorted(self.directory.glob(f"{_PREFIX}*.json")):
            if path == self.path:
                continue
            try:
                data = orjson.loads(path.read_bytes())
            except (OSError, orjson.JSONDecodeError):
                continue  # being replaced right now, or removed: the next scrape has it
            if data.get("since", 0.0) < reset_at:
                continue
            if not _alive(int(data.get("pid", 0))):
                data["active_requests"] = 0
                data["active_streams"] = 0
            out.append(data)
        return out

    def merged(self, own: Stats) -> Stats:
        """A new ``Stats`` holding ``own`` plus every other worker's aggregates."""
        total = Stats()
        total.merge_data(own.to_data())
        total.since = own.since
        others = self.others()
        for data in others:
            total.merge_data(data)
        total.workers = 1 + len(others)
        return total


def _alive(pid: int) -> bool:
    """Whether process ``pid`` still exists (signal 0 checks without sending anything)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
