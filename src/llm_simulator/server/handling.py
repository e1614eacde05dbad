"""From a routed exchange to the response to send: the checks, the body, the handler, failures.

``Handling.answer`` runs the ordered pre-checks (``server/prechecks.py``), reads the body
and calls the route's handler under one timer (first the body's deadline, so a client
trickling bytes cannot hold a slot open, then the handler's, so a non-streamed answer or a
stream's start that takes too long ends in the provider's 504), and turns every failure
into the owning provider's error shape. Chaos that replaces the answer (a hang, a cut JSON
body) and a client gone mid-body are answered here; they leave nothing more to send.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
import types
from collections import OrderedDict
from collections.abc import Awaitable, Generator
from typing import Any, TypeVar, cast

from llm_simulator.core.errors import SimulatorError
from llm_simulator.core.faults import HangUp, StreamCut
from llm_simulator.core.http import HttpRequest, Response
from llm_simulator.core.tasks import running_task
from llm_simulator.security.gate import AuthError
from llm_simulator.server.asgi import Receive, Send
from llm_simulator.server.errors import body_timeout, incomplete_body, internal_error, request_timeout
from llm_simulator.server.exchange import ServerExchange
from llm_simulator.server.prechecks import ClientGone, PreChecks
from llm_simulator.server.responding import Responder

log = logging.getLogger("llm_simulator.server")
T = TypeVar("T")


class Deadline:
    """A timeout for the running task whose deadline can move later without a new timer.

    ``asyncio.timeout`` costs a context manager, a state machine and, to move the deadline,
    a second timer (the old one cancelled): measured ~10 % of a non-streamed request. Here
    the deadline is only noted until ``arm`` (``guarded`` arms it when the work first
    waits). An armed deadline joins the ``DeadlineQueue`` of its delay, whose one loop timer
    serves every deadline of that delay (under granian every request's body read waits, so
    every request arms: a loop timer of its own, started and cancelled, cost ≈ 2 µs of the
    event loop thread's ≈ 55 µs per request). A deadline the queue cannot take in order
    keeps a timer of its own. Moving a queued deadline moves it to the queue of its new
    delay; a deadline with a timer of its own, when moved later, only records it, and when
    the timer fires before the recorded deadline it is armed again for the rest (at most
    once per move).
    When the deadline passes, the task is cancelled; ``cancelled_us`` then tells that
    cancellation from any other, as ``asyncio.timeout`` does (the task's cancel requests,
    counted by ``Task.cancelling``, drop back to what they were when it was armed). Every
    time is on the monotonic clock (the loop's timer takes the time left); a timer that
    fires for the deadline it was set for ends the work even if the loop's timers run a
    little early (uvloop's, by up to 1.5 ms).
    """

    __slots__ = ("_cancelling", "_delay", "_due", "_handle", "_loop", "_queue", "_task", "_timer_due", "expired")

    def __init__(self, delay_s: float) -> None:
        """A deadline ``delay_s`` from now, not armed yet (``arm`` starts timing what is left)."""
        self._delay = delay_s
        self._due = time.monotonic() + delay_s
        self._task: asyncio.Task[object] | None = None
        self._handle: asyncio.TimerHandle | None = None
        self._queue: DeadlineQueue | None = None
        self.expired = False

    def arm(self) -> None:
        """Start timing the current task (for what is left of the deadline); once."""
        if self._task is not None:
            return
        # The loop from the task, and the task without a system call (``core/tasks.py``).
        task = running_task()
        assert task is not None, "a deadline needs a running task"
        self._loop = task.get_loop()
        self._task = task
        self._cancelling = task.cancelling()
        self._time()

    @property
    def armed(self) -> bool:
        """Whether timing has started (queued or on a timer of its own; it may have expired since)."""
        return self._task is not None

    def _time(self) -> None:
        """Time the armed deadline: in its delay's queue, or with a timer of its own."""
        queue = DeadlineQueue.of(self._delay)
        if queue is not None and queue.add(self, self._loop):
            self._queue = queue
        else:
            self._start_timer()

    def _start_timer(self) -> None:
        """Time ``_fire`` for the noted deadline (already past: at the loop's next turn)."""
        self._timer_due = self._due
        self._handle = self._loop.call_later(self._due - time.monotonic(), self._fire)

    def move(self, delay_s: float) -> None:
        """Make the deadline ``delay_s`` from now.

        A queued deadline goes to the queue of its new delay; one with a timer of its own gets
        a new timer only when the new time is sooner than the armed one.
        """
        self._delay = delay_s
        self._due = time.monotonic() + delay_s
        queue = self._queue
        if queue is not None:
            queue.remove(self)
            self._queue = None
            self._time()
            return
        handle = self._handle
        # Not armed (``arm`` takes the new due time), or fired already: nothing to time.
        if handle is not None and self._due < self._timer_due:
            handle.cancel()
            self._start_timer()

    def _fire(self) -> None:
        # Moved later since this timer was set: wait for the rest. Otherwise the timer is
        # trusted, not checked against the clock: uvloop's fire up to 1.5 ms before the time
        # asked for, and re-arming for what is left ran at once, again and again, until then
        # (the loop spinning, as ``engine.scheduler`` measured for its own timer).
        if self._due > self._timer_due:
            self._start_timer()
            return
        self._handle = None
        self.expire()

    def expire(self) -> None:
        """The deadline has passed: cancel the task (its timer or queue has let it go)."""
        self._queue = None
        self.expired = True
        cast("asyncio.Task[object]", self._task).cancel()

    def cancelled_us(self) -> bool:
        """Whether the task's cancellation is this deadline's own (its cancel request is then spent)."""
        if not self.expired:
            return False
        self.expired = False
        return cast("asyncio.Task[object]", self._task).uncancel() <= self._cancelling

    def disarm(self) -> None:
        """Stop timing (the guarded work is over, however it ended).

        A deadline that passed while the work ended some other way takes its cancel request
        back, as ``asyncio.timeout`` does, so later cancellations of the task count right.
        """
        queue = self._queue
        if queue is not None:
            queue.remove(self)
            self._queue = None
        handle = self._handle
        if handle is not None:
            handle.cancel()
            self._handle = None
        if self.expired:
            self.expired = False
            cast("asyncio.Task[object]", self._task).uncancel()


class DeadlineQueue:
    """The armed deadlines of one delay on one loop, in due order, under one loop timer.

    Deadlines of the same delay armed one after another are due one after another, so the
    queue is first in, first out: joining and leaving are an ordered dict's insert and
    delete, and one timer, set for the first deadline's due time, serves them all. When it
    fires, every deadline due by the time it was set for expires (the timer is trusted, as a
    deadline's own is), and it is set again for the first one left. A deadline that leaves
    does not move the timer: it fires for nothing at worst, once per delay. A deadline due
    before the last one queued (armed long after it was made) or armed on another loop while
    this one's are queued is refused; it keeps a timer of its own.

    Queues belong to a thread (a loop runs in one thread, and a thread runs one loop at a
    time), so no two threads ever share one; this assumes a loop never moves to another
    thread, which holds for granian's and uvicorn's workers, the testing server and the load
    generator (each keeps its loop in its own thread). A forked child starts with none. A
    timer outlived by its queue's move to a new loop (the old loop closed, or stopped with
    nothing queued) is stale: each timer carries the number of the setting it belongs to,
    and a stale one does nothing when it fires.
    """

    __slots__ = ("_armed", "_handle", "_loop", "_setting", "_tail_due", "_timer_due")

    # One queue per distinct delay and thread (a server has two delays, the body's and the
    # handler's); past this many in a thread, deadlines time themselves.
    MAX_QUEUES = 64
    _this_thread = threading.local()

    @classmethod
    def forget_all(cls) -> None:
        """Drop the queues (a forked child, whose one thread's loops and tasks were its parent's)."""
        vars(cls._this_thread).clear()

    def __init__(self) -> None:
        self._armed: OrderedDict[Deadline, None] = OrderedDict()
        self._handle: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._setting = 0
        self._tail_due = 0.0
        self._timer_due = 0.0

    @classmethod
    def of(cls, delay_s: float) -> DeadlineQueue | None:
        """The current thread's queue of deadlines of ``delay_s`` (None past ``MAX_QUEUES`` distinct delays)."""
        try:
            queues: dict[float, DeadlineQueue] = cls._this_thread.queues
        except AttributeError:
            queues = cls._this_thread.queues = {}
        queue = queues.get(delay_s)
        if queue is None and len(queues) < cls.MAX_QUEUES:
            queue = queues[delay_s] = DeadlineQueue()
        return queue

    def add(self, deadline: Deadline, loop: asyncio.AbstractEventLoop) -> bool:
        """Queue ``deadline`` (armed on ``loop``); False when it would break the queue's order."""
        armed = self._armed
        due = deadline._due
        if loop is not self._loop:
            if armed and not cast("asyncio.AbstractEventLoop", self._loop).is_closed():
                return False
            # A new loop (a test's, or the first): the old one's deadlines and timer are void.
            # The old timer is left alone (its loop may be closed) and made stale.
            armed.clear()
            self._handle = None
            self._setting += 1
            self._loop = loop
        elif armed and due < self._tail_due:
            return False
        armed[deadline] = None
        self._tail_due = due
        if self._handle is None or due < self._timer_due:
            if self._handle is not None:
                self._handle.cancel()
            self._time(deadline)
        return True

    def _time(self, head: Deadline) -> None:
        """Set the timer for ``head``'s due time (a new setting: any earlier timer is stale)."""
        self._setting += 1
        self._timer_due = head._due
        loop = cast("asyncio.AbstractEventLoop", self._loop)
        # The queue's own method, not the head's: a head that leaves is not kept alive by it.
        self._handle = loop.call_later(head._due - time.monotonic(), self.fire, self._setting)

    def remove(self, deadline: Deadline) -> None:
        """Take ``deadline`` out (disarmed or moved); the timer stays for the next."""
        self._armed.pop(deadline, None)

    def fire(self, setting: int) -> None:
        """Expire every deadline due by the time the timer was set for; time the first one left.

        ``setting`` is the timer's: a stale one (the queue has moved on since) does nothing.
        """
        if setting != self._setting:
            return
        self._handle = None
        due_by = self._timer_due
        armed = self._armed
        while armed:
            head = next(iter(armed))
            if head._due > due_by:
                self._time(head)
                return
            del armed[head]
            head.expire()


# A child forked while a loop ran (granian forks its workers from the CLI process) must not
# find its parent's loops in the queues.
os.register_at_fork(after_in_child=DeadlineQueue.forget_all)


@types.coroutine
def guarded(work: Awaitable[T], deadline: Deadline) -> Generator[Any, Any, T]:
    """``await work``, with ``deadline``'s timer armed only once the work suspends.

    Work that ends without ever waiting (a non-streamed answer with latency off, a body
    already received) cannot be cut by a timer anyway: a timer fires only when the loop
    runs, which it does only when the work waits. Arming one for it cost a timer handle, a
    heap push and a cancel, about 3 µs of a ~45 µs request. At the first suspension the
    deadline is armed for what is left of it (already past: it fires at once), and the work
    goes on as ``await`` drives it (PEP 380's expansion of ``yield from``: what the task
    sends or throws in goes to the work).
    """
    steps = work.__await__()
    # The work's result leaves through StopIteration (typed Any): bound to ``result`` (a T)
    # rather than passed through ``typing.cast``, a Python-level call on every request.
    result: T
    try:
        yielded = steps.send(None)
    except StopIteration as stop:
        result = stop.value
        return result
    deadline.arm()
    while True:
        try:
            sent = yield yielded
        except GeneratorExit:
            steps.close()
            raise
        except BaseException as exc:  # a cancellation (or any exception) thrown in by the task
            try:
                yielded = steps.throw(exc)
            except StopIteration as stop:
                result = stop.value
                return result
        else:
            try:
                yielded = steps.send(sent)
            except StopIteration as stop:
                result = stop.value
                return result


class Handling:
    """Produces each exchange's response (see the module doc)."""

    def __init__(
        self, checks: PreChecks, responder: Responder, body_timeout_s: float, request_timeout_s: float
    ) -> None:
        self._checks = checks
        self._responder = responder
        self.body_timeout_s = body_timeout_s
        self.request_timeout_s = request_timeout_s

    async def answer(self, exchange: ServerExchange, receive: Receive, send: Send) -> Response | None:
        """The response to send, or None when the exchange has been answered already.

        The body and the handler run under one ``Deadline``: the body's, then the handler's.

        One coroutine for the checks, the body and the handler: every frame between the
        server and the handler is paid again each time the handler's work suspends.
        """
        provider = exchange.provider
        request_id = exchange.request_id
        try:
            waiting = self._checks.run(exchange)
            if waiting is not None:
                await waiting
            route = exchange.route
            assert route is not None, "refuse_unrouted let an unrouted request through"
            # One timer: the body's deadline, moved on to the handler's once the body is in.
            # Armed only if the body or the handler has to wait (see ``guarded``).
            deadline = Deadline(self.body_timeout_s)
            reading = True
            try:
                exchange.body = body = await guarded(self._checks.read_body(exchange, receive), deadline)
                reading = False
                deadline.move(self.request_timeout_s)
                request = HttpRequest(
                    exchange.method,
                    exchange.path,
                    exchange.query,
                    exchange.headers,
                    body,
                    exchange.request_id,
                    exchange.params,
                    exchange.endpoint,
                    exchange,
                    exchange.scope.get("query_string", b""),
                )
                return await guarded(route.handler(request), deadline)
            except (asyncio.CancelledError, TimeoutError) as exc:
                # The deadline's own cancellation; or a TimeoutError the work raised itself,
                # which has always been answered as the stage's timeout too.
                if isinstance(exc, asyncio.CancelledError) and not deadline.cancelled_us():
                    raise
                error = body_timeout(self.body_timeout_s) if reading else request_timeout(self.request_timeout_s)
                raise error from None
            finally:
                deadline.disarm()
        except SimulatorError as exc:
            record = exchange.telemetry
            # A type the handler chose (strict mode's "strict_no_fixture") stays; else the error's kind.
            if not record.error_type:
                record.error_type = str(exc.kind)
            record.error_message = exc.message
            if isinstance(exc, AuthError):
                record.auth_failure = exc.reason
            return provider.render_error(exc, request_id)
        except HangUp:
            await self._responder.hang(exchange, send, receive)
        except StreamCut:
            await self._responder.cut(exchange, send)
        except ClientGone:
            # The client may only have stopped sending (a truncated body): tell it why, in
            # its provider's shape, if it still listens, rather than leave the server to
            # answer a bare 500. Recorded as nginx's "client closed request".
            with contextlib.suppress(Exception):
                incomplete = provider.render_error(incomplete_body(), request_id)
                await self._responder.respond(exchange, incomplete, send, receive)
            exchange.status = 499
        except Exception:
            log.exception(
                "unhandled error in %s %s (%s)",
                exchange.method,
                exchange.path,
                request_id,
                extra={"request_id": request_id},
            )
            exchange.telemetry.error_type = "server_error"
            return provider.render_error(internal_error(), request_id)
        return None
