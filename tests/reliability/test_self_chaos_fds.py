"""Chaos for the simulator itself: file descriptors run out.

The server runs in a subprocess whose ``RLIMIT_NOFILE`` is lowered to 128 (a wrapper sets it
and execs the CLI, so the workers inherit it), then more connections are opened than it can
hold, each sending a request. What must hold (docs/operations.md, "What the simulator
survives"): the server keeps running; the connections it can hold are served; the excess is
refused or left waiting, not a crash; it does not spin (CPU stays low while exhausted); once
connections close it serves again; and it still shuts down cleanly.

What each server does with the excess, as observed: granian leaves the connections in the
listen backlog and retries ``accept`` (logging ``Failed to accept connection: Too many open
files`` about twice a second), serving them once descriptors are free; uvicorn (uvloop,
libuv) accepts each excess connection and closes it at once (the client sees it closed).
Loopback only, bounded: about 5 s per server.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.live import free_port, stop_server

LIMIT = 128
EXCESS = 40
BODY = b'{"model":"gpt-4.1","messages":[{"role":"user","content":"hi"}],"max_tokens":3}'
REQUEST = (
    b"POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
    b"content-length: %d\r\n\r\n" % len(BODY) + BODY
)
WRAPPER = (
    "import os, resource, sys\n"
    f"resource.setrlimit(resource.RLIMIT_NOFILE, ({LIMIT}, {LIMIT}))\n"
    "os.execv(sys.executable, [sys.executable, '-m', 'llm_simulator.cli.main', *sys.argv[1:]])\n"
)


@contextlib.contextmanager
def limited_server(server: str, log: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``llm-simulator serve`` on 127.0.0.1 with at most ``LIMIT`` file descriptors."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLM_SIMULATOR_")}
    command = [sys.executable, "-c", WRAPPER, "serve", "--host", "127.0.0.1", "--port", str(port)]
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*command, "--server", server, "--no-latency"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, log.read_text()
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(url + "/health", timeout=1).status_code == 200:
                    break
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)
        yield url, process
    finally:
        stop_server(process)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and its children (the workers), from /proc."""
    total = 0.0
    pids = [pid]
    with contextlib.suppress(OSError):
        pids += [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    for each in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def answers(socks: list[socket.socket], within: float) -> tuple[int, int]:
    """Wait up to ``within`` s for each socket's first bytes: (answered 200, closed by the server)."""
    selector = selectors.DefaultSelector()
    for sock in socks:
        selector.register(sock, selectors.EVENT_READ, sock)
    served = closed = 0
    deadline = time.monotonic() + within
    while selector.get_map() and (left := deadline - time.monotonic()) > 0:
        for key, _ in selector.select(left):
            sock = key.data
            selector.unregister(sock)
            try:
                data = sock.recv(64)
            except OSError:
                data = b""
            if data.startswith(b"HTTP/1.1 200"):
                served += 1
            elif not data:
                closed += 1
    selector.close()
    return served, closed


@pytest.mark.parametrize("server", ["granian", "uvicorn"])
def test_running_out_of_file_descriptors_refuses_the_excess_and_recovers(server: str, tmp_path: Path) -> None:
    """More connections than descriptors: the server lives, serves what it holds, does not
    spin, and serves again once the connections close.
    """
    log = tmp_path / "server.log"
    with limited_server(server, log) as (url, process):
        socks = []
        try:
            for _ in range(LIMIT + EXCESS):
                sock = socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), timeout=5)
                socks.append(sock)
                sock.sendall(REQUEST)
            served, closed = answers(socks, within=3.0)
            assert served >= 40, (served, closed)  # what it could hold was served
            assert served < len(socks)  # and the excess was not: there were no descriptors
            before = cpu_seconds(process.pid)
            time.sleep(1.0)
            spent = cpu_seconds(process.pid) - before
            assert spent < 0.6, f"{spent:.2f} s of CPU in 1 s while exhausted: a busy loop"
            assert process.poll() is None, log.read_text()
        finally:
            for sock in socks:
                sock.close()
        # Descriptors are free again: a new request is served (granian first drains its backlog).
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(httpx.TransportError):
                reply = httpx.post(
                    url + "/v1/chat/completions",
                    content=BODY,
                    headers={"content-type": "application/json"},
                    timeout=5,
                )
                if reply.status_code == 200:
                    break
            assert time.monotonic() < deadline, "not serving again after the connections closed"
            time.sleep(0.1)
        assert process.poll() is None
        process.send_signal(signal.SIGINT)
        assert process.wait(15) == 0, log.read_text()
