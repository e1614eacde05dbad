"""Event sinks: where lifecycle events go (JSON lines, stdout, a webhook; OTLP logs elsewhere).

Every sink is a ``BatchingSink``: ``emit`` appends the event to a bounded queue and returns
(the request path never waits on a disk or a network), and one background task per sink
wakes every ``flush_interval_s``, or as soon as ``batch_size`` events wait, and delivers the
queued events in batches. A full queue drops the *new* event and counts it; a batch that
cannot be delivered is dropped and counted too. Delivery is therefore at most once (a
webhook retried after a timeout may see a batch twice; its ``Idempotency-Key`` header
stays the same across the retries). ``docs/events.md`` documents the schema and the sinks.

File, terminal and HTTP I/O run in worker threads (``asyncio.to_thread``) so the event loop
never blocks on them. Failures are logged on ``llm_simulator.telemetry`` at most once a
minute per kind of failure, with a count of the warnings held back.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import http.client
import logging
import math
import random
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections import deque
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import IO, Any

import orjson

from llm_simulator import __version__
from llm_simulator.config.loader import ConfigError
from llm_simulator.config.schema import SimulatorConfig
from llm_simulator.config.telemetry import SinkConfig
from llm_simulator.infra.retry import RetryPolicy, aretry
from llm_simulator.telemetry.events import SCHEMA, EventSink

log = logging.getLogger("llm_simulator.telemetry")

# One warning per kind of failure per sink in this many seconds: a dead collector must not
# turn the log into one line per batch.
WARN_INTERVAL_S = 60.0
# The longest pause between two webhook attempts, whatever the backoff or Retry-After says.
MAX_BACKOFF_S = 30.0
# How much of a webhook's answer is read (it is discarded; reading lets the connection close cleanly).
_ANSWER_READ_LIMIT = 64 * 1024
_LINE = orjson.OPT_APPEND_NEWLINE


class _Warnings:
    """Rate-limited warnings of one sink: per key, one line per ``WARN_INTERVAL_S``, or one ever."""

    def __init__(self, sink: str) -> None:
        self.sink = sink
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}
        self._once: set[str] = set()

    def warn(self, key: str, message: str) -> None:
        """Log ``message`` unless ``key`` was logged in the last ``WARN_INTERVAL_S``; then count it."""
        now = time.monotonic()
        last = self._last.get(key)
        if last is not None and now - last < WARN_INTERVAL_S:
            self._held[key] = self._held.get(key, 0) + 1
            return
        self._last[key] = now
        held = self._held.pop(key, 0)
        suffix = f" ({held} similar warnings held back)" if held else ""
        log.warning("event sink %s: %s%s", self.sink, message, suffix)

    def once(self, key: str, message: str) -> None:
        """Log ``message`` the first time ``key`` is seen, never again."""
        if key not in self._once:
            self._once.add(key)
            log.warning("event sink %s: %s", self.sink, message)


class BatchingSink:
    """The shared base: a bounded queue, a delivery task, batching, counting and a bounded close.

    Subclasses implement ``deliver``. The queue holds at most ``queue_size`` events waiting,
    plus the batch being delivered (at most ``batch_size``), so memory stays bounded whatever
    the destination does.
    """

    def __init__(self, spec: SinkConfig) -> None:
        self.spec = spec
        self.name = spec.sink_name
        self.sent = 0
        self.dropped = 0
        self.warnings = _Warnings(self.name)
        self._wanted = frozenset(spec.events)
        self._queue_size = spec.queue_size
        self._batch_size = spec.batch_size
        self._queue: deque[dict[str, Any]] = deque()
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._in_flight = 0
        # Set while deliveries fail (a full disk, a dead collector): the first success after
        # that says so in the log, with how many events were dropped meanwhile.
        self._failing_since_dropped: int | None = None

    @property
    def queued(self) -> int:
        """Events waiting for delivery (not counting the batch being delivered)."""
        return len(self._queue)

    def wants(self, event: str) -> bool:
        """Whether ``event`` passes the sink's ``events`` filter (an empty filter takes all)."""
        return not self._wanted or event in self._wanted

    def emit(self, event: dict[str, Any]) -> None:
        """Queue ``event``; with ``queue_size`` events already waiting, drop it and count it. Never blocks."""
        queue = self._queue
        if len(queue) >= self._queue_size:
            self.dropped += 1
            self.warnings.warn("queue", f"queue full ({self._queue_size} events): new events are dropped")
            return
        queue.append(event)
        if len(queue) >= self._batch_size and self._wake is not None:
            self._wake.set()

    def start(self) -> None:
        """Start the delivery task in the running loop (idempotent while it runs)."""
        if self._task is not None and not self._task.done():
            return
        self._wake = asyncio.Event()
        # An empty context: the hub may start sinks from inside the first request, and the
        # task would otherwise carry that request's record (and its id in every log line).
        self._task = asyncio.get_running_loop().create_task(
            self._run(), name=f"event-sink {self.name}", context=contextvars.Context()
        )

    async def close(self) -> None:
        """Deliver what is queued within ``timeout_s``, then stop; what is left then counts as dropped."""
        self.start()  # a sink never started still delivers its queue
        task = self._task
        assert task is not None
        assert self._wake is not None
        self._closing = True
        self._wake.set()
        lost = 0
        try:
            await asyncio.wait_for(asyncio.shield(task), self.spec.timeout_s)
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            lost = self._in_flight + len(self._queue)
            self.warnings.warn("close", f"shutdown: {lost} events not delivered within {self.spec.timeout_s} s")
        except asyncio.CancelledError:
            task.cancel()
            raise
        finally:
            self.dropped += lost
            self._queue.clear()
            self._in_flight = 0
            self._task = None
            self._closing = False

    async def deliver(self, batch: list[dict[str, Any]]) -> bool:
        """Deliver ``batch``: True when done, False when it is given up (after warning). May raise."""
        raise NotImplementedError

    async def _run(self) -> None:
        """Wait for a full batch or the flush interval, deliver what is queued, again; until closed and empty."""
        wake = self._wake
        assert wake is not None
        interval = self.spec.flush_interval_s
        while True:
            if not self._closing and len(self._queue) < self._batch_size:
                wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), interval)
            await self._deliver_queued()
            if self._closing and not self._queue:
                return

    async def _deliver_queued(self) -> None:
        """Deliver the events queued at this moment, batch by batch; later ones wait for the next round."""
        pending = len(self._queue)
        while pending > 0:
            size = min(pending, self._batch_size)
            pending -= size
            batch = [self._queue.popleft() for _ in range(size)]
            self._in_flight = size
            try:
                delivered = await self.deliver(batch)
            except Exception as exc:  # a broken destination must never stop the task
                delivered = False
                self.warnings.warn(type(exc).__name__, f"delivery failed ({exc!r}): {size} events dropped")
            self._in_flight = 0
            if delivered:
                self.sent += size
                if self._failing_since_dropped is not None:
                    lost = self.dropped - self._failing_since_dropped
                    self._failing_since_dropped = None
                    log.warning("event sink %s: delivering again (%d events dropped while it failed)", self.name, lost)
            else:
                if self._failing_since_dropped is None:
                    self._failing_since_dropped = self.dropped
                self.dropped += size


def _json_lines(batch: list[dict[str, Any]]) -> bytes:
    """One JSON object per line (values orjson cannot encode are written as their ``str``)."""
    return b"".join(orjson.dumps(event, default=str, option=_LINE) for event in batch)


class TornWrite(OSError):
    """A write that failed after part of the batch reached the file (a disk filling up)."""


def _append(path: Path, data: bytes) -> None:
    """Append ``data`` to ``path``, in one write call unless the OS takes less.

    The file is reopened for every batch so that a file moved away by log rotation is
    followed by a new one; unbuffered append mode (O_APPEND, one write per batch) keeps the
    batches of several workers writing to one file whole. A failure after some bytes were
    written raises ``TornWrite``: the file then ends in the middle of a line.
    """
    with path.open("ab", buffering=0) as file:
        view = memoryview(data)
        try:
            while view:
                written = file.write(view)
                if not written:  # a blocking file writes something or raises; never spin
                    raise OSError(f"no progress writing {path}")
                view = view[written:]
        except OSError as exc:
            if len(view) < len(data):
                raise TornWrite(exc.errno, exc.strerror or str(exc)) from exc
            raise


def check_writable(sink: str, path: Path) -> None:
    """Create ``path``'s directories and the file itself, or raise a ``ConfigError`` naming ``sink`` and ``path``."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("ab"):
            pass
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ConfigError(f"telemetry.events.sinks: {sink}: cannot write to {path}: {reason}") from None


class JsonlSink(BatchingSink):
    """Appends one JSON line per event to ``path`` (checked writable when built)."""

    def __init__(self, spec: SinkConfig) -> None:
        super().__init__(spec)
        assert spec.path is not None  # SinkConfig requires it for jsonl
        self.path = Path(spec.path).expanduser()
        check_writable(self.name, self.path)
        # The file ends mid-line (a write torn by a full disk): the next batch starts with a
        # newline, so the fragment stays one bad line instead of spoiling the next good one.
        self._torn = False

    async def deliver(self, batch: list[dict[str, Any]]) -> bool:
        """Append the batch in a worker thread; a failed write drops it (and warns)."""
        data = _json_lines(batch)
        if self._torn:
            data = b"\n" + data
        try:
            await asyncio.to_thread(_append, self.path, data)
        except OSError as exc:
            if isinstance(exc, TornWrite):
                self._torn = True
            self.warnings.warn("write", f"cannot append to {self.path}: {exc.strerror or exc}")
            return False
        self._torn = False
        return True


def _write_stdout(data: str) -> None:
    """Write to the current ``sys.stdout`` (looked up now, so a replaced stream is honoured) and flush."""
    stream = sys.stdout
    stream.write(data)
    stream.flush()


class StdoutSink(BatchingSink):
    """Writes one JSON line per event to standard output, flushed after every batch."""

    async def deliver(self, batch: list[dict[str, Any]]) -> bool:
        """Write the batch in a worker thread."""
        await asyncio.to_thread(_write_stdout, _json_lines(batch).decode())
        return True


@dataclass(frozen=True)
class Answer:
    """What one webhook attempt got: an HTTP status (0: no answer at all), Retry-After, a description."""

    status: int
    retry_after_s: float | None
    detail: str

    @property
    def ok(self) -> bool:
        """A 2xx: the batch is delivered."""
        return 200 <= self.status < 300

    @property
    def retryable(self) -> bool:
        """Worth another attempt: no answer, 408, 429 or a 5xx. Any other status will not change by retrying."""
        return self.status == 0 or self.status in (408, 429) or self.status >= 500


def retry_after_seconds(value: str | None) -> float | None:
    """A ``Retry-After`` header given in seconds, or None (absent, or an HTTP date, which is not honoured)."""
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return max(0.0, seconds) if math.isfinite(seconds) else None  # NaN or inf is no delay


class Undelivered(Exception):
    """A webhook attempt that did not deliver; ``retry_after_s`` is what ``infra.retry`` reads as the hint."""

    def __init__(self, answer: Answer) -> None:
        super().__init__(answer.detail)
        self.answer = answer
        self.retry_after_s = answer.retry_after_s


def webhook_retry_policy(backoff_s: float, max_retries: int) -> RetryPolicy:
    """The webhook's retries as an ``infra.retry`` policy.

    Retried: no answer, 408, 429, 5xx. The wait is ``min(Retry-After, 30)`` when the receiver
    sent one in seconds (even if shorter: it says when it is ready), else
    ``min(backoff_s × 2^attempt, 30)``: 0.5, 1, 2, 4 … seconds with the default backoff.
    """
    return RetryPolicy(
        max_retries=max_retries,
        # A configured backoff above the cap waits the cap, as min(backoff · 2^n, cap) does.
        base_delay_s=min(backoff_s, MAX_BACKOFF_S),
        max_delay_s=MAX_BACKOFF_S,
        strategy="exponential",
        jitter=0.0,
        retry_if=lambda exc: isinstance(exc, Undelivered) and exc.answer.retryable,
        max_hint_s=MAX_BACKOFF_S,
        hint_replaces_backoff=True,
    )


def backoff_delay(backoff_s: float, attempt: int, retry_after_s: float | None) -> float:
    """Seconds before retry number ``attempt + 1`` (``attempt`` counts from 0), per ``webhook_retry_policy``."""
    policy = webhook_retry_policy(backoff_s, attempt + 1)
    backoff = policy.backoff(attempt + 1, 0.0, random.Random(0))  # no jitter: the generator is not drawn
    return policy.wait_s(backoff, Undelivered(Answer(503, retry_after_s, "")))


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Refuse redirects: urllib would turn the POST into a GET without the events."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: Message,
        newurl: str,
    ) -> urllib.request.Request | None:
        """Never follow: the 3xx surfaces as an error status (not retried)."""
        return None


class WebhookSink(BatchingSink):
    """POSTs each batch as ``{"schema": "llm_simulator.event/v1", "events": [...]}`` to ``url``.

    Retries (at most ``max_retries``) when there is no answer, or on 408, 429 and 5xx, with
    ``infra.retry`` and ``webhook_retry_policy``; other statuses drop the batch at once
    (warned once per status). Uses the standard library's HTTP client in a worker thread.
    """

    def __init__(self, spec: SinkConfig) -> None:
        super().__init__(spec)
        assert spec.url is not None  # SinkConfig requires it for webhook
        self.url = spec.url
        self._headers = {
            "Content-Type": "application/json",
            "User-Agent": f"llm-simulator/{__version__}",
            **spec.headers,
        }
        self._opener = urllib.request.build_opener(_NoRedirects)
        self._policy = webhook_retry_policy(spec.backoff_s, spec.max_retries)

    async def deliver(self, batch: list[dict[str, Any]]) -> bool:
        """POST the batch, retrying as described; False (and a warning) when it is given up."""
        spec = self.spec
        body = orjson.dumps({"schema": SCHEMA, "events": batch}, default=str)
        # One key per batch, the same on every retry, so a receiver can drop a duplicate
        # delivered by a retry after a timeout.
        headers = {**self._headers, "Idempotency-Key": uuid.uuid4().hex}

        async def attempt() -> None:
            answer = await asyncio.to_thread(self._post, body, headers)
            if not answer.ok:
                raise Undelivered(answer)

        def retrying(number: int, delay_s: float, exc: Exception) -> None:
            # Said early (not only when the retries run out, maybe minutes later), rate-limited.
            self.warnings.warn("retrying", f"{exc}: retrying (at most {spec.max_retries} retries)")

        try:
            await aretry(attempt, self._policy, on_retry=retrying)
        except Undelivered as exc:
            answer = exc.answer
        else:
            return True
        if not answer.retryable:
            self.warnings.once(
                f"status {answer.status}",
                f"{self.name} answered {answer.detail}: batches it refuses so are dropped without retry "
                "(check the url and headers)",
            )
            return False
        self.warnings.warn(
            "gave up",
            f"{answer.detail} after {spec.max_retries + 1} attempt(s): {len(batch)} events dropped",
        )
        return False

    def _post(self, body: bytes, headers: dict[str, str]) -> Answer:
        """One POST (in a worker thread): never raises, every failure becomes an ``Answer``."""
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        try:
            with self._opener.open(request, timeout=self.spec.timeout_s) as response:
                response.read(_ANSWER_READ_LIMIT)
                status: int = response.status
                return Answer(status, None, f"{status}")
        except urllib.error.HTTPError as exc:
            with contextlib.closing(exc):
                retry_after = retry_after_seconds(exc.headers.get("Retry-After") if exc.headers else None)
                return Answer(exc.code, retry_after, f"HTTP {exc.code} {exc.reason}".rstrip())
        except urllib.error.URLError as exc:
            return Answer(0, None, f"no answer ({exc.reason})")
        except (OSError, http.client.HTTPException) as exc:
            return Answer(0, None, f"no answer ({exc!r})")


def check_sinks(config: SimulatorConfig) -> None:
    """Check what validation alone cannot (a jsonl file is writable); raise ``ConfigError`` otherwise.

    For the CLI, before worker processes start: there a failure would be a worker crash.
    """
    for spec in config.telemetry.events.sinks:
        if spec.type == "jsonl" and spec.path:
            check_writable(spec.sink_name, Path(spec.path).expanduser())


def build_sink(spec: SinkConfig, config: SimulatorConfig) -> EventSink:
    """The sink for ``spec`` (not started: the hub starts it inside the running loop).

    The OTLP sink is imported only when configured (it needs the ``otel`` extra).
    """
    if spec.type == "jsonl":
        return JsonlSink(spec)
    if spec.type == "stdout":
        return StdoutSink(spec)
    if spec.type == "webhook":
        return WebhookSink(spec)
    from llm_simulator.telemetry.otlp_events import OtlpLogSink

    sink = OtlpLogSink(spec, config)
    # Every sink is labelled by its configured name, which the config checks for clashes.
    sink.name = spec.sink_name
    return sink
