"""Timing models: when each decode step of a planned response is released.

A ``TimingModel`` opens a ``Timeline`` per response. The sampled model below draws TTFT and
ITL from the request's latency profile; a load-aware model (a continuous-batching engine
whose step loop releases one token per running sequence per step) implements the same two
protocols, so providers and the server never change when it is swapped in.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Protocol

from llm_simulator.config.distributions import FixedSpec, LatencyProfileSpec
from llm_simulator.core.plain import Releasable
from llm_simulator.engine.latency.distributions import Sampler, build_sampler
from llm_simulator.engine.observer import TimingObserver
from llm_simulator.engine.scheduler import Scheduler
from llm_simulator.infra.clock import Clock

# The time compression of the work the current task serves: every wait of the model's own
# latency (TTFT, ITL, prefill, a fixture's scripted delay) is multiplied by it. Live requests
# leave it at 1.0; batch lines and background responses run under ``batches.time_scale`` /
# ``batches.background_time_scale`` (set by ``compressed``). A context variable rather than a
# field carried through HTTP and every provider's request type: the work is compressed by
# whoever starts it (a batch runner, a background task), whatever serves it, and a live
# request pays only one ``get`` of the default per timeline.
TIME_COMPRESSION: ContextVar[float] = ContextVar("llm_simulator_time_compression", default=1.0)


@contextmanager
def compressed(factor: float) -> Iterator[None]:
    """Run the body's work (in this task and the tasks it starts) at ``factor`` × its model time."""
    token = TIME_COMPRESSION.set(factor)
    try:
        yield
    finally:
        TIME_COMPRESSION.reset(token)


class Timeline(Protocol):
    """Release times of one response's decode steps (step 0 carries the first token)."""

    async def wait_step(self, step: int) -> None:
        """Return when step ``step`` is due; steps must be awaited in order."""
        ...

    async def wait_end(self, steps: int) -> None:
        """Return when the last of ``steps`` steps is due (non-streamed responses)."""
        ...

    async def skip_to(self, step: int) -> None:
        """Let the steps before ``step`` pass unreleased (hidden tokens): no wake-up for them."""
        ...

    def shift(self, seconds: float) -> None:
        """Move every step not yet released ``seconds`` later (a stall mid-response)."""
        ...

    def close(self) -> None:
        """Release resources (called when the response ends or the client leaves)."""
        ...


class TimingModel(Protocol):
    """Creates a timeline per response."""

    def open(self, profile: CompiledProfile, prompt_tokens: int, rng: random.Random) -> Timeline:
        """Start the clock for a response whose prompt has ``prompt_tokens`` tokens."""
        ...


@dataclass(frozen=True, slots=True)
class CompiledProfile:
    """A latency profile with its samplers built and the global multiplier folded in."""

    name: str
    ttft: Sampler
    itl: Sampler
    overhead_ms: float
    prefill_ms_per_token: float
    multiplier: float
    # Whether a sample uses the generator: not when TTFT and ITL are both fixed. Such a
    # response seeds none (``Simulator``): ≈ 2.9 KB less held by every open stream (an
    # MT19937 state) and no seeding per request; its times are the same.
    draws: bool = True

    @property
    def instant(self) -> bool:
        """True when every delay is zero (latency off), so timelines can skip the clock."""
        return self.multiplier == 0.0

    @classmethod
    def compile(cls, name: str, spec: LatencyProfileSpec, multiplier: float) -> CompiledProfile:
        """Build the samplers of ``spec``."""
        return cls(
            name=name,
            ttft=build_sampler(spec.ttft),
            itl=build_sampler(spec.itl),
            overhead_ms=spec.overhead_ms,
            prefill_ms_per_token=spec.prefill_ms_per_token,
            multiplier=multiplier,
            draws=not (isinstance(spec.ttft, FixedSpec) and isinstance(spec.itl, FixedSpec)),
        )

    def first_token_s(self, prompt_tokens: int, rng: random.Random) -> float:
        """Seconds from arrival to the first token.

        TTFT = (overhead + sampled TTFT + prefill_ms_per_token × prompt_tokens) × multiplier,
        so TTFT grows linearly with the (uncached) prompt length.
        """
        ms = self.overhead_ms + self.ttft(rng) + self.prefill_ms_per_token * prompt_tokens
        return ms * self.multiplier / 1000.0

    def next_token_s(self, rng: random.Random) -> float:
        """Seconds between two consecutive tokens (one ITL sample × multiplier)."""
        return self.itl(rng) * self.multiplier / 1000.0


class SampledTimeline:
    """Due times ``t0 + TTFT + Σ ITL``, released by the shared scheduler in batches.

    Each wait is ``Scheduler.wait_batched``: a token is released at the end of the
    ``BATCH_WINDOW_S`` window its due time falls in, with every other stream's token of that
    window, never before its due time. The due times themselves stay absolute (the next
    one is computed from this one, not from the release), so the lateness never adds up.
    """

    __slots__ = ("_clock", "_next_due", "_next_step", "_observer", "_profile", "_rng", "_scheduler", "parked_due")

    def __init__(
        self,
        profile: CompiledProfile,
        prompt_tokens: int,
        rng: random.Random,
        clock: Clock,
        scheduler: Scheduler,
        observer: TimingObserver,
    ) -> None:
        self._profile = profile
        self._rng = rng
        self._clock = clock
        self._scheduler = scheduler
        self._observer = observer
        self._next_step = 0
        self._next_due = clock.now() + profile.first_token_s(prompt_tokens, rng)
        # The due time of the future ``park`` handed out last (None: it handed out none).
        self.parked_due: float | None = None

    @property
    def observer(self) -> TimingObserver:
        """Who records this timeline's emit errors."""
        return self._observer

    def _advance(self) -> float:
        due = self._next_due
        self._next_step += 1
        self._next_due = due + self._profile.next_token_s(self._rng)
        return due

    async def wait_step(self, step: int) -> None:
        """Wait for the due time of ``step`` and record how late it was released."""
        if self._profile.instant:
            return
        if step != self._next_step:
            raise ValueError(f"steps must be awaited in order: expected {self._next_step}, got {step}")
        due = self._advance()
        fut = self._scheduler.wait_batched(due)
        if fut is not None:
            await fut
            self._observer.record_emit_error(self._clock.now() - due)

    def park(self, step: int) -> asyncio.Future[None] | None:
        """A future done when the next step is due (None: it is due already); ``step`` is that step.

        The plain stream's per-token path (``engine.pacing``): ``wait_step`` without its
        coroutine. The caller records the emit error once it has woken, from ``parked_due``.
        """
        profile = self._profile
        if profile.multiplier == 0.0:  # instant (latency off): every step is due now
            return None
        due = self._next_due
        self._next_step = step + 1
        self._next_due = due + profile.next_token_s(self._rng)
        fut = self._scheduler.wait_batched(due)
        self.parked_due = None if fut is None else due
        return fut

    def park_into(self, step: int, entry: Releasable) -> bool:
        """``park`` for a stream's own writer: ``entry`` is released when ``step`` is due (False: due now).

        The same due times as ``park`` (inlined: it runs once per token); the scheduler calls
        ``entry`` in its release pass instead of resolving a future (``Scheduler.park_batched``).
        """
        profile = self._profile
        if profile.multiplier == 0.0:
            return False
        due = self._next_due
        self._next_step = step + 1
        self._next_due = due + profile.next_token_s(self._rng)
        parked = self._scheduler.park_batched(due, entry)
        self.parked_due = due if parked else None
        return parked

    async def skip_to(self, step: int) -> None:
        """Advance the due times through ``step - 1`` without waiting; ``wait_step(step)`` waits once."""
        if self._profile.instant:
            return
        while self._next_step < step:
            self._advance()

    async def wait_end(self, steps: int) -> None:
        """Wait once, for the due time of the last step (TTFT + the sum of every ITL)."""
        if self._profile.instant:
            return
        due = self._next_due
        for _ in range(self._next_step, steps):
            due = self._advance()
        fut = self._scheduler.wait_batched(due)
        if fut is not None:
            await fut

    def shift(self, seconds: float) -> None:
        """Move the next due time (and so every later one) by ``seconds``."""
        self._next_due += seconds

    def close(self) -> None:
        """Nothing to release: a pending future is cancelled by its awaiting task."""


class DelayedTimeline:
    """A timeline that starts ``due`` (monotonic seconds) rather than now (scripted delays).

    The inner timeline is opened only once the delay has passed, so every due time of the
    response moves by the delay (TTFT + delay), whatever the timing model; a load-aware model
    sees the request arrive late, as a slow network or gateway would make it.
    """

    __slots__ = ("_due", "_inner", "_open", "_scheduler")

    def __init__(self, due: float, scheduler: Scheduler, open_inner: Callable[[], Timeline]) -> None:
        self._due = due
        self._scheduler = scheduler
        self._open = open_inner
        self._inner: Timeline | None = None

    async def _started(self) -> Timeline:
        if self._inner is None:
            fut = self._scheduler.wait_until(self._due)
            if fut is not None:
                await fut
            self._inner = self._open()
        return self._inner

    async def wait_step(self, step: int) -> None:
        """Wait for the delay (before step 0), then for the inner timeline's step."""
        await (await self._started()).wait_step(step)

    async def wait_end(self, steps: int) -> None:
        """Wait for the delay, then for the inner timeline's last step."""
        await (await self._started()).wait_end(steps)

    async def skip_to(self, step: int) -> None:
        """Wait for the delay, then skip the inner timeline's hidden steps."""
        await (await self._started()).skip_to(step)

    def shift(self, seconds: float) -> None:
        """Move the start (before it) or the inner timeline's later steps (after it)."""
        if self._inner is None:
            self._due += seconds
        else:
            self._inner.shift(seconds)

    def close(self) -> None:
        """Close the inner timeline if it was opened."""
        if self._inner is not None:
            self._inner.close()


class SampledTiming:
    """The per-request latency sampler (no load interaction between requests)."""

    def __init__(self, clock: Clock, scheduler: Scheduler, observer: TimingObserver) -> None:
        self._clock = clock
        self._scheduler = scheduler
        self._observer = observer

    def open(self, profile: CompiledProfile, prompt_tokens: int, rng: random.Random) -> Timeline:
        """A timeline starting now."""
        return SampledTimeline(profile, prompt_tokens, rng, self._clock, self._scheduler, self._observer)
