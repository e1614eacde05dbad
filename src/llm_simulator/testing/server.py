"""Run a simulator for a test: in this process (uvicorn on a background thread) or as a subprocess.

Both bind 127.0.0.1 on a port the OS picks, wait until ``/health`` answers, and stop
cleanly. Nothing is shared between two servers (no fixed port, no shared file), so any
number can run at once, in one process or in many (pytest-xdist workers).

The configuration is plain data, merged from ``DEFAULT_CONFIG`` (test-friendly: no
simulated latency, the request log on, a fixed seed) and the caller's overrides, whose keys
may be nested (``{"chaos": {"enabled": True}}``) or dotted (``{"chaos.enabled": True}``).
"""

from __future__ import annotations

import asyncio
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeVar

import httpx
import orjson
from pydantic import ValidationError

from llm_simulator.config.loader import format_validation_error
from llm_simulator.config.schema import SimulatorConfig

if TYPE_CHECKING:
    import uvicorn

    from llm_simulator.server.app import SimulatorApp

__all__ = ["DEFAULT_CONFIG", "InProcessServer", "SubprocessServer", "merge_config"]

T = TypeVar("T")

DEFAULT_CONFIG: Mapping[str, Any] = {
    "seed": 1234,
    "latency": {"enabled": False},
    "telemetry": {"request_log": {"enabled": True}},
    "server": {"drain_timeout_s": 1.0},
    "logging": {"level": "warning"},
}
"""Test-friendly defaults under every test's own config: answers at once (turn latency back on
with ``latency.enabled: true``), every request recorded for ``requests()``, reproducible
output (``seed``), a short drain at shutdown, and a quiet log."""

STARTUP_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0


def _expand(config: Mapping[str, Any]) -> dict[str, Any]:
    """Dotted keys (``"chaos.enabled"``) turned into nested mappings; nested ones expanded too."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        if not isinstance(key, str):
            raise TypeError(f"config keys must be strings, got {key!r}")
        node = out
        *parents, leaf = key.split(".")
        for part in parents:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        expanded = _expand(value) if isinstance(value, Mapping) else value
        if isinstance(expanded, dict) and isinstance(node.get(leaf), dict):
            node[leaf] = _deep_merge(node[leaf], expanded)
        else:
            node[leaf] = expanded
    return out


def _deep_merge(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    """``top`` over ``base``: mappings merge key by key, anything else (lists too) is replaced."""
    out = dict(base)
    for key, value in top.items():
        current = out.get(key)
        out[key] = _deep_merge(current, value) if isinstance(current, Mapping) and isinstance(value, Mapping) else value
    return out


def merge_config(*layers: Mapping[str, Any] | None) -> dict[str, Any]:
    """The layers merged in order (later wins), each with nested or dotted keys."""
    out: dict[str, Any] = {}
    for layer in layers:
        if layer:
            out = _deep_merge(out, _expand(layer))
    return out


def validate(config: Mapping[str, Any]) -> SimulatorConfig:
    """The validated configuration, or a ``ValueError`` naming every offending key."""
    try:
        return SimulatorConfig.model_validate(dict(config))
    except ValidationError as exc:
        raise ValueError(format_validation_error(exc)) from None


def _wait_healthy(url: str, deadline: float, alive: Callable[[], bool]) -> None:
    """Poll ``/health`` until it answers 200; a RuntimeError if the server dies or time runs out."""
    while True:
        if not alive():
            raise RuntimeError("the simulator stopped while starting")
        try:
            # A test server's TLS certificate is its own: the probe only needs an answer.
            if httpx.get(url + "/health", timeout=1.0, verify=False).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"the simulator at {url} did not answer /health in time")
        time.sleep(0.02)


class InProcessServer:
    """A ``SimulatorApp`` served by uvicorn on a thread of this process, with its own event loop.

    The listening socket is bound (port 0) before the thread starts, so the port is known
    and cannot be taken by anyone else in between. ``app`` is the live application, and
    ``call(fn)`` runs ``fn`` on the server's loop (for exact state changes from a test).
    """

    in_process = True

    def __init__(
        self,
        config: Mapping[str, Any],
        *,
        startup_timeout: float = STARTUP_TIMEOUT_S,
        tls: tuple[str, str] | None = None,
    ) -> None:
        """A server for ``config``; ``tls`` (certificate and key files) serves HTTPS and WSS.

        TLS is for clients that insist on it: google-genai's Live client always dials ``wss://``.
        """
        self.raw_config = dict(config)
        self.config = validate(config)
        self._startup_timeout = startup_timeout
        self._tls = tls
        self._sock: socket.socket | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._error: BaseException | None = None
        self.app: SimulatorApp | None = None
        self.url = ""

    def start(self) -> InProcessServer:
        """Start serving; returns once ``/health`` answers."""
        import uvicorn

        from llm_simulator.server.app import SimulatorApp

        self.app = SimulatorApp(self.config)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self._sock = sock
        port = sock.getsockname()[1]
        self.url = f"{'https' if self._tls else 'http'}://127.0.0.1:{port}"
        certfile, keyfile = self._tls or (None, None)
        settings = uvicorn.Config(
            self.app,
            lifespan="on",
            http="httptools",
            ws="websockets-sansio",  # the WebSocket APIs (Realtime, Responses, Live)
            # Leave the test process's logging alone: no dictConfig, no level changes.
            log_config=None,
            proxy_headers=False,
            server_header=False,
            ssl_certfile=certfile,
            ssl_keyfile=keyfile,
            # Open connections get this long to finish at stop; streams still open are then
            # cancelled and end with the provider's in-stream error.
            timeout_graceful_shutdown=max(1, math.ceil(self.config.server.drain_timeout_s)),
        )
        self._server = uvicorn.Server(settings)
        self._thread = threading.Thread(target=self._run, name=f"llm-simulator:{port}", daemon=True)
        self._thread.start()
        try:
            _wait_healthy(self.url, time.monotonic() + self._startup_timeout, self._thread.is_alive)
        except RuntimeError as exc:
            self.stop()
            raise RuntimeError(f"{exc}: {self._error!r}" if self._error else str(exc)) from self._error
        return self

    def _run(self) -> None:
        # Every exception is kept for start() to report: one escaping a thread would surface
        # as a warning in an unrelated test.
        try:
            asyncio.run(self._serve())
        except BaseException as exc:
            self._error = exc

    async def _serve(self) -> None:
        if self._server is None or self._sock is None:
            raise RuntimeError("start() prepares the server first")
        self._loop = asyncio.get_running_loop()
        await self._server.serve(sockets=[self._sock])

    def call(self, fn: Callable[[], T], timeout: float = 10.0) -> T:
        """Run ``fn()`` on the server's event loop and return its result."""
        if self._loop is None:
            raise RuntimeError("the simulator is not running")
        done: Future[T] = Future()

        def run() -> None:
            try:
                done.set_result(fn())
            except BaseException as exc:
                done.set_exception(exc)

        self._loop.call_soon_threadsafe(run)
        return done.result(timeout)

    def stop(self) -> None:
        """Stop serving (in-flight streams get ``server.drain_timeout_s``) and join the thread."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(STOP_TIMEOUT_S)
            if self._thread.is_alive() and self._server is not None:
                self._server.force_exit = True
                self._thread.join(STOP_TIMEOUT_S)
        if self._sock is not None:
            self._sock.close()
        self._loop = None

    @property
    def running(self) -> bool:
        """Whether the server thread is alive."""
        return self._thread is not None and self._thread.is_alive()


def free_port() -> int:
    """A port that was free a moment ago on 127.0.0.1 (another process may take it before use)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def stop_process(process: subprocess.Popen[bytes], timeout: float = STOP_TIMEOUT_S) -> None:
    """Stop a server process as an operator would (SIGINT; SIGTERM on Windows), killing it past ``timeout``."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT if os.name != "nt" else signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class SubprocessServer:
    """``llm-simulator serve`` in a child process, with the config in a temp file.

    Closest to production (granian by default, the CLI's config loading, real signals) at
    the cost of a second or so per start. The port is picked free just before the start; if
    another process takes it in between, the start is retried on a new port. The child's
    ``LLM_SIMULATOR_*`` environment variables are removed so only the given config applies.
    The child watches this process and shuts down if it dies without stopping it (a killed
    test run leaves no orphan). ``args`` are more ``serve`` flags (after ``--config``, so a
    ``--config`` among them wins); ``env`` adds variables to the child's environment.
    """

    in_process = False
    app: SimulatorApp | None = None

    def __init__(
        self,
        config: Mapping[str, Any],
        *,
        startup_timeout: float = STARTUP_TIMEOUT_S,
        python: str = sys.executable,
        args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        stop_timeout: float = STOP_TIMEOUT_S,
    ) -> None:
        self.config = validate(config)
        self.args = tuple(args)
        self.env = dict(env or {})
        self._stop_timeout = stop_timeout
        self.raw_config = _absolute_fixture_files(dict(config))
        self._startup_timeout = startup_timeout
        self._python = python
        self._dir: str | None = None
        self._log: IO[bytes] | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start(self, attempts: int = 3) -> SubprocessServer:
        """Start the process; returns once ``/health`` answers."""
        self._dir = tempfile.mkdtemp(prefix="llm-simulator-test-")
        path = Path(self._dir) / "config.json"
        path.write_bytes(orjson.dumps(self.raw_config))
        env = {k: v for k, v in os.environ.items() if not k.startswith("LLM_SIMULATOR_")}
        env.update(self.env)
        for attempt in range(attempts):
            port = free_port()
            self.url = f"http://127.0.0.1:{port}"
            log_path = Path(self._dir) / f"server-{attempt}.log"
            # A file, not a pipe: a pipe nobody reads fills up and blocks a chatty server.
            self._log = log_path.open("wb")
            # The CLI behind a watchdog that stops it if this process dies without stopping it.
            command = [self._python, "-m", "llm_simulator.testing._child", str(os.getpid())]
            command += ["serve", "--config", str(path)]
            command += ["--host", "127.0.0.1", "--port", str(port), *self.args]
            self.process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=self._log)
            try:
                _wait_healthy(self.url, time.monotonic() + self._startup_timeout, self._alive)
                return self
            except RuntimeError as exc:
                self._terminate()
                output = log_path.read_text(errors="replace")
                if "address already in use" in output.lower() and attempt + 1 < attempts:
                    continue
                self.stop()
                raise RuntimeError(f"{exc}; its output:\n{output[-4000:]}") from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def _terminate(self) -> None:
        if self.process is not None:
            stop_process(self.process, self._stop_timeout)
        if self._log is not None:
            self._log.close()
            self._log = None

    def stop(self) -> None:
        """Stop the process (SIGINT, then SIGKILL after a timeout) and remove its temp files."""
        self._terminate()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    @property
    def running(self) -> bool:
        """Whether the process is alive."""
        return self.process is not None and self.process.poll() is None


def _absolute_fixture_files(config: dict[str, Any]) -> dict[str, Any]:
    """Relative ``fixtures.files`` made absolute from the working directory.

    The CLI reads a config file's relative paths from the file's directory, which here is a
    temp directory; in this process they are relative to the working directory.
    """
    fixtures = config.get("fixtures")
    if isinstance(fixtures, dict) and isinstance(fixtures.get("files"), list | tuple):
        files = [str(Path(f).resolve()) if isinstance(f, str) else f for f in fixtures["files"]]
        config = {**config, "fixtures": {**fixtures, "files": files}}
    return config
