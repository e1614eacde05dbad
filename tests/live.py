"""Real simulator processes for wire tests, on the shipped harness (``llm_simulator.testing.server``).

One launcher for the suite and for users' tests: ``SubprocessServer`` (its output in a file,
never an unread pipe; a watchdog child, so a killed run leaves no orphan; a retry when the
free port was taken meanwhile). This module only keeps the shape the wire tests were written
against: ``live_server(*serve_flags)`` yielding the URL and the process.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

from llm_simulator.testing.server import SubprocessServer, free_port, stop_process

__all__ = ["LiveServer", "free_port", "live_server", "stop_server"]

# Two workers draining long streams may need longer than the harness's default.
STOP_TIMEOUT_S = 15.0
# A process start (imports, granian, the first /health) took 22 s of wall time on a 2-core box
# shared by seven test runs (1.7 s of CPU): the harness's 30 s default left too little room.
# No test here is about start-up time; a server that never starts still fails, later.
STARTUP_TIMEOUT_S = 120.0


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
    stop_process(process, STOP_TIMEOUT_S)


@contextlib.contextmanager
def live_server(
    *args: str, env: dict[str, str] | None = None, startup_timeout: float = STARTUP_TIMEOUT_S
) -> Iterator[LiveServer]:
    """Run ``llm-simulator serve`` with ``args`` on 127.0.0.1 and stop it afterwards."""
    server = SubprocessServer({}, args=args, env=env, startup_timeout=startup_timeout, stop_timeout=STOP_TIMEOUT_S)
    server.start()
    try:
        assert server.process is not None  # started
        yield LiveServer(server.url, server.process)
    finally:
        server.stop()
