"""Writing an event stream: its frames as they are due, and every way a stream can end.

A stream ends normally (the frames ran out), with a chaos fault (``StreamCut``: one arm per
wire action of ``core.faults.FAULT_ACTIONS``), with an error (the provider's in-stream error
frame), or interrupted: the client left (499, not the model's failure), stopped reading
(the stalled-reader sweep cuts it), or the drain deadline passed (the provider's in-stream
"shutting down" error). ``StreamSender.send`` notes on the exchange the status to record
and whether the server side broke the stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from typing import Any

from llm_simulator.core.errors import SimulatorError
from llm_simulator.core.faults import FaultAction, StreamCut
from llm_simulator.core.http import StreamResponse
from llm_simulator.core.record import RequestRecord
from llm_simulator.core.tasks import running_task
from llm_simulator.server.asgi import Receive, Send
from llm_simulator.server.coalesce import write_ready
from llm_simulator.server.connection import ConnectionCut, DisconnectWatch, StreamWatch, close_frames
from llm_simulator.server.errors import internal_error, shutting_down
from llm_simulator.server.exchange import ServerExchange
from llm_simulator.server.lifecycle import Lifecycle
from llm_simulator.server.plain_stream import send_plain
from llm_simulator.server.wire import StreamWire
from llm_simulator.telemetry.stats import Stats

log = logging.getLogger("llm_simulator.server")


async def _exhausted() -> bytes:
    """A frames source that has run out."""
    raise StopAsyncIteration


def _end() -> dict[str, Any]:
    """The ASGI message ending a body (carries no event, so it is not counted as a chunk)."""
    return {"type": "http.response.body", "body": b""}


class StreamSender:
    """Sends event streams, and cuts those whose client stopped reading (the sweep)."""

    def __init__(self, stats: Stats, lifecycle: Lifecycle, write_timeout_s: float) -> None:
        self._stats = stats
        self._lifecycle = lifecycle
        self.write_timeout_s = write_timeout_s
        self._watches: dict[asyncio.Task[Any], StreamWatch] = {}
        self._sweeper: asyncio.Task[None] | None = None

    async def send(self, send: Send, receive: Receive, response: StreamResponse, exchange: ServerExchange) -> None:
        """Send the event stream; note on the exchange the status to record and whether it broke.

        Broken means the server side failed it (an error event, a fault, the drain
        deadline); a client that leaves early is recorded as 499 and not broken, so clients
        abandoning streams in a load test cannot open a circuit breaker. The frame loop is
        here, not in a helper: every frame between the server and the frames' generator is
        paid again at each token.
        """
        request_id = exchange.request_id
        task = running_task()
        assert task is not None
        self._lifecycle.enter(task)
        self._stats.active_streams += 1
        watch = self._watch(task)
        watcher = DisconnectWatch(receive, task, watch)
        wire = StreamWire(send, watch)
        exchange.status = 200
        started = False
        try:
            headers = response.headers
            headers.append((b"x-request-id", request_id.encode()))
            await wire.write({"type": "http.response.start", "status": 200, "headers": headers})
            started = True
            frames = response.frames
            next_frame = frames.__anext__
            ahead = response.ahead
            # A stream's first frames are often ready together (a role chunk and the first
            # token; with latency off, the whole stream): they are gathered like a
            # catch-up's, once, and when they are the last ones the body ends in that write.
            opening = True
            frame: bytes | None = None
            plain = response.plain
            try:
                if plain is not None and plain.replaces is frames:
                    # A plain stream, without its generator; it may end the body itself.
                    await send_plain(wire, plain)
                    next_frame = _exhausted  # so the general loop below ends at once
                while True:
                    if frame is None:
                        try:
                            frame = await next_frame()
                        except StopAsyncIteration:
                            break
                    if opening or (ahead is not None and ahead()):
                        # At the start, or behind the engine, or at its end: this frame and
                        # those ready with it in one write.
                        opening = False
                        frame = await write_ready(frame, frames, wire.frames, wire.last)
                        if frame is None:
                            break
                        continue
                    watch.sending = True
                    await send({"type": "http.response.body", "body": frame, "more_body": True})
                    watch.sending = False
                    watch.sent += 1  # inline, not wire.write(): this is the per-token path
                    frame = None
            except StreamCut as cut:
                await self._fault(wire, response, cut, exchange)
            except SimulatorError as exc:
                await self._error_frame(wire, response, exc, exchange.telemetry, str(exc.kind))
            except (asyncio.CancelledError, OSError, RuntimeError):
                raise  # the client went away or the drain deadline passed: handled below
            except Exception:
                # A bug while streaming: end the stream with the provider's error event rather
                # than a cut connection, and log it.
                log.exception("unhandled error while streaming %s", request_id, extra={"request_id": request_id})
                await self._error_frame(wire, response, internal_error(), exchange.telemetry, "server_error")
            if not wire.ended:
                await wire.write(_end())
            exchange.broken = wire.broken
        except (asyncio.CancelledError, OSError, RuntimeError):
            await self._interrupted(wire, response, exchange, started, watch.gone)
        finally:
            watcher.close()
            await close_frames(response.frames)
            exchange.telemetry.chunks = watch.sent - wire.framing
            self._stats.active_streams -= 1
            self._watches.pop(task, None)
            self._lifecycle.leave(task)

    async def _fault(
        self, wire: StreamWire, response: StreamResponse, cut: StreamCut, exchange: ServerExchange
    ) -> None:
        """Act on a chaos fault at the wire: one arm per action of ``FAULT_ACTIONS``."""
        wire.broken = True
        kind = cut.fault.kind
        request_id = exchange.request_id
        exchange.telemetry.error_type = f"stream_{kind}"
        log.info("chaos: %s fault in stream %s", kind, request_id)
        match cut.action:
            case FaultAction.CUT_CONNECTION:
                exchange.broken = True  # a deliberate cut: the model "failed" this stream
                raise ConnectionCut(request_id) from None  # an incomplete chunked body
            case FaultAction.MALFORMED_FRAME:
                await wire.body(response.malformed, 1)  # then the body ends
            case FaultAction.END_UNTERMINATED:
                pass  # the frames stopped before the provider's terminator: the body ends here
            case FaultAction.PAUSE | FaultAction.ERROR_FRAME | FaultAction.DELAY_FIRST_BYTE:
                # Applied before any cut (the engine pauses or raises the error, the chaos
                # controller delays admission): reaching the wire is a bug, not a fault.
                log.warning("stream %s: fault %s has no wire action; ending the body", request_id, kind)

    async def _error_frame(
        self, wire: StreamWire, response: StreamResponse, error: SimulatorError, record: RequestRecord, error_type: str
    ) -> None:
        """End a started stream with the provider's in-stream error (a broken stream)."""
        wire.broken = True
        record.error_type = error_type
        record.error_message = error.message
        if response.on_error is not None:
            await wire.body(response.on_error(error), 1)

    async def _interrupted(
        self, wire: StreamWire, response: StreamResponse, exchange: ServerExchange, started: bool, gone: bool
    ) -> None:
        """The stream was cancelled or its write failed: who stopped it decides the outcome."""
        if wire.watch.stalled:
            # The client stopped reading: writing it an error would block the same way.
            log.info("stream %s cut: the client read nothing for %gs", exchange.request_id, self.write_timeout_s)
            exchange.status = 499  # not the model's failure
            raise ConnectionCut(exchange.request_id, client_fault=True) from None
        if gone:
            exchange.status, exchange.broken = 499, wire.broken
            return
        # The drain deadline passed and the client is still there: end its stream with the
        # provider's in-stream error rather than a truncated body. The finally-clauses
        # release everything else.
        exchange.broken = True
        if started and response.on_error is not None:
            with contextlib.suppress(Exception):
                await wire.body(response.on_error(shutting_down()), 1)
                await wire.write(_end())

    def _watch(self, task: asyncio.Task[Any]) -> StreamWatch:
        """Register a stream with the stalled-reader sweep (started when the first stream is)."""
        watch = StreamWatch()
        self._watches[task] = watch
        if self._sweeper is None or self._sweeper.done():
            # An empty context: it outlives the stream that starts it and must not carry that
            # stream's request record (or its ids into log lines).
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep(), context=contextvars.Context())
        return watch

    async def _sweep(self) -> None:
        """Cut streams whose client read nothing for a whole sweep period (a stalled reader).

        Once per ``security.write_timeout_s``: a stream still blocked in the same write as at
        the previous sweep has had no progress for at least that long, so a stalled reader
        is cut after between one and two periods. Ends when no stream is left.
        """
        while self._watches:
            await asyncio.sleep(self.write_timeout_s)
            for task, watch in list(self._watches.items()):
                if watch.sending and watch.sent == watch.seen:
                    watch.stalled = True
                    task.cancel()
                watch.seen = watch.sent
