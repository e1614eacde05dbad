"""A throwaway real ``redis-server`` on a free 127.0.0.1 port (no persistence, no fake Redis).

``scripts/system-packages.sh`` installs Debian's package where it can; where ``redis-server`` is
missing the tests that need it are skipped with the reason.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from llm_simulator.testing.server import free_port

REDIS_BINARY = shutil.which("redis-server")
SKIP_REASON = "redis-server is not installed (scripts/system-packages.sh installs Debian's package as root)"
START_TIMEOUT_S = 10.0


class RedisServer:
    """One redis-server process; ``stop`` and ``start`` again keep the same port."""

    def __init__(self) -> None:
        self.port = free_port()
        self._dir = tempfile.mkdtemp(prefix="llmsim-redis-")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The URL the simulator is given."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        assert REDIS_BINARY is not None, SKIP_REASON
        args = [REDIS_BINARY, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        args += ["--dir", self._dir, "--protected-mode", "yes"]
        log = Path(self._dir) / "redis.log"
        with log.open("ab") as out:
            self.process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited: {log.read_text()[-2000:]}")
            if self.ping():
                return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start in time")

    def ping(self) -> bool:
        """Whether the server answers PING (raw RESP, no client library)."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL)."""
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def close(self) -> None:
        """Stop and remove the data directory."""
        self.stop()
        shutil.rmtree(self._dir, ignore_errors=True)
