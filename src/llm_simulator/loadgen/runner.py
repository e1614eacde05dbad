"""Closed-loop and open-loop load: warmup, stop conditions, overhead probes and progress.

* **Closed loop** (``rate`` unset): ``concurrency`` workers; each sends its next request as
  soon as its previous one finishes, so the offered load adapts to the server's speed.
* **Open loop** (``rate`` set): requests start at Poisson arrival times drawn from a seeded
  RNG, whether or not earlier ones finished, as independent users would. ``max_in_flight``
  caps the requests in flight; an arrival that finds the cap full waits for a free slot and
  is counted (``blocked_by_cap``), and every arrival sent more than ``late_threshold_s``
  after its scheduled time counts as ``late``.

The run stops at ``requests`` sent or at ``duration`` seconds, whichever comes first;
requests already started are allowed to finish (each is bounded by ``timeout``).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import sys
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import Any, TextIO, TypeVar
from urllib.parse import urlsplit

import httpx

from llm_simulator.loadgen.client import PreparedRequest, RequestResult, RequestSpec, prepare, send
from llm_simulator.loadgen.stats import ClientOverhead, OpenLoopInfo, RunOutcome

DEFAULT_REQUESTS = 100
PROBE_INTERVAL_S = 0.01
PROGRESS_INTERVAL_S = 0.25
_T = TypeVar("_T")


class UnreachableError(Exception):
    """The target URL could not be reached at all (bad host, refused connection, TLS failure)."""


@dataclass(frozen=True)
class LoadConfig:
    """How much load, shaped how. See the module docstring for the two loop kinds."""

    requests: int | None = None
    duration: float | None = None
    concurrency: int = 8
    rate: float | None = None
    max_in_flight: int = 512
    warmup: int = 0
    seed: int = 0
    timeout: float = 60.0
    late_threshold_s: float = 0.01

    @property
    def request_limit(self) -> int | None:
        """Requests to send: the given number, else unlimited with a duration, else 100."""
        if self.requests is None and self.duration is None:
            return DEFAULT_REQUESTS
        return self.requests

    @property
    def pool_size(self) -> int:
        """Connections needed: one per worker (closed loop) or per in-flight slot (open loop)."""
        return self.max_in_flight if self.rate is not None else self.concurrency

    def validate(self) -> None:
        """Raise ValueError naming the flag of the first invalid setting."""
        checks: list[tuple[bool, str]] = [
            (self.requests is None or self.requests >= 1, "--requests must be at least 1"),
            (
                self.duration is None or (math.isfinite(self.duration) and self.duration > 0),
                "--duration must be positive",
            ),
            (self.concurrency >= 1, "--concurrency must be at least 1"),
            (self.rate is None or (math.isfinite(self.rate) and self.rate > 0), "--rate must be a positive number"),
            (self.max_in_flight >= 1, "--max-in-flight must be at least 1"),
            (self.warmup >= 0, "--warmup must not be negative"),
            (math.isfinite(self.timeout) and self.timeout > 0, "--timeout must be positive"),
        ]
        for good, message in checks:
            if not good:
                raise ValueError(message)


def poisson_arrivals(rate: float, rng: random.Random) -> Iterator[float]:
    """Arrival offsets (seconds from the start) of a Poisson process of ``rate`` per second.

    The gaps between arrivals are independent exponential variates with mean ``1/rate``
    (``rng.expovariate(rate)``), so the number of arrivals in any window of length T is
    Poisson-distributed with mean ``rate·T``. Infinite; the caller stops it.
    """
    t = 0.0
    while True:
        t += rng.expovariate(rate)
        yield t


@dataclass
class Counters:
    """Live progress of a run, shared by the senders and the progress bar."""

    done: int = 0
    errors: int = 0

    def add(self, result: RequestResult) -> None:
        """Count one finished request."""
        self.done += 1
        if not result.ok:
            self.errors += 1


class ProgressBar:
    r"""A one-line, ``\r``-rewritten progress display on a text stream (stderr).

    Shows done/total (or elapsed/duration for duration-bound runs), the completion rate
    and the error count. Plain text: no terminal control codes besides ``\r``.
    """

    WIDTH = 24

    def __init__(self, stream: TextIO, total: int | None, duration: float | None) -> None:
        self._stream = stream
        self._total = total
        self._duration = duration
        self._last_len = 0

    def render(self, counters: Counters, elapsed: float) -> str:
        r"""The current line (without ``\r``)."""
        if self._total is not None:
            fraction = counters.done / self._total
            count = f"{counters.done}/{self._total}"
        else:
            fraction = elapsed / self._duration if self._duration else 0.0
            count = f"{counters.done}"
        if self._duration is not None and self._total is not None:
            fraction = max(fraction, elapsed / self._duration)
        filled = round(min(fraction, 1.0) * self.WIDTH)
        bar = "#" * filled + "." * (self.WIDTH - filled)
        rate = counters.done / elapsed if elapsed > 0 else 0.0
        return f"[{bar}] {count} req  {rate:.1f} req/s  errors {counters.errors}  {elapsed:.1f}s"

    def update(self, counters: Counters, elapsed: float) -> None:
        """Rewrite the line in place (padding over a longer previous line)."""
        line = self.render(counters, elapsed)
        pad = " " * max(0, self._last_len - len(line))
        self._last_len = len(line)
        self._stream.write("\r" + line + pad)
        self._stream.flush()

    def finish(self, counters: Counters, elapsed: float) -> None:
        """Draw the final state and end the line."""
        self.update(counters, elapsed)
        self._stream.write("\n")
        self._stream.flush()


class LoopLagProbe:
    """Measures the generator's event-loop lag: how late a periodic timer fires.

    Every ``interval`` seconds the probe sleeps and records ``actual wake-up − due time``.
    A busy loop (too much parsing, too many tasks) delays every timestamp the generator
    takes, so a large lag means measured latencies include client-side queueing.
    """

    def __init__(self, interval: float = PROBE_INTERVAL_S) -> None:
        self.interval = interval
        self.samples: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        clock = time.perf_counter
        while True:
            due = clock() + self.interval
            await asyncio.sleep(self.interval)
            self.samples.append(max(0.0, clock() - due))

    def start(self) -> None:
        """Start probing on the running loop."""
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Stop probing."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


class ClientPool:
    """HTTP/1.1 clients, one keep-alive connection each, handed out one per concurrent slot.

    Why not one client with a pool of N connections: httpcore's pool rescans every
    connection (a ``poll`` system call per idle socket) whenever a request starts or ends,
    so its cost per request grows with N — at 32 connections it was ~80 % of the
    generator's CPU. A client per slot (``Limits(max_connections=1,
    max_keepalive_connections=1)``) keeps that scan at one connection; in total the pool
    still holds exactly ``concurrency`` (closed loop) or at most ``max_in_flight`` (open
    loop) connections. Clients share one SSL context, which makes them cheap to create
    (loading the CA bundle costs ~17 ms per context), so they are created on demand.
    """

    def __init__(self, config: LoadConfig, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._config = config
        self._transport = transport
        self._ssl = httpx.create_ssl_context()
        self._idle: list[httpx.AsyncClient] = []
        self._all: list[httpx.AsyncClient] = []

    def acquire(self) -> httpx.AsyncClient:
        """An idle client, or a new one."""
        if self._idle:
            return self._idle.pop()
        client = httpx.AsyncClient(
            http1=True,
            http2=False,
            verify=self._ssl,
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
            timeout=httpx.Timeout(self._config.timeout),
            transport=self._transport,
        )
        self._all.append(client)
        return client

    def release(self, client: httpx.AsyncClient) -> None:
        """Return a client (and its open connection) for the next request."""
        self._idle.append(client)

    @property
    def size(self) -> int:
        """Clients (= connections at most) created so far."""
        return len(self._all)

    async def aclose(self) -> None:
        """Close every client and its connection."""
        for client in self._all:
            await client.aclose()
        self._all.clear()
        self._idle.clear()


async def check_reachable(client: httpx.AsyncClient, base_url: str, time_limit: float) -> None:
    """Raise UnreachableError unless the server at ``base_url`` answers an HTTP request.

    Any HTTP response (even a 404) proves the target is reachable; only a transport
    failure (DNS, refused connection, TLS, timeout) stops the run before it starts.
    """
    parts = urlsplit(base_url)
    origin = f"{parts.scheme}://{parts.netloc}/"
    try:
        await client.get(origin, timeout=min(time_limit, 10.0))
    except httpx.TransportError as exc:
        raise UnreachableError(f"cannot reach {base_url}: {exc or type(exc).__name__}") from None


async def _closed_loop(
    pool: ClientPool,
    prepared: PreparedRequest,
    config: LoadConfig,
    limit: int | None,
    run_start: float,
    deadline: float | None,
    results: list[RequestResult],
    counters: Counters,
    workers: int,
) -> None:
    issued = 0
    clock = time.perf_counter

    async def worker() -> None:
        nonlocal issued
        client = pool.acquire()
        try:
            while (limit is None or issued < limit) and (deadline is None or clock() < deadline):
                issued += 1
                result = await send(client, prepared, run_start, config.timeout)
                results.append(result)
                counters.add(result)
        finally:
            pool.release(client)

    await asyncio.gather(*(worker() for _ in range(workers)))


async def _open_loop(
    pool: ClientPool,
    prepared: PreparedRequest,
    config: LoadConfig,
    limit: int | None,
    run_start: float,
    results: list[RequestResult],
    counters: Counters,
) -> OpenLoopInfo:
    assert config.rate is not None
    info = OpenLoopInfo(
        rate=config.rate,
        max_in_flight=config.max_in_flight,
        scheduled=0,
        blocked_by_cap=0,
        late=0,
        late_threshold_s=config.late_threshold_s,
    )
    slots = asyncio.Semaphore(config.max_in_flight)
    tasks: set[asyncio.Task[None]] = set()
    clock = time.perf_counter

    async def one(lag: float) -> None:
        # The semaphore guarantees a free slot, so at most max_in_flight clients exist.
        client = pool.acquire()
        try:
            result = await send(client, prepared, run_start, config.timeout)
            result.schedule_lag = lag
            results.append(result)
            counters.add(result)
        finally:
            pool.release(client)
            slots.release()

    # --duration bounds the sending in real time: arrivals due later are not sent, and an
    # arrival still waiting for a free slot when the time is up is dropped (and counted), so
    # a rate above what the server can take cannot stretch the run.
    end = run_start + config.duration if config.duration is not None else None
    time_up = False
    for offset in poisson_arrivals(config.rate, random.Random(config.seed)):
        if limit is not None and info.scheduled + info.dropped_at_end >= limit:
            break
        due = run_start + offset
        if end is not None and due >= end:
            break
        if time_up:
            info.dropped_at_end += 1  # due within the window, but the window is over
            continue
        delay = due - clock()
        if delay > 0:
            await asyncio.sleep(delay)
        if slots.locked():
            info.blocked_by_cap += 1
        if end is None:
            await slots.acquire()
        else:
            try:
                await asyncio.wait_for(slots.acquire(), timeout=max(0.0, end - clock()))
            except TimeoutError:
                info.dropped_at_end += 1
                time_up = True
                continue
        info.scheduled += 1
        lag = max(0.0, clock() - due)
        info.schedule_lags_s.append(lag)
        if lag > config.late_threshold_s:
            info.late += 1
        task = asyncio.get_running_loop().create_task(one(lag))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if end is not None and clock() < end:
        await asyncio.sleep(end - clock())  # the window is the duration asked for, even if sparse
    if tasks:
        await asyncio.gather(*tasks)
    return info


async def _progress_loop(bar: ProgressBar, counters: Counters, run_start: float) -> None:
    while True:
        await asyncio.sleep(PROGRESS_INTERVAL_S)
        bar.update(counters, time.perf_counter() - run_start)


async def run_load(
    spec: RequestSpec,
    config: LoadConfig,
    *,
    progress: TextIO | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    preflight: bool = True,
) -> RunOutcome:
    """Run one load test and return every measured request plus the generator's overhead.

    Warmup requests (closed loop, results discarded) go first and also open the pool's
    connections; the measured window then starts, with CPU time and loop lag measured
    over exactly that window. ``progress`` (a text stream) receives the progress bar.
    """
    config.validate()
    prepared = prepare(spec)
    limit = config.request_limit
    loop_name = type(asyncio.get_running_loop()).__module__.split(".")[0]
    pool = ClientPool(config, transport)
    try:
        if preflight:
            client = pool.acquire()
            try:
                await check_reachable(client, spec.base_url, config.timeout)
            finally:
                pool.release(client)
        if config.warmup:
            await _closed_loop(
                pool,
                prepared,
                config,
                config.warmup,
                time.perf_counter(),
                None,
                [],
                Counters(),
                min(config.warmup, config.concurrency),
            )
        results: list[RequestResult] = []
        counters = Counters()
        probe = LoopLagProbe()
        probe.start()
        bar = ProgressBar(progress, limit, config.duration) if progress is not None else None
        cpu_start = time.process_time()
        run_start = time.perf_counter()
        ticker = asyncio.get_running_loop().create_task(_progress_loop(bar, counters, run_start)) if bar else None
        open_info: OpenLoopInfo | None = None
        try:
            if config.rate is None:
                deadline = run_start + config.duration if config.duration is not None else None
                workers = config.concurrency if limit is None else min(config.concurrency, limit)
                await _closed_loop(pool, prepared, config, limit, run_start, deadline, results, counters, workers)
            else:
                open_info = await _open_loop(pool, prepared, config, limit, run_start, results, counters)
        finally:
            wall = time.perf_counter() - run_start
            cpu = time.process_time() - cpu_start
            if ticker is not None:
                ticker.cancel()
            await probe.stop()
        if bar is not None:
            bar.finish(counters, wall)
    finally:
        await pool.aclose()
    results.sort(key=lambda r: r.start)
    overhead = ClientOverhead(cpu_s=cpu, wall_s=wall, loop_lag_s=probe.samples, event_loop=loop_name)
    return RunOutcome(results=results, duration_s=wall, overhead=overhead, open_loop=open_info, warmup=config.warmup)


def run_coroutine(factory: Callable[[], Coroutine[Any, Any, _T]], *, use_uvloop: bool = True) -> _T:
    """Run a coroutine on a fresh event loop: uvloop when installed (less client overhead).

    uvloop is optional (it comes with ``uvicorn[standard]``); plain asyncio is the fallback.
    """
    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None
    if use_uvloop:
        try:
            import uvloop

            loop_factory = uvloop.new_event_loop
        except ImportError:
            loop_factory = None
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        return runner.run(factory())


def run_load_sync(
    spec: RequestSpec,
    config: LoadConfig,
    *,
    progress: TextIO | None = None,
    use_uvloop: bool = True,
) -> RunOutcome:
    """``run_load`` on its own event loop, for callers without one (the CLI, scripts)."""
    return run_coroutine(lambda: run_load(spec, config, progress=progress), use_uvloop=use_uvloop)


def progress_stream(mode: bool | None, stream: TextIO = sys.stderr) -> TextIO | None:
    """The stream for the progress bar: forced on (True), off (False) or only on a TTY (None)."""
    if mode is None:
        return stream if stream.isatty() else None
    return stream if mode else None
