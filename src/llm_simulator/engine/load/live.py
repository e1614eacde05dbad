"""The engine on the real clock: HTTP streams paced by replica step boundaries.

Each busy replica runs one asyncio task that forms a batch, waits once on the shared
scheduler for the step's absolute end time, and applies the step: every sequence that
sampled a token gets it, and a stream parked on that token is released with one
``set_result``: a future its task waits on, or (a plain stream past its opening) the
stream's own writer, which writes the token in that call (``park_into``,
``server.plain_stream``). There is no timer or task per token; a slow reader never slows the engine
(its tokens accumulate, as in a real server); a client that leaves frees its sequence and
KV blocks at once. Step end times are ideal (``t += step``), so a late wake-up does not
drift the schedule, and its lateness is reported as emit error.

The wake-ups of a big batch are issued in slices of ``WAKE_SLICE`` with a loop yield
between them (vLLM's API server likewise hands a step's outputs to its streams in chunks
and yields): every token of the step exists from the step's end, but requests arriving
meanwhile, socket I/O and the scheduler's timer get the loop between slices instead of
waiting behind a whole burst of a thousand stream resumptions or writes. Each stream is
released at its own fixed place in that order (``ReleaseOrder``), so under a steady load
the time the releases take delays its first and its last token alike.
"""

from __future__ import annotations

import asyncio
import bisect
import heapq
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from llm_simulator.core.errors import ErrorKind, SimulatorError
from llm_simulator.core.plain import Releasable
from llm_simulator.engine.load.deployment import Deployment, DeploymentSpec
from llm_simulator.engine.load.replica import Replica
from llm_simulator.engine.load.sequence import SeqState, Sequence
from llm_simulator.engine.observer import TimingObserver
from llm_simulator.engine.scheduler import Scheduler
from llm_simulator.infra.clock import Clock

log = logging.getLogger("llm_simulator.engine")

# No step waits for the event loop when its end is this close (ms): the scheduler would
# release it in the same pass anyway.
_NO_WAIT_MS = 0.2

# A step released late (the loop was busy or stalled) may follow the previous release sooner
# than its duration, to win back the ideal schedule, but never sooner than this fraction of
# it: after a 30 ms stall the next steps come 12 ms apart (at 20 ms steps), not back to back,
# so a client sees a few gaps 8 ms short instead of tokens bunched into one read. A real
# engine cannot run a step in no time either.
CATCH_UP_MIN_GAP = 0.6

# Streams woken per loop pass at a step's end (the rest after a yield); vLLM's API server
# processes a step's outputs in chunks of 128 the same way.
WAKE_SLICE = 128

_FINISHED = SeqState.FINISHED
_NEVER = 1 << 62


# Histogram edges: step durations (seconds) and batch sizes (sequences), as vLLM exports them.
STEP_SECONDS_EDGES = (0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.2, 0.5, 1.0)
BATCH_SIZE_EDGES = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


class StepHistograms:
    """Per-replica step durations and batch sizes: bucket counts (last bucket +Inf) and sums."""

    __slots__ = ("batch_counts", "batch_sum", "count", "step_counts", "step_sum")

    def __init__(self) -> None:
        self.step_counts = [0] * (len(STEP_SECONDS_EDGES) + 1)
        self.batch_counts = [0] * (len(BATCH_SIZE_EDGES) + 1)
        self.step_sum = 0.0
        self.batch_sum = 0
        self.count = 0

    def observe(self, step_s: float, batch_size: int) -> None:
        """Count one step."""
        self.step_counts[bisect.bisect_left(STEP_SECONDS_EDGES, step_s)] += 1
        self.batch_counts[bisect.bisect_left(BATCH_SIZE_EDGES, batch_size)] += 1
        self.step_sum += step_s
        self.batch_sum += batch_size
        self.count += 1


def overloaded(message: str, status: int | None = None) -> SimulatorError:
    """The overload error a deployment answers with (each provider renders its own shape).

    ``status`` (a deployment's ``overload_status``) replaces the provider's own status.
    """
    return SimulatorError(ErrorKind.OVERLOADED, message, retry_after_s=1.0, status=status)


class ReleaseOrder:
    """A replica's streams, each in one slot from its first token to its end: the order of every step's releases.

    A step's releases take time: each one writes its stream's token, ≈ 5–8 µs, so ≈ 10–16 ms
    for 2000 streams on one core. Released in batch order, a stream would start last (the
    newest sequence) and move forward as older ones finish, so its tokens would be written
    earlier and earlier against the steps, and its mean ITL would come out short by that
    drift over its length: measured −0.55 % at ≈ 2000 streams under a steady load of
    100-token streams (1000 arrivals a second). In a slot, a stream keeps its place: a
    sequence takes the lowest free slot with its first token (a preempted one keeps it) and
    leaves it once it has ended and had its last release, and under a steady load the slot
    is taken again by the next sequence to start. The streams ahead of it stay as many, each
    of its tokens is written at the same point of its step, and its mean ITL is the steps'
    (measured −0.14 % in the same runs). A load that falls away under a stream (fewer
    streams ahead, not replaced) still brings its last tokens sooner. Only sequences that
    have a token hold a slot, so a long queue costs the release pass nothing; the list
    shrinks when its last slots are freed, and empties when the replica goes idle.
    """

    __slots__ = ("_free", "_held", "slots")

    def __init__(self) -> None:
        self.slots: list[Sequence | None] = []
        self._free: list[int] = []  # a heap of free slots, lowest first (may hold stale ones: see ``add``)
        self._held = 0

    def add(self, seq: Sequence) -> None:
        """Give ``seq`` the lowest free slot (a new one at the end if none is free)."""
        slots, free = self.slots, self._free
        self._held += 1
        while free:
            index = heapq.heappop(free)
            # A slot freed before the list was cut below it, or taken again since by an append.
            if index < len(slots) and slots[index] is None:
                slots[index] = seq
                return
        slots.append(seq)

    def free(self, index: int) -> None:
        """Slot ``index``'s sequence has ended: the slot goes to a later sequence (the list's free end is cut)."""
        slots = self.slots
        slots[index] = None
        self._held -= 1
        if index == len(slots) - 1:
            while slots and slots[-1] is None:
                slots.pop()
        else:
            heapq.heappush(self._free, index)

    def clear(self) -> None:
        """Forget every slot (the replica has nothing running: whoever still holds one has ended)."""
        self.slots.clear()
        self._free.clear()
        self._held = 0

    def __len__(self) -> int:
        """Sequences holding a slot."""
        return self._held


class EngineTimeline:
    """One request's view of its sequence: waits until the engine has produced a token."""

    __slots__ = (
        "_ended",
        "_engine",
        "_new_future",
        "_parked",
        "_passed",
        "_waiter",
        "_waiting_for",
        "cached_tokens",
        "error",
        "seq",
    )

    def __init__(self, engine: LiveEngine, seq: Sequence, cached_tokens: int) -> None:
        self._engine = engine
        self.seq = seq
        self.cached_tokens = cached_tokens
        self.error: SimulatorError | None = None
        # A future, or the stream's own writer (``park_into``).
        self._waiter: Releasable | None = None
        # Wake when this many tokens exist (-1: when the sequence ends).
        self._waiting_for = -1
        # Whether the waiter was handed out by park (it raises the error) or awaited by _wait.
        self._parked = False
        # Tokens the stream has been handed by park (none counted before its first park).
        self._passed = _NEVER
        # Set by the engine when the sequence has sampled its last token (before it wakes the stream).
        self._ended = False
        # The loop's create_future, looked up once (get_running_loop costs a getpid per call).
        self._new_future: Callable[[], asyncio.Future[None]] | None = None

    def wake(self) -> None:
        """Called by the engine after a step that touched this sequence (or failed it)."""
        waiter = self._waiter
        if waiter is None:
            return
        seq = self.seq
        error = self.error
        if error is not None or seq.state >= _FINISHED or seq.generated >= self._waiting_for >= 0:
            self._waiter = None
            if not waiter.done():
                if error is not None and self._parked:
                    waiter.set_exception(error)  # a parked stream awaits the future itself
                else:
                    waiter.set_result(None)

    async def _wait(self, tokens: int) -> None:
        # The per-token path of every engine stream: no other coroutine under it, no property.
        seq = self.seq
        while True:
            if self.error is not None:
                raise self.error
            if (tokens >= 0 and seq.generated >= tokens) or seq.state >= _FINISHED:
                return
            new_future = self._new_future
            if new_future is None:
                new_future = self._new_future = self._engine.loop().create_future
            self._waiting_for = tokens
            self._parked = False
            waiter = self._waiter = new_future()
            await waiter

    def park(self, step: int) -> asyncio.Future[None] | None:
        """A future done once token ``step`` exists (or the sequence ended), None if it already does.

        The streaming hot path (``Simulator.stream``): no coroutine per token, and no
        wait at all for a token the engine released while the stream was busy (catch-up).
        The future raises the sequence's error (an expired wait, an engine failure).
        """
        if self.error is not None:
            raise self.error
        seq = self.seq
        wanted = self._passed = step + 1
        if seq.generated >= wanted or seq.state >= _FINISHED:
            return None
        new_future = self._new_future
        if new_future is None:
            new_future = self._new_future = self._engine.loop().create_future
        self._waiting_for = wanted
        self._parked = True
        waiter = self._waiter = new_future()
        return waiter

    def park_into(self, step: int, entry: Releasable) -> bool:
        """``park`` for a stream's own writer: ``entry`` is released once token ``step`` exists (False: it does).

        The engine's release calls ``entry`` in its pass instead of resolving a future; an
        engine failure reaches it through ``set_exception``, and an error already set is
        raised here, as ``park`` raises it. ``park``'s checks are repeated here, not shared
        through a helper: each is its stream mode's once-per-token path.
        """
        if self.error is not None:
            raise self.error
        seq = self.seq
        wanted = self._passed = step + 1
        if seq.generated >= wanted or seq.state >= _FINISHED:
            return False
        self._waiting_for = wanted
        self._parked = True
        self._waiter = entry
        return True

    def ahead(self) -> bool:
        """Whether the stream's next frames come without waiting for the engine.

        True when the engine has sampled a token the stream has not been handed yet (it is
        behind), and once the sequence has sampled its last token: what is left (the last
        tokens' frames, the finish, the terminator) is all due now, so it goes out in one
        write instead of one write per frame.
        """
        return self.seq.generated > self._passed or self._ended

    def wait_step(self, step: int) -> Coroutine[Any, Any, None]:
        """Return once the engine has sampled token ``step`` (at once if it already has).

        A plain function handing back ``_wait``'s coroutine: one coroutine per token, not two.
        """
        return self._wait(step + 1)

    async def wait_end(self, steps: int) -> None:
        """Return once ``steps`` tokens exist, or the sequence has ended (a zero-step plan)."""
        await self._wait(steps if steps > 0 else -1)

    async def skip_to(self, step: int) -> None:
        """Nothing to do: hidden tokens cost no wake-up here (only awaited steps park)."""

    def shift(self, seconds: float) -> None:
        """A stall holds the client, not the engine: tokens made meanwhile are sent at once after it."""

    def close(self) -> None:
        """Free the sequence and its KV blocks if it is still in the engine (the client left)."""
        if not self.seq.done:
            self._engine.abort(self.seq)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.cancel()


class LiveEngine:
    """One deployment driven by the real clock (see the module docstring)."""

    def __init__(
        self, spec: DeploymentSpec, clock: Clock, scheduler: Scheduler, observer: TimingObserver, seed: int
    ) -> None:
        self.spec = spec
        self.deployment = Deployment(spec, seed)
        self._clock = clock
        self._scheduler = scheduler
        self._observer = observer
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._ids = 0
        self._front_s = spec.step.front_ms / 1000.0
        self.histograms = [StepHistograms() for _ in self.deployment.replicas]
        self._orders = [ReleaseOrder() for _ in self.deployment.replicas]
        self._loop: asyncio.AbstractEventLoop | None = None

    def loop(self) -> asyncio.AbstractEventLoop:
        """The running event loop, cached (each test's ``asyncio.run`` brings a new one)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            loop = self._loop = asyncio.get_running_loop()
        return loop

    @property
    def replicas(self) -> list[Replica]:
        """The deployment's replicas."""
        return self.deployment.replicas

    def _overloaded(self, message: str) -> SimulatorError:
        return overloaded(message, self.spec.overload_status)

    def _now_ms(self) -> float:
        return self._clock.now() * 1000.0

    def open(self, prompt_tokens: int, steps: int, width: int, hashes: tuple[int, ...]) -> EngineTimeline:
        """Admit a request: route it, refuse it now if its replica's queue is full, queue it after the front end.

        Raises the overload error when the chosen replica's waiting queue is at its bound or
        the request could never fit in its KV cache.
        """
        self._ids += 1
        seq = Sequence(self._ids, prompt_tokens, steps, self._now_ms(), width=width, hashes=hashes)
        replica = self.deployment.pick(seq)
        if len(replica.waiting) >= replica.settings.max_waiting:
            replica.counters.rejected += 1
            raise self._overloaded(f"The deployment {self.spec.name!r} is overloaded: its queue is full.")
        if not replica.fits(seq):
            replica.counters.rejected += 1
            raise self._overloaded(f"The request needs more KV cache than the deployment {self.spec.name!r} has.")
        timeline = EngineTimeline(self, seq, replica.peek_cached_tokens(seq))
        seq.listener = timeline
        if self._front_s > 0:
            fut = self._scheduler.wait_until(self._clock.now() + self._front_s)
            if fut is not None:
                fut.add_done_callback(lambda f: None if f.cancelled() else self._enqueue(replica, seq))
                return timeline
        self._enqueue(replica, seq)
        return timeline

    def _enqueue(self, replica: Replica, seq: Sequence) -> None:
        if seq.state is not SeqState.WAITING:
            return  # the client left during the front-end delay
        if not replica.enqueue(seq):
            self._fail(seq, self._overloaded(f"The deployment {self.spec.name!r} is overloaded: its queue is full."))
            return
        if replica.index not in self._tasks:
            self._tasks[replica.index] = self.loop().create_task(self._run(replica))

    def abort(self, seq: Sequence) -> None:
        """Remove a sequence whose client is gone (frees its KV blocks at once)."""
        if seq.replica >= 0:
            self.replicas[seq.replica].abort(seq)
        else:
            seq.state = SeqState.ABORTED  # not queued yet: _enqueue will drop it

    @staticmethod
    def _fail(seq: Sequence, error: SimulatorError) -> None:
        timeline = seq.listener
        if isinstance(timeline, EngineTimeline):
            timeline.error = error
            timeline.wake()

    async def _run(self, replica: Replica) -> None:
        """The replica's step loop, while it has work."""
        try:
            await self._steps(replica)
        except Exception:  # a bug here must not leave streams parked forever
            log.exception("engine step loop of %s replica %d failed", self.spec.name, replica.index)
            for seq in [*replica.running, *replica.waiting]:
                replica.abort(seq)
                self._fail(seq, SimulatorError(ErrorKind.SERVER_ERROR, "The simulated engine failed."))
        finally:
            self._tasks.pop(replica.index, None)

    async def _steps(self, replica: Replica) -> None:
        scheduler = self._scheduler
        t = self._now_ms()
        released = -float("inf")  # when the previous step was released (ms)
        histograms = self.histograms[replica.index]
        order = self._orders[replica.index]
        while True:
            for seq in replica.expire(t):
                self._fail(seq, self._overloaded(f"The request waited too long in the queue of {self.spec.name!r}."))
            batch = replica.schedule()
            if batch is None:
                if not replica.running and not replica.waiting:
                    order.clear()  # nothing left: every sequence still in a slot has ended
                return
            step_ms = replica.duration_ms(batch)
            histograms.observe(step_ms / 1000.0, len(batch))
            t += step_ms
            due = t / 1000.0
            # On time: at the step's ideal end. Behind: as soon as the catch-up pace allows.
            release = max(t, released + step_ms * CATCH_UP_MIN_GAP)
            fut = scheduler.wait_until(release / 1000.0) if release - self._now_ms() > _NO_WAIT_MS else None
            if fut is not None:
                await fut
            else:
                await asyncio.sleep(0)  # behind even that: release now, but let streams run
            released = self._now_ms()
            # Late for any reason (a late timer, a catch-up step, no time to wait): all count.
            self._observer.record_emit_error(released / 1000.0 - due)
            _, finished = replica.complete(batch, t)  # the released tokens are found by slot (ReleaseOrder)
            for seq in replica.first_tokens:
                order.add(seq)
            for seq in finished:
                seq.listener._ended = True  # before its stream wakes: the rest of its frames are ready
            await self._release(order)
            # Those with a token are released above; this wakes one that ended without any (none to release).
            await self._wake(finished)
            # After an idle gap the loop restarts from now; while busy, ideal times (no drift).

    @staticmethod
    async def _release(order: ReleaseOrder) -> None:
        """Wake the streams parked on a token of this step, ``WAKE_SLICE`` slots per loop pass, in slot order.

        The per-token path of the engine: ``EngineTimeline.wake`` inlined for sequences that
        have just sampled a token (the engine failed none of them, so there is no error to
        raise), without a method call per stream. The slots are walked rather than the
        step's batch, so each stream keeps its place (``ReleaseOrder``); every sequence in a
        slot has a token, so the walk is the running batch, not the queue. A sequence that
        has ended (finished this step, or aborted) leaves its slot once released; a slot taken
        while the walk yields is taken at the next step (first tokens are added between steps).
        """
        slots = order.slots
        count = len(slots)
        for start in range(0, count, WAKE_SLICE):
            if start:
                await asyncio.sleep(0)
            for index, seq in enumerate(slots[start : start + WAKE_SLICE], start):
                if seq is None:
                    continue  # a free slot
                ended = seq.state >= _FINISHED
                if ended:
                    order.free(index)
                timeline = seq.listener
                waiter = timeline._waiter
                if waiter is None:
                    continue  # not parked: busy writing, or behind (it takes the token without a wait)
                if ended or seq.generated >= timeline._waiting_for >= 0:
                    timeline._waiter = None
                    if not waiter.done():  # cancelled with its task, which has yet to close the sequence
                        waiter.set_result(None)

    @staticmethod
    async def _wake(sequences: list[Sequence]) -> None:
        """Wake the streams parked on ``sequences``, ``WAKE_SLICE`` per loop pass, in batch order.

        The tokens already exist (a stream that checks finds them); only the parked streams'
        resumptions are spread out, so arriving requests and I/O run between slices.
        """
        for start in range(0, len(sequences), WAKE_SLICE):
            if start:
                await asyncio.sleep(0)
            for seq in sequences[start : start + WAKE_SLICE]:
                seq.listener.wake()


def engine_snapshot(name: str, engine: LiveEngine) -> list[dict[str, object]]:
    """One row per replica of ``engine``: its queue, batch, KV cache and step counters (JSON-ready)."""
    rows: list[dict[str, object]] = []
    for replica, hist in zip(engine.replicas, engine.histograms, strict=True):
        counters = replica.counters
        kv = replica.kv
        rows.append(
            {
                "deployment": name,
                "replica": replica.index,
                "running": len(replica.running),
                "waiting": len(replica.waiting),
                "kv_usage": round(kv.usage(), 4),
                "kv_blocks": kv.total_blocks,
                "prefix_cache_hit_rate": round(kv.hits / kv.lookups, 4) if kv.lookups else 0.0,
                "preemptions": counters.preemptions,
                "rejected": counters.rejected,
                "timed_out": counters.timed_out,
                "steps": hist.count,
                "mean_step_ms": round(1000 * hist.step_sum / hist.count, 3) if hist.count else 0.0,
                "mean_batch_size": round(hist.batch_sum / hist.count, 2) if hist.count else 0.0,
                "generated_tokens": counters.generated_tokens,
            }
        )
    return rows
