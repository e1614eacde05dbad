"""Start a real simulator process on a free port for wire tests."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx


def free_port() -> int:
    """A port that was free a moment ago on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class LiveServer:
    """A running simulator: its base URL and process."""

    url: str
    process: subprocess.Popen[bytes]

    @property
    def openai_base(self) -> str:
        """Base URL for the openai SDK."""
        return self.url + "/v1"


def stop_server(process: subprocess.Popen[bytes]) -> None:
    """Stop a simulator process as an operator would (SIGINT), killing it if it lingers past 15 s."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def live_server(*args: str, env: dict[str, str] | None = None, startup_timeout: float = 30.0) -> Iterator[LiveServer]:
    """Run ``llm-simulator serve`` with ``args`` on 127.0.0.1 and stop it afterwards."""
    port = free_port()
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("LLM_SIMULATOR_")}
    full_env.update(env or {})
    cmd = [sys.executable, "-m", "llm_simulator.cli.main", "serve", "--host", "127.0.0.1", "--port", str(port), *args]
    # stderr goes to a file, not a pipe: nobody reads a pipe while the server runs, and once its
    # 64 KB buffer is full (granian logs every write to a closed connection) the server blocks.
    log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in the finally below
    process = subprocess.Popen(cmd, env=full_env, stdout=subprocess.DEVNULL, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            if process.poll() is not None:
                log.seek(0)
                err = log.read().decode(errors="replace")
                raise RuntimeError(f"simulator exited early ({process.returncode}): {err}")
            try:
                if httpx.get(url + "/health", timeout=1.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("simulator did not start in time")
            time.sleep(0.1)
        yield LiveServer(url, process)
    finally:
        stop_server(process)
        log.close()
