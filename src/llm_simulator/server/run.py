"""Run the app under granian (default) or uvicorn (uvloop + httptools)."""

from __future__ import annotations

import math
import os

from llm_simulator.config.loader import to_internal_json
from llm_simulator.config.schema import SimulatorConfig
from llm_simulator.server.factory import CONFIG_ENV

FACTORY = "llm_simulator.server.factory:create_app"
# Seconds a worker gets beyond the drain deadline to send the streams' closing error frames.
KILL_GRACE_S = 2


def serve(config: SimulatorConfig) -> None:
    """Serve until SIGINT/SIGTERM; in-flight streams drain for ``server.drain_timeout_s``."""
    os.environ[CONFIG_ENV] = to_internal_json(config)
    server = config.server
    if server.implementation == "uvicorn":
        import signal

        import uvicorn

        # uvicorn re-raises the signal it stopped on after a graceful shutdown; a no-op
        # handler underneath turns that into a normal exit with status 0.
        signal.signal(signal.SIGTERM, lambda *_: None)
        uvicorn.run(
            FACTORY,
            factory=True,
            host=server.host,
            port=server.port,
            workers=server.workers,
            loop="uvloop",
            http="httptools",
            lifespan="on",
            log_level=config.logging.level,
            access_log=False,
            timeout_graceful_shutdown=max(1, math.ceil(server.drain_timeout_s)),
        )
        return
    from granian.constants import Interfaces, Loops
    from granian.http import HTTP1Settings
    from granian.log import LogLevels
    from granian.server import Server

    Server(
        FACTORY,
        address=server.host,
        port=server.port,
        interface=Interfaces.ASGI,
        workers=server.workers,
        loop=Loops.uvloop,
        factory=True,
        log_level=LogLevels(config.logging.level),
        # Granian stops accepting on SIGTERM and waits for open connections. The app drains
        # on the same signal and ends the streams still open at the deadline with an error
        # frame; the kill timeout leaves it a grace period to write those frames.
        workers_kill_timeout=math.ceil(server.drain_timeout_s) + KILL_GRACE_S,
        # Slow headers: a client must finish its header block within this (granian's own
        # timer; uvicorn has none).
        http1_settings=HTTP1Settings(header_read_timeout=round(config.security.header_timeout_s * 1000)),
    ).serve()
