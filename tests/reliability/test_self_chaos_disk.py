"""Chaos for the simulator itself: a full disk under what it writes.

The simulator writes to disk in three places: the ``jsonl`` event sink (one append per
batch), the aggregates a worker shares with the others (``serve --workers N``: one file per
worker, replaced every flush) and its log (stderr, wherever that goes). The request log
(``/admin/requests``) is an in-memory ring and never touches the disk. A full disk is
injected (a file object whose ``write`` raises ``ENOSPC``, after taking the bytes that still
fit), never produced on the machine's real disk.

What must hold (docs/operations.md, "What the simulator survives"): requests keep being
served with correct answers; what could not be written is dropped and counted
(``llm_simulator_events_dropped_total``); one log line says so (not one per batch); once the
disk has room again, writing resumes by itself and a log line says that too.
"""

from __future__ import annotations

import asyncio
import errno
import io
import logging
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from llm_simulator.config import load_config
from llm_simulator.server.app import SimulatorApp
from tests.server.asgi_driver import Captured, call

CHAT_PATH = "/v1/chat/completions"
CHAT = orjson.dumps({"model": "gpt-4.1", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5})


class Disk:
    """A simulated disk: ``room`` bytes left (None: plenty). Writes past it raise ENOSPC."""

    def __init__(self) -> None:
        self.room: int | None = None
        self.refused = 0

    def fill(self, room: int = 0) -> None:
        """Only ``room`` more bytes fit."""
        self.room = room

    def free(self) -> None:
        """Room again."""
        self.room = None


class FullDiskFile:
    """A real file whose writes obey a ``Disk``: a short write while room lasts, then ENOSPC."""

    def __init__(self, file: Any, disk: Disk) -> None:
        self._file = file
        self._disk = disk

    def write(self, data: bytes | memoryview) -> int:
        room = self._disk.room
        if room is None:
            written: int = self._file.write(data)
            return written
        if room == 0:
            self._disk.refused += 1
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        taken = bytes(data[:room])
        self._disk.room = room - len(taken)
        self._file.write(taken)
        return len(taken)

    def __enter__(self) -> FullDiskFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self._file.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._file, name)


class FullDiskStream(io.StringIO):
    """A text stream (a log's) on a ``Disk``: all or nothing per write."""

    def __init__(self, disk: Disk) -> None:
        super().__init__()
        self._disk = disk

    def write(self, text: str) -> int:
        if self._disk.room is not None:
            self._disk.refused += 1
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return super().write(text)


@pytest.fixture
def disk() -> Disk:
    """The simulated disk (plenty of room until a test fills it)."""
    return Disk()


@pytest.fixture
def on_disk(monkeypatch: pytest.MonkeyPatch, disk: Disk) -> Callable[[Path], None]:
    """Put a path on the simulated disk: ``Path.open`` of it returns a ``FullDiskFile``."""
    paths: set[Path] = set()
    real_open = Path.open

    def open_(self: Path, *args: Any, **kwargs: Any) -> Any:
        file = real_open(self, *args, **kwargs)
        return FullDiskFile(file, disk) if self in paths else file

    monkeypatch.setattr(Path, "open", open_)
    return paths.add


@pytest.fixture
def logged() -> Iterator[list[str]]:
    """Warnings of the simulator's loggers, captured on the loggers themselves."""
    seen: list[str] = []
    records: set[int] = set()

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if id(record) not in records:  # once, whether it propagated or not
                records.add(id(record))
                seen.append(record.getMessage())

    handler = Collect(logging.WARNING)
    loggers = [logging.getLogger(name) for name in ("llm_simulator.telemetry", "llm_simulator")]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield seen
    finally:
        for logger in loggers:
            logger.removeHandler(handler)


async def until(condition: Callable[[], bool], within: float = 10.0) -> None:
    """Wait (polling) until ``condition()`` holds; fail after ``within`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition():
        assert loop.time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


def assert_chat_answer(reply: Captured) -> None:
    """A complete, correct chat completion (the full disk changed nothing the client sees)."""
    assert reply.status == 200, reply.body
    body = orjson.loads(reply.body)
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"]["content"]
    assert body["usage"]["completion_tokens"] == 5


def metric(text: str, name: str, sink: str) -> float:
    """The value of ``name{sink="…"}`` in a Prometheus exposition."""
    found = re.search(rf'^{name}{{sink="{re.escape(sink)}"}} (\S+)$', text, re.M)
    assert found is not None, f"{name} for {sink} missing"
    return float(found.group(1))


def jsonl_app(path: Path, **extra: Any) -> SimulatorApp:
    """An in-process app without latency, a jsonl sink delivering every event at once, the request log on."""
    sink = {"type": "jsonl", "path": str(path), "batch_size": 1, "flush_interval_s": 0.01, "timeout_s": 2}
    flags = {"latency.enabled": False, "telemetry.events.sinks": [sink], "telemetry.request_log.enabled": True}
    return SimulatorApp(load_config(flags={**flags, **extra}))


async def test_a_full_disk_under_the_jsonl_sink_keeps_serving_counts_drops_and_recovers(
    tmp_path: Path, disk: Disk, on_disk: Callable[[Path], None], logged: list[str]
) -> None:
    """Full disk: every request still answered correctly; each event that cannot be appended is
    dropped and counted on /metrics; one warning (not one per batch); the request log (memory)
    keeps every request; once there is room the sink appends again and says so.
    """
    path = tmp_path / "events.jsonl"
    on_disk(path)
    app = jsonl_app(path)
    [sink] = app.telemetry.sinks
    disk.fill()
    for _ in range(5):
        assert_chat_answer(await call(app, "POST", CHAT_PATH, CHAT))
    await until(lambda: sink.dropped == 10)  # received + completed, per request
    assert sink.sent == 0
    assert path.read_bytes() == b""
    metrics = (await call(app, "GET", "/metrics")).body.decode()
    assert metric(metrics, "llm_simulator_events_dropped_total", sink.name) == 10
    failures = [w for w in logged if "No space left on device" in w]
    assert len(failures) == 1, logged  # one line, not ten
    entries = orjson.loads((await call(app, "GET", "/admin/requests")).body)
    assert [e["status"] for e in entries["requests"] if e["path"] == CHAT_PATH] == [200] * 5

    disk.free()
    replies = [await call(app, "POST", CHAT_PATH, CHAT) for _ in range(3)]
    for reply in replies:
        assert_chat_answer(reply)
    await until(lambda: sink.sent == 6)
    lines = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    assert [e["request_id"] for e in lines if e["event"] == "request.completed"] == [
        r.headers["x-request-id"] for r in replies
    ]
    assert any("delivering again" in w and "10 events dropped" in w for w in logged), logged
    await app.telemetry.close()
    assert (sink.sent, sink.dropped) == (6, 10)


async def test_a_write_torn_by_a_full_disk_does_not_spoil_the_next_line(
    tmp_path: Path, disk: Disk, on_disk: Callable[[Path], None]
) -> None:
    """The disk fills in the middle of a line: that event is lost (counted), and the line
    written once there is room again is whole, not glued to the fragment.
    """
    path = tmp_path / "events.jsonl"
    on_disk(path)
    app = jsonl_app(path)
    [sink] = app.telemetry.sinks
    disk.fill(room=25)  # part of the first event's line fits
    assert_chat_answer(await call(app, "POST", CHAT_PATH, CHAT))
    await until(lambda: sink.dropped == 2)
    disk.free()
    reply = await call(app, "POST", CHAT_PATH, CHAT)
    assert_chat_answer(reply)
    await until(lambda: sink.sent == 2)
    await app.telemetry.close()
    fragment, *whole = path.read_bytes().splitlines()
    assert len(fragment) == 25
    events = [orjson.loads(line) for line in whole]  # each line after the fragment parses
    assert [(e["event"], e["request_id"]) for e in events] == [
        ("request.received", reply.headers["x-request-id"]),
        ("request.completed", reply.headers["x-request-id"]),
    ]


async def test_a_full_disk_under_the_shared_worker_metrics_warns_once_and_recovers(
    tmp_path: Path, disk: Disk, monkeypatch: pytest.MonkeyPatch, logged: list[str]
) -> None:
    """With several workers each shares its aggregates through a file replaced every flush.
    Full disk: the worker keeps serving and its own /metrics stays right; the failed flushes
    leave no temporary files behind; one warning, not one per flush; once there is room the
    next flush shares the counts again.
    """
    shared = tmp_path / "shared"
    real_fdopen = os.fdopen

    def fdopen(fd: int, *args: Any, **kwargs: Any) -> Any:
        file = real_fdopen(fd, *args, **kwargs)
        return FullDiskFile(file, disk) if os.readlink(f"/proc/self/fd/{fd}").startswith(str(shared)) else file

    monkeypatch.setattr(os, "fdopen", fdopen)
    config = load_config(
        flags={
            "latency.enabled": False,
            "telemetry.metrics.multiprocess_dir": str(shared),
            "telemetry.metrics.flush_interval_s": 0.02,
        }
    )
    app = SimulatorApp(config)
    own_file = shared / f"worker-{os.getpid()}.json"
    disk.fill()
    assert_chat_answer(await call(app, "POST", CHAT_PATH, CHAT))
    await until(lambda: disk.refused >= 10)  # ten flushes failed
    assert_chat_answer(await call(app, "POST", CHAT_PATH, CHAT))
    metrics = (await call(app, "GET", "/metrics")).body.decode()
    assert re.search(r'^llm_simulator_requests_total\{[^}]*endpoint="chat"[^}]*\} 2.0$', metrics, re.M), metrics
    assert not own_file.exists()
    assert list(shared.glob("*.tmp")) == []  # no temporary file left by a failed flush
    failures = [w for w in logged if "share metrics" in w]
    assert len(failures) == 1, logged

    disk.free()
    await until(own_file.exists)
    assert orjson.loads(own_file.read_bytes())["pid"] == os.getpid()
    assert any("sharing metrics with the other workers again" in w for w in logged), logged
    await app.telemetry.close()


async def test_a_full_disk_under_the_log_never_fails_a_request(
    disk: Disk, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The access log writes to a stream on a full disk: logging swallows the error (it is the
    logging module's ``handleError``), and the request is answered as usual.
    """
    stream = FullDiskStream(disk)
    handler = logging.StreamHandler(stream)
    access = logging.getLogger("llm_simulator.access")
    monkeypatch.setattr(access, "level", logging.INFO)
    access.addHandler(handler)
    disk.fill()
    try:
        app = SimulatorApp(load_config(flags={"latency.enabled": False, "logging.access_log": True}))
        for _ in range(3):
            assert_chat_answer(await call(app, "POST", CHAT_PATH, CHAT))
        await app.telemetry.close()
    finally:
        access.removeHandler(handler)
    assert disk.refused == 3  # the access log really tried, three times
    capsys.readouterr()  # logging's own "--- Logging error ---" report went to stderr
