"""Run the app under granian (default) or uvicorn (uvloop + httptools)."""

from __future__ import annotations

import contextlib
import math
import os
import resource
import shutil
import tempfile
from collections.abc import Iterator
from typing import Any

from llm_simulator.config.loader import to_internal_json
from llm_simulator.config.schema import SimulatorConfig
from llm_simulator.server.factory import CONFIG_ENV
from llm_simulator.telemetry.multiprocess import SharedStats

FACTORY = "llm_simulator.server.factory:create_app"
GRANIAN_LOGS_TO_STDERR = {
    "handlers": {
        "console": {"formatter": "generic", "class": "logging.StreamHandler", "stream": "ext://sys.stderr"},
        "access": {"formatter": "access", "class": "logging.StreamHandler", "stream": "ext://sys.stderr"},
    }
}
# Seconds a uvicorn worker has to answer its supervisor's ping before it is taken for hung.
UVICORN_HEALTHCHECK_S = 30
# Seconds a worker gets beyond the drain deadline to send the streams' closing error frames.
KILL_GRACE_S = 2
# The listening socket's accept queue (the kernel caps it at net.core.somaxconn).
LISTEN_BACKLOG = 4096
# Requests a granian worker admits beyond the simulator's own limit: health probes, metrics
# scrapes and the admin API must still get through when the limit is reached.
ADMIN_HEADROOM = 64
# Granian's admission bound when the simulator sets none of its own (max_concurrent_requests: null).
UNBOUNDED_REQUESTS = 1_000_000


@contextlib.contextmanager
def shared_metrics_dir(config: SimulatorConfig) -> Iterator[SimulatorConfig]:
    """With worker processes, a fresh directory for their shared metrics (removed at exit).

    Every worker writes its aggregates there so whichever worker Prometheus reaches can
    answer for all of them (telemetry/multiprocess.py). A directory set in the config is
    used as is and kept.
    """
    metrics = config.telemetry.metrics
    if metrics.multiprocess_dir is not None:
        # A directory of the user's: counts of an earlier run there must not join this one's.
        SharedStats(metrics.multiprocess_dir).clear()
        yield config
        return
    if config.server.workers <= 1 and (config.server.implementation == "uvicorn" or config.server.single_process):
        # A lone uvicorn worker, or the single-process server, is the process itself; granian's
        # lone worker is a child the master replaces if it dies, and the directory keeps its
        # counts (and the restart).
        yield config
        return
    directory = tempfile.mkdtemp(prefix="llm-simulator-metrics-")
    try:
        shared = metrics.model_copy(update={"multiprocess_dir": directory})
        telemetry = config.telemetry.model_copy(update={"metrics": shared})
        yield config.model_copy(update={"telemetry": telemetry})
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def telemetry_flush_s(config: SimulatorConfig) -> float:
    """The most a worker's telemetry may take to flush at shutdown (sinks and spans close together)."""
    telemetry = config.telemetry
    waits = [sink.timeout_s for sink in telemetry.events.sinks]
    if telemetry.tracing.otlp_endpoint:
        waits.append(telemetry.tracing.export_timeout_s)
    return max(waits, default=0.0)


def granian_backpressure(config: SimulatorConfig) -> int:
    """Requests one granian worker admits at once: the simulator's own limit plus headroom.

    Granian's default is ``backlog // workers`` (1024 in all): past it, new connections wait
    unanswered in the kernel's queue, so a thousand streams on one worker, or 600 on each of
    two, would stall instead of running or being refused. The simulator's own per-worker limit
    (``security.max_concurrent_requests``) answers with the provider's overload error; granian's
    bound must sit above it for that answer to be the one clients see.
    """
    limit = config.security.max_concurrent_requests
    return (UNBOUNDED_REQUESTS if limit is None else limit) + ADMIN_HEADROOM


# Open files the server asks for: a connection is one, so thousands of concurrent streams
# need more than the soft limit many systems start a process with (1024).
WANTED_OPEN_FILES = 65_536


def raise_open_file_limit(wanted: int = WANTED_OPEN_FILES) -> int:
    """Raise the soft ``RLIMIT_NOFILE`` towards ``wanted`` (never above the hard limit); the new soft limit.

    Workers inherit it. A limit already higher is left alone, and one the system refuses
    to change stays as it was: the server then runs with what it has.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            return target
    return soft


def serve(config: SimulatorConfig) -> None:
    """Serve until SIGINT/SIGTERM; in-flight streams drain for ``server.drain_timeout_s``."""
    raise_open_file_limit()
    with shared_metrics_dir(config) as effective:
        _serve(effective)


def _serve(config: SimulatorConfig) -> None:
    os.environ[CONFIG_ENV] = to_internal_json(config)
    server = config.server
    if server.single_process:
        _serve_in_process(config)
        return
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
            # uvicorn's supervisor replaces a worker that died, and kills one that does not
            # answer its ping within this: 5 s by default, which a freshly spawned worker on a
            # busy 2-core machine can miss, getting killed again and again while it starts.
            timeout_worker_healthcheck=UVICORN_HEALTHCHECK_S,
        )
        return
    from granian.constants import HTTPModes, Interfaces, Loops
    from granian.server import Server

    Server(
        FACTORY,
        address=server.host,
        port=server.port,
        interface=Interfaces.ASGI,
        # HTTP/1.1 only: no client of the simulated APIs speaks HTTP/2 in clear text, and
        # granian's default ("auto": either protocol on every connection) holds twice the
        # memory per open request (28.9 → 14.3 KiB for a request waiting on a bare ASGI
        # app; bench/memory.py, docs/performance.md "Memory per idle stream").
        http=HTTPModes.http1,
        workers=server.workers,
        # A worker that dies (SIGKILL, a crash, the OOM killer) is replaced instead of taking
        # the whole server down: only the requests it was serving are lost. Granian gives up
        # (exit 1) only on a crash loop: a replacement that dies within 5.5 s of its start.
        respawn_failed_workers=True,
        loop=Loops.uvloop,
        factory=True,
        # Granian stops accepting on SIGTERM and waits for open connections. The app drains
        # on the same signal and ends the streams still open at the deadline with an error
        # frame; the kill timeout leaves it a grace period to write those frames.
        workers_kill_timeout=math.ceil(server.drain_timeout_s) + KILL_GRACE_S + math.ceil(telemetry_flush_s(config)),
        **_granian_settings(config),
    ).serve()


def _granian_settings(config: SimulatorConfig) -> dict[str, Any]:
    """Granian's settings shared by its supervised workers and the single-process server."""
    from granian.http import HTTP1Settings
    from granian.log import LogLevels

    return {
        "backlog": LISTEN_BACKLOG,
        "backpressure": granian_backpressure(config),
        "log_level": LogLevels(config.logging.level),
        # Granian's own lines go to stderr like the simulator's, keeping stdout for a stdout event sink.
        "log_dictconfig": GRANIAN_LOGS_TO_STDERR,
        # Slow headers: a client must finish its header block within this (granian's own
        # timer; uvicorn has none).
        "http1_settings": HTTP1Settings(header_read_timeout=round(config.security.header_timeout_s * 1000)),
    }


def _serve_in_process(config: SimulatorConfig) -> None:
    """``server.single_process``: granian's embedded server runs the app in this process's own loop.

    No supervisor and no fork: the process that validated the configuration and loaded the
    tokenizer serves (≈ 13 MiB of idle PSS and ≈ 35 ms of start-up CPU less than a master
    and its worker; ``bench/single_process.py``). What it costs: nothing replaces the
    server if it dies, and granian marks its embedded server experimental. SIGTERM/SIGINT
    stop it through a plain signal handler, which the app's drain (``server/lifecycle.py``)
    chains: the app drains first (streams end at ``server.drain_timeout_s`` with the
    provider's error frame), then granian's shutdown sends ``lifespan.shutdown`` and returns.
    """
    import asyncio
    import signal

    import uvloop
    from granian.constants import HTTPModes, Interfaces
    from granian.server.embed import Server as EmbeddedServer

    from llm_simulator.server.factory import create_app

    server = EmbeddedServer(
        create_app,
        address=config.server.host,
        port=config.server.port,
        interface=Interfaces.ASGI,
        http=HTTPModes.http1,
        factory=True,
        **_granian_settings(config),
    )

    async def serve() -> None:
        loop = asyncio.get_running_loop()

        def stop(signum: int, frame: object) -> None:
            loop.call_soon_threadsafe(server.stop)

        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, stop)
        await server.serve()

    uvloop.run(serve())
