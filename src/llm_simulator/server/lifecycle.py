"""The worker's lifespan: start-up, readiness, the streams in flight and the drain.

``Lifecycle`` is the phase before and after requests: ASGI ``lifespan`` messages (start
telemetry and the log filter; drain, then close telemetry), the SIGTERM/SIGINT hook that
starts a drain as soon as the signal arrives, and the set of streams (and hung requests) a
drain waits for, then cuts at its deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import signal
import threading
from types import FrameType
from typing import Any, Protocol

from llm_simulator.core.event_types import DRAINING, INITIALISING, READY, STOPPED
from llm_simulator.server.asgi import Receive, Send
from llm_simulator.server.connection import hide_deliberate_cuts
from llm_simulator.server.system_routes import Readiness
from llm_simulator.telemetry.hub import Telemetry

log = logging.getLogger("llm_simulator.server")


class Service(Protocol):
    """Background work a worker runs between start-up and shutdown."""

    def start(self) -> None:
        """Start (inside the running event loop)."""
        ...

    async def aclose(self) -> None:
        """Stop."""
        ...


class Lifecycle:
    """Start-up, shutdown and draining of one worker."""

    def __init__(
        self, telemetry: Telemetry, readiness: Readiness, drain_timeout_s: float, services: tuple[Service, ...] = ()
    ) -> None:
        self._telemetry = telemetry
        # Background services started with the worker and stopped after the drain (the adapters).
        self._services = services
        self.readiness = readiness
        self._drain_timeout_s = drain_timeout_s
        # Streams (and hung requests) in flight: what a drain waits for, then cancels.
        self._streams: set[asyncio.Task[Any]] = set()
        self._idle = asyncio.Event()
        self._idle.set()
        self.drain_task: asyncio.Future[None] | None = None

    async def lifespan(self, receive: Receive, send: Send) -> None:
        """Serve the ASGI ``lifespan`` protocol until shutdown."""
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._drain_on_signal()
                hide_deliberate_cuts()
                self._telemetry.start()
                self.readiness.listener = self._telemetry.state_changed
                self._telemetry.state_changed(INITIALISING, None, "start-up")
                for service in self._services:
                    service.start()
                self.readiness.transition(READY, "start-up")
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.drain(self._drain_timeout_s, "shutdown")
                for service in self._services:
                    await service.aclose()
                # Announced before telemetry closes, so the sinks still deliver it.
                self.readiness.transition(STOPPED, "shutdown")
                await self._telemetry.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def enter(self, task: asyncio.Task[Any]) -> None:
        """Count ``task`` (a stream or a hung request) as in flight until :meth:`leave`."""
        self._streams.add(task)
        self._idle.clear()

    def leave(self, task: asyncio.Task[Any]) -> None:
        """``task`` is no longer in flight."""
        self._streams.discard(task)
        if not self._streams:
            self._idle.set()

    def _drain_on_signal(self) -> None:
        """Start draining as soon as the worker receives SIGTERM/SIGINT.

        Granian (like uvicorn) only sends ``lifespan.shutdown`` once every connection has
        closed, so a drain started there could never end a stream at the deadline with the
        provider's in-stream error: the worker would be killed mid-stream instead. The
        server's own handler is chained, so its shutdown proceeds unchanged.
        """
        if threading.current_thread() is not threading.main_thread():
            return
        loop = asyncio.get_running_loop()
        deadline = self._drain_timeout_s

        for signum in (signal.SIGTERM, signal.SIGINT):
            reason = signal.Signals(signum).name
            previous = signal.getsignal(signum)
            if not callable(previous):
                # No server handler to chain to (default or ignored): leave the signal's
                # meaning to the server rather than swallow it.
                continue

            def on_signal(number: int, frame: FrameType | None, previous: Any = previous, reason: str = reason) -> None:
                loop.call_soon_threadsafe(self.start_drain, deadline, reason, context=contextvars.Context())
                previous(number, frame)

            signal.signal(signum, on_signal)

    def start_drain(self, deadline_s: float, reason: str = "SIGTERM") -> None:
        """Start a drain unless one has started (what SIGTERM does); ``reason`` is what the state event says."""
        # Keyed on the drain task, not on ``draining``: POST /admin/drain (a preStop hook) sets
        # ``draining`` first, and the signal that follows must still start the drain.
        if self.drain_task is None:
            self.drain_task = asyncio.ensure_future(self.drain(deadline_s, reason))

    async def drain(self, deadline_s: float, reason: str = "shutdown") -> None:
        """Stop being ready, let in-flight streams finish for ``deadline_s``, then cut them."""
        self.readiness.transition(DRAINING, reason)
        if self._streams:
            log.info("draining %d in-flight streams (deadline %.1fs)", len(self._streams), deadline_s)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), timeout=deadline_s)
        for task in list(self._streams):
            task.cancel()
