"""Aggregates shared by the worker processes of one server (``serve --workers N``).

A scrape reaches one worker, yet ``/metrics`` must count every worker's requests. Each
worker writes its aggregates to ``<dir>/worker-<pid>.json`` every flush interval, replacing
the file atomically; the worker answering merges its own live aggregates with every other
worker's file. Counters of a worker that has exited stay counted (a counter must never go
down); its in-flight gauges are dropped.

A worker that shuts down marks its last file ``clean``. One that dies instead (SIGKILL, a
crash, the OOM killer) leaves an unmarked file behind; the first worker to notice it (the
replacement at its start, or any worker at its next flush) renames it ``lost-<pid>.json``.
The rename is atomic, so exactly one worker claims each death and logs it, and the number of
``lost-`` files is the number of workers the server had to replace.

A reset reaches every worker through a 16-byte memory-mapped file (a reset epoch and the
reset's time): each worker compares the epoch with the one it last saw before counting a
request, a read of shared memory rather than a system call, so no request served after a
reset is wiped by a worker that learns of it late.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import tempfile
from pathlib import Path
from typing import Any

import orjson

from llm_simulator.telemetry.stats import Stats

_PREFIX = "worker-"
_LOST = "lost-"  # the file of a worker that died without shutting down, once claimed
_EPOCH = "reset.epoch"
_EPOCH_BYTES = 16  # two float64: the reset epoch (a count) and the time of the last reset


class SharedStats:
    """A worker's file in the shared directory, and the merge of everyone's."""

    def __init__(self, directory: str, pid: int | None = None) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.pid = pid if pid is not None else os.getpid()
        self.path = self.directory / f"{_PREFIX}{self.pid}.json"
        fd = os.open(self.directory / _EPOCH, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if os.fstat(fd).st_size < _EPOCH_BYTES:
                os.ftruncate(fd, _EPOCH_BYTES)  # zeros: epoch 0, never reset
            self._map = mmap.mmap(fd, _EPOCH_BYTES)
        finally:
            os.close(fd)
        self._epoch = memoryview(self._map).cast("d")
        self._clean_exits: set[int] = set()  # pids seen shut down cleanly (not re-read every flush)

    def encode(self, stats: Stats, clean: bool = False) -> bytes:
        """The aggregates as the bytes of the worker file (call on the event loop: it reads live dicts).

        ``clean`` marks the last file of a worker that is shutting down, so that its exit is
        not taken for a death.
        """
        data = stats.to_data()
        data["pid"] = self.pid
        if clean:
            data["clean"] = True
        return orjson.dumps(data)

    def write_bytes(self, content: bytes) -> None:
        """Replace this worker's file with ``content`` (atomic rename; safe from several threads).

        Each write has its own temporary name: the periodic flush (in a thread) and a reset or
        shutdown (on the loop) may write at the same moment.
        """
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.stem}.", suffix=".tmp", dir=self.directory)
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(content)
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def write(self, stats: Stats, clean: bool = False) -> None:
        """Replace this worker's file with its current aggregates (``clean``: its last, at shutdown)."""
        self.write_bytes(self.encode(stats, clean))

    def claim_lost(self) -> list[int]:
        """Claim the files of workers that died without shutting down; their pids, each told once.

        Only a dead process's file without the ``clean`` mark is claimed. The claim renames it
        (``lost-<pid>.json``): its counters still count, and a second worker trying the same
        rename finds nothing, so every death is claimed (and logged) once.
        """
        lost = []
        for path in sorted(self.directory.glob(f"{_PREFIX}*.json")):
            pid = _pid_of(path.stem.removeprefix(_PREFIX))
            if pid <= 0 or pid == self.pid or pid in self._clean_exits or _alive(pid):
                continue
            try:
                data = orjson.loads(path.read_bytes())
            except (OSError, orjson.JSONDecodeError):
                continue  # claimed by another worker right now, or half written: look again next time
            if data.get("clean"):
                self._clean_exits.add(pid)  # a worker that shut down (a reload): never a death
                continue
            try:
                os.rename(path, self.directory / f"{_LOST}{pid}.json")
            except OSError:
                continue  # another worker claimed it first
            lost.append(pid)
        return lost

    def restarts(self) -> int:
        """How many workers died without shutting down since the directory was cleared."""
        return sum(1 for _ in self.directory.glob(f"{_LOST}*.json"))

    def request_reset(self, at: float) -> None:
        """Ask every worker to reset its counters (``/admin/stats/reset`` reached one of them)."""
        self._epoch[1] = at
        self._epoch[0] = self._epoch[0] + 1  # written last: a reader seeing the new epoch sees the time

    def reset_epoch(self) -> float:
        """How many resets were asked for so far (compare with the last one seen)."""
        return self._epoch[0]

    def reset_requested_at(self) -> float:
        """When the last reset was asked for (0 if never)."""
        return self._epoch[1]

    def others(self) -> list[dict[str, Any]]:
        """Every other worker's last written aggregates (unreadable files skipped).

        A worker that has not yet seen the latest reset counts as empty until it has (its
        file names an older reset epoch).
        """
        epoch = self.reset_epoch()
        out = []
        paths = [*self.directory.glob(f"{_PREFIX}*.json"), *self.directory.glob(f"{_LOST}*.json")]
        for path in sorted(paths):
            if path == self.path:
                continue
            try:
                data = orjson.loads(path.read_bytes())
            except (OSError, orjson.JSONDecodeError):
                continue  # being replaced right now, or removed: the next scrape has it
            if data.get("epoch", 0.0) < epoch:
                continue
            data["live"] = _alive(int(data.get("pid", 0)))
            if not data["live"]:
                data["active_requests"] = 0
                data["active_streams"] = 0
                data["running"] = 0
                data["waiting"] = 0
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
        # Live workers only: a respawned worker's predecessor still counts in the counters.
        total.workers = 1 + sum(1 for data in others if data.get("live"))
        total.worker_restarts = self.restarts()
        return total

    def clear(self) -> None:
        """Forget earlier runs' files in a reused directory (called once, before workers start)."""
        for path in [*self.directory.glob(f"{_PREFIX}*.json"), *self.directory.glob(f"{_LOST}*.json")]:
            with contextlib.suppress(OSError):
                path.unlink()


def _pid_of(text: str) -> int:
    """The pid in a worker file's name (0, never alive, for a name that holds none)."""
    return int(text) if text.isdigit() else 0


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
