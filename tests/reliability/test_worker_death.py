"""A worker killed under ``serve --workers 2`` is replaced; the server, the port and the other worker's streams live on.

Only the requests the dead worker was serving are lost. The test finds which worker serves
each stream from ``/proc`` (the worker holding the server end of the connection), kills one
worker with SIGKILL and checks the rest: the master keeps running, the port keeps answering,
the survivor's streams end whole, a new worker appears, and the restart is counted on
``/metrics`` and logged.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.live import free_port, stop_server

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

STREAMS = 8  # enough that both workers get some (the kernel spreads connections)
MAX_TOKENS = 120  # a few seconds at the gpt4 profile's ~40 ms per token
TIMEOUT_S = 30.0  # every wait is bounded by this; a loaded CI machine is slow, not stuck
# Starting two workers: 30 s ran out on a 2-core box shared by several test runs.
START_TIMEOUT_S = 120.0


@dataclass
class Stream:
    """One streamed chat completion read in its own thread."""

    client_port: int = 0
    started: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)
    body: str = ""
    error: str = ""

    @property
    def whole(self) -> bool:
        """The stream reached its finish reason and ``[DONE]`` with no transport error."""
        return not self.error and '"finish_reason":"' in self.body and self.body.rstrip().endswith("data: [DONE]")


def _read_stream(url: str, stream: Stream) -> None:
    body = {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "tell me a long story"}],
        "max_tokens": MAX_TOKENS,
        "stream": True,
    }
    parts: list[str] = []
    try:
        # One client per stream: its own connection, so the kernel may hand it to either worker.
        with (
            httpx.Client(timeout=TIMEOUT_S) as client,
            client.stream("POST", url + "/v1/chat/completions", json=body) as response,
        ):
            stream.client_port = response.extensions["network_stream"].get_extra_info("client_addr")[1]
            stream.started.set()
            for text in response.iter_text():
                parts.append(text)
    except httpx.HTTPError as exc:
        stream.error = repr(exc)
    finally:
        stream.body = "".join(parts)
        stream.started.set()
        stream.finished.set()


def _children(pid: int) -> set[int]:
    """Processes whose parent is ``pid``."""
    out: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces, so split after its closing paren.
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            out.add(int(entry.name))
    return out


def _sockets(port: int) -> tuple[set[str], dict[int, str]]:
    """(inodes of the listening sockets on ``port``, client port → inode of the server end)."""
    listening: set[str] = set()
    accepted: dict[int, str] = {}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port = int(fields[1].rsplit(":", 1)[1], 16)
        remote_port = int(fields[2].rsplit(":", 1)[1], 16)
        if local_port != port:
            continue
        if fields[3] == "0A":  # LISTEN
            listening.add(fields[9])
        else:
            accepted[remote_port] = fields[9]
    return listening, accepted


def _socket_inodes(pid: int) -> set[str]:
    inodes: set[str] = set()
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return inodes
    for fd in fds:
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def _workers(master: int, port: int) -> set[int]:
    """The master's children that hold a listening socket of ``port`` (not helper processes)."""
    listening, _ = _sockets(port)
    return {pid for pid in _children(master) if _socket_inodes(pid) & listening}


def _gone(pid: int) -> bool:
    """Whether ``pid`` has exited (reaped, or a zombie whose sockets are closed)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def _restarts(url: str) -> float | None:
    """``llm_simulator_worker_restarts_total`` from one scrape on a fresh connection."""
    text = httpx.get(url + "/metrics", timeout=10).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "llm_simulator_worker_restarts_total":
                return sample.value
    return None


def _wait(condition_name: str, check: Callable[[], bool], log: Path) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {condition_name}; the server's log:\n{log.read_text()}")


@dataclass
class Server:
    """``serve --workers 2`` in a subprocess, its stderr in a file."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        """Base URL."""
        return f"http://127.0.0.1:{self.port}"


def _serve(*args: str) -> Iterator[Server]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLM_SIMULATOR_")}
    cmd = [sys.executable, "-m", "llm_simulator.cli.main", "serve", "--host", "127.0.0.1", "--port", str(port)]
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "stderr.log"
        shared = Path(tmp) / "metrics"
        config = Path(tmp) / "config.yaml"
        config.write_text(f"telemetry:\n  metrics:\n    multiprocess_dir: {json.dumps(str(shared))}\n")
        with log.open("wb") as err:
            # stderr to a file, not a pipe: nobody reads a pipe while the test runs, and a full one blocks the server.
            process = subprocess.Popen(
                [*cmd, "--config", str(config), *args], env=env, stdout=subprocess.DEVNULL, stderr=err
            )
        server = Server(process, port, log)
        try:
            deadline = time.monotonic() + START_TIMEOUT_S
            # Ready: two workers, each past its start (its file in the shared directory; a worker
            # killed before that has served nothing and is replaced without being counted).
            while not _started(process.pid, port, shared) or not _answers(server.url):
                assert process.poll() is None, f"server exited early: {log.read_text()}"
                assert time.monotonic() < deadline, f"server did not start: {log.read_text()}"
                time.sleep(0.1)
            yield server
        finally:
            stop_server(process)


def _started(master: int, port: int, shared: Path) -> bool:
    workers = _workers(master, port)
    return len(workers) == 2 and all((shared / f"worker-{pid}.json").exists() for pid in workers)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url + "/health", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


@pytest.fixture(params=["granian", "uvicorn"])
def server(request: pytest.FixtureRequest) -> Iterator[Server]:
    """Two workers under granian (the default) or uvicorn; a seed so stream lengths do not depend on chance."""
    yield from _serve("--server", request.param, "--workers", "2", "--seed", "3")


def test_a_killed_worker_is_replaced_and_only_its_requests_are_lost(server: Server) -> None:
    master = server.process.pid
    workers = _workers(master, server.port)
    assert len(workers) == 2, workers

    streams: list[Stream] = []
    threads: list[threading.Thread] = []
    for _ in range(STREAMS):
        stream = Stream()
        thread = threading.Thread(target=_read_stream, args=(server.url, stream), daemon=True)
        thread.start()
        streams.append(stream)
        threads.append(thread)
    for stream in streams:
        assert stream.started.wait(TIMEOUT_S)
    assert not any(s.finished.is_set() for s in streams), "the streams must still be running at the kill"

    # Which worker serves each stream: the one holding the server end of its connection.
    _, accepted = _sockets(server.port)
    owner: dict[int, int] = {}
    for pid in workers:
        inodes = _socket_inodes(pid)
        for stream in streams:
            if accepted.get(stream.client_port) in inodes:
                owner[stream.client_port] = pid
    assert len(owner) == STREAMS, (owner, accepted)
    # Kill the less busy worker: the survivor surely keeps streams to finish (and should the
    # kernel have handed every stream to one worker, the other dies with none to lose).
    victim = min(workers, key=lambda pid: sum(1 for p in owner.values() if p == pid))
    (survivor,) = workers - {victim}

    os.kill(victim, signal.SIGKILL)
    _wait("the killed worker to exit", lambda: _gone(victim), server.log)

    # The port keeps answering, on fresh connections, while the master replaces the worker.
    for _ in range(20):
        assert _answers(server.url)
        assert server.process.poll() is None, server.log.read_text()
    _wait("a new worker", lambda: len(_workers(master, server.port) - {survivor}) == 1, server.log)
    (newcomer,) = _workers(master, server.port) - {survivor}
    assert newcomer != victim

    for stream in streams:
        assert stream.finished.wait(TIMEOUT_S)
    for thread in threads:
        thread.join(TIMEOUT_S)
    for stream in streams:
        if owner[stream.client_port] == survivor:
            assert stream.whole, (stream.error, stream.body[-300:])
        else:
            assert not stream.whole, "a stream of the killed worker cannot have ended whole"

    # Counted on /metrics by whichever worker answers, and logged.
    seen: list[float | None] = []

    def counted() -> bool:
        seen[:] = [_restarts(server.url) for _ in range(6)]
        return all(value == 1 for value in seen)

    try:
        _wait("the restart on /metrics", counted, server.log)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\nlast scrapes: {seen}") from None
    assert server.process.poll() is None
    log = server.log.read_text()
    assert f"worker process {victim} ended without shutting down" in log, log
