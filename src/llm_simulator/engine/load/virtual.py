"""The engine as a discrete-event simulation on a virtual clock (``llm-simulator simulate``).

Events are arrivals and step ends, processed in time order from one heap. Each replica
runs exactly the step rule the live engine runs (engine/load/replica.py); only the clock
differs, so an hour of traffic takes seconds. Workloads are open loop (arrival times fixed
in advance: Poisson, a trace) or closed loop (``concurrency`` clients, each sending its
next request when the last one finishes).
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from llm_simulator.engine.load.deployment import Deployment, DeploymentSpec
from llm_simulator.engine.load.replica import Batch, Replica
from llm_simulator.engine.load.sequence import SeqState, Sequence


@dataclass(frozen=True, slots=True)
class Arrival:
    """One request of a workload: when it arrives (ms) and its size."""

    time_ms: float
    prompt_tokens: int
    output_tokens: int
    hashes: tuple[int, ...] = ()
    width: int = 1


@dataclass(slots=True)
class RequestResult:
    """What happened to one request (times in ms from the start of the run; -1: never)."""

    arrival_ms: float
    prompt_tokens: int
    output_tokens: int
    first_token_ms: float = -1.0
    finish_ms: float = -1.0
    cached_tokens: int = 0
    preemptions: int = 0
    replica: int = -1
    outcome: str = "ok"  # ok, rejected (queue full or never fits), timed_out

    @property
    def ttft_ms(self) -> float:
        """Arrival to first token."""
        return self.first_token_ms - self.arrival_ms

    @property
    def e2e_ms(self) -> float:
        """Arrival to last token."""
        return self.finish_ms - self.arrival_ms

    @property
    def tpot_ms(self) -> float:
        """Mean decode time per token after the first: (E2E − TTFT) / (output − 1)."""
        return (self.finish_ms - self.first_token_ms) / (self.output_tokens - 1) if self.output_tokens > 1 else 0.0


@dataclass(slots=True)
class Sample:
    """The deployment's state at one instant (for queue and KV plots)."""

    time_ms: float
    running: int
    waiting: int
    kv_usage: float


@dataclass(slots=True)
class VirtualRun:
    """A finished simulation: every request's result, state samples, per-replica counters."""

    results: list[RequestResult]
    samples: list[Sample]
    duration_ms: float
    replicas: list[Replica] = field(default_factory=list)

    @property
    def completed(self) -> list[RequestResult]:
        """Requests that finished."""
        return [r for r in self.results if r.outcome == "ok" and r.finish_ms >= 0]

    @property
    def output_tokens(self) -> int:
        """Output tokens produced by finished requests."""
        return sum(r.output_tokens for r in self.completed)


# Closed-loop hook: given a request that just ended and the time, the next arrival (or None).
NextArrival = Callable[[RequestResult, float], Arrival | None]

_ARRIVE, _ENQUEUE, _STEP_END = 0, 1, 2


class _Simulation:
    """The event loop of one run (see ``simulate``)."""

    def __init__(self, spec: DeploymentSpec, seed: int, sample_every_ms: float) -> None:
        self.deployment = Deployment(spec, seed)
        self.front_ms = spec.step.front_ms
        self.heap: list[tuple[float, int, int, object]] = []
        self.order = itertools.count()
        self.busy: dict[int, Batch] = {}
        self.results: list[RequestResult] = []
        self.by_seq: dict[int, RequestResult] = {}
        self.samples: list[Sample] = []
        self.sample_every_ms = sample_every_ms
        self.next_sample = 0.0
        self.ids = itertools.count()
        self.next_arrival: NextArrival | None = None
        self.now = 0.0

    def push(self, time_ms: float, kind: int, payload: object) -> None:
        heapq.heappush(self.heap, (time_ms, next(self.order), kind, payload))

    def arrive(self, arrival: Arrival) -> None:
        seq = Sequence(
            next(self.ids),
            arrival.prompt_tokens,
            arrival.output_tokens,
            arrival.time_ms,
            width=arrival.width,
            hashes=arrival.hashes,
        )
        result = RequestResult(arrival.time_ms, seq.prompt_tokens, seq.target)
        self.results.append(result)
        self.by_seq[seq.seq_id] = result
        self.push(arrival.time_ms + self.front_ms, _ENQUEUE, seq)

    def enqueue(self, seq: Sequence, now: float) -> None:
        replica = self.deployment.pick(seq)
        if not replica.enqueue(seq):
            self.end(seq, "rejected", now)
            return
        if replica.index not in self.busy:
            self.start_step(replica, now)

    def start_step(self, replica: Replica, now: float) -> None:
        for seq in replica.expire(now):
            self.end(seq, "timed_out", now)
        batch = replica.schedule()
        if batch is None:
            self.busy.pop(replica.index, None)
            return
        self.busy[replica.index] = batch
        self.push(now + replica.duration_ms(batch), _STEP_END, replica)

    def step_end(self, replica: Replica, now: float) -> None:
        batch = self.busy[replica.index]
        _, finished = replica.complete(batch, now)
        for seq in finished:
            self.end(seq, "ok", now)
        self.start_step(replica, now)

    def end(self, seq: Sequence, outcome: str, now: float) -> None:
        result = self.by_seq.pop(seq.seq_id)
        result.outcome = outcome
        result.replica = seq.replica
        result.preemptions = seq.preemptions
        result.cached_tokens = max(0, seq.cached_tokens)
        if seq.state is SeqState.FINISHED:
            result.first_token_ms = seq.first_token_ms if seq.first_token_ms >= 0 else now
            result.finish_ms = now
        if self.next_arrival is not None:
            following = self.next_arrival(result, now)
            if following is not None:
                self.arrive(following)

    def sample(self, now: float) -> None:
        while self.next_sample <= now:
            replicas = self.deployment.replicas
            self.samples.append(
                Sample(
                    self.next_sample,
                    sum(len(r.running) for r in replicas),
                    sum(len(r.waiting) for r in replicas),
                    sum(r.kv.usage() for r in replicas) / len(replicas),
                )
            )
            self.next_sample += self.sample_every_ms

    def run(
        self, arrivals: Iterator[Arrival], until_ms: float | None, progress: Callable[[float], None] | None
    ) -> VirtualRun:
        pending = next(arrivals, None)
        heap = self.heap
        sample = self.sample_every_ms > 0
        ticks = 0
        while heap or pending is not None:
            payload: object
            if pending is not None and (not heap or pending.time_ms <= heap[0][0]):
                now, kind, payload = pending.time_ms, _ARRIVE, pending
                pending = next(arrivals, None)
            else:
                now, _, kind, payload = heapq.heappop(heap)
            if until_ms is not None and now > until_ms:
                break
            self.now = now
            if sample:
                self.sample(now)
            if kind == _STEP_END:
                assert isinstance(payload, Replica)
                self.step_end(payload, now)
            elif kind == _ENQUEUE:
                assert isinstance(payload, Sequence)
                self.enqueue(payload, now)
            else:
                assert isinstance(payload, Arrival)
                self.arrive(payload)
            ticks += 1
            if progress is not None and ticks % 4096 == 0:
                progress(now)
        for seq_id, result in list(self.by_seq.items()):
            del self.by_seq[seq_id]
            result.outcome = "unfinished"
        return VirtualRun(self.results, self.samples, self.now, self.deployment.replicas)


def simulate(
    spec: DeploymentSpec,
    arrivals: Iterable[Arrival],
    *,
    seed: int = 0,
    next_arrival: NextArrival | None = None,
    until_ms: float | None = None,
    sample_every_ms: float = 0.0,
    progress: Callable[[float], None] | None = None,
) -> VirtualRun:
    """Run ``arrivals`` (sorted by time) through a deployment built from ``spec`` on a virtual clock.

    ``next_arrival`` makes the workload closed loop (called whenever a request ends);
    ``until_ms`` stops the run at that virtual time (requests still in flight are reported
    ``unfinished``); ``sample_every_ms`` > 0 records running/waiting/KV samples. With the same
    seed, spec and workload, two runs are identical.
    """
    sim = _Simulation(spec, seed, sample_every_ms)
    sim.next_arrival = next_arrival
    return sim.run(iter(arrivals), until_ms, progress)


def closed_loop(
    concurrency: int,
    make: Callable[[int, float], Arrival | None],
    *,
    ramp_ms: float = 0.0,
    rng: random.Random | None = None,
) -> tuple[list[Arrival], NextArrival]:
    """A closed-loop workload: ``concurrency`` clients, each sending its next request when its last one ended.

    ``make(k, now)`` builds the k-th request (arriving at ``now``) or returns None to stop.
    With ``ramp_ms`` 0 every client starts at t=0; otherwise each client's first request
    arrives at a uniform random time in [0, ramp_ms) drawn from ``rng`` (see ``lone_e2e_ms``
    for why a measurement wants that).
    """
    counter = itertools.count()
    if ramp_ms > 0:
        draw = rng or random.Random(0)
        starts = sorted(draw.uniform(0.0, ramp_ms) for _ in range(concurrency))
    else:
        starts = [0.0] * concurrency
    first = [a for a in (make(next(counter), start) for start in starts) if a is not None]

    def after(result: RequestResult, now: float) -> Arrival | None:
        return make(next(counter), now)

    return first, after


def lone_e2e_ms(spec: DeploymentSpec, prompt_tokens: int, output_tokens: int, seed: int = 0) -> float:
    """How long one request of this size takes on an otherwise idle ``spec`` (arrival to last token, ms).

    The ramp of a closed-loop measurement. Started all at once, c clients of one request
    size form convoys on a first-come-first-served engine that never dissolve: requests
    arriving during one prefill finish one decode step apart, so they arrive together again
    and again, and each round queues them behind each other's prefills. Real load
    generators' clients start at scattered moments (and real runs last long enough for that
    to be the steady state), so a measurement starts each client at a random moment within
    one lone request's lifetime.
    """
    run = simulate(spec, [Arrival(0.0, max(1, prompt_tokens), max(1, output_tokens))], seed=seed)
    result = run.results[0]
    return max(0.0, result.finish_ms - result.arrival_ms)
