"""What every provider's batch jobs share: the phase clock and running lines as internal requests.

A batch's lines are sent through the app itself (``InternalDispatch``), at most
``batches.concurrency`` at a time, so each answer is what a live request would have got:
chaos, fixtures, seeding and rate limits apply to it as to any request, and its latency
follows the latency model. ``batches.time_scale`` is the batch's clock: the waits between
phases (``batches.validating_s``, ``finalizing_s``), every line's latency (compressed by the
timing layer: the model's token schedule, each wait scaled; at 1.0 an engine-served model's
lines enter its load-aware engine like live requests) and the completion window
(``batches.completion_window_s``) are all multiplied by it.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from llm_simulator.config.schema import BatchesConfig
from llm_simulator.providers.internal import InternalDispatch, InternalResponse

B = TypeVar("B")


def make_room(
    batches: dict[str, B], limit: int, finished: Callable[[B], bool], refusal: Callable[[], Exception]
) -> None:
    """Keep a provider's batches within ``limit``: forget the oldest finished one, or raise ``refusal()``.

    ``batches`` is in creation order (a dict keeps it), so the first finished batch found is
    the oldest one; while every batch is still running, a new one is refused.
    """
    if len(batches) < limit:
        return
    for batch_id, batch in batches.items():
        if finished(batch):
            del batches[batch_id]
            return
    raise refusal()


# Request headers a batch line does not inherit from the request that created the batch.
_NOT_FORWARDED = frozenset(
    {
        "host",
        "content-length",
        "content-type",
        "connection",
        "transfer-encoding",
        "accept-encoding",
        "expect",
        "x-request-id",
        "idempotency-key",
    }
)


def forwarded_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The creating request's headers each line is sent with (credentials, sessions, seeds)."""
    kept = {k: v for k, v in headers.items() if k not in _NOT_FORWARDED and not k.startswith("x-stainless-")}
    kept["content-type"] = "application/json"
    return kept


@dataclass(frozen=True, slots=True)
class LineRequest:
    """One line to answer: its index in the batch, where it goes and its JSON body."""

    index: int
    path: str
    body: bytes


class BatchRunner:
    """Runs batch jobs as background tasks of the worker that accepted them."""

    def __init__(self, dispatch: InternalDispatch, config: BatchesConfig) -> None:
        self.dispatch = dispatch
        self.config = config
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def window_s(self) -> float | None:
        """Seconds a batch has, from its creation, before its unfinished work expires.

        ``batches.completion_window_s × batches.time_scale``; None (never) at time scale 0,
        where the work is instant and a zero window would expire every batch at once.
        """
        window = self.config.completion_window_s * self.config.time_scale
        return window if window > 0 else None

    def expires_at(self, created_at: float) -> float:
        """The wall time a batch created at ``created_at`` expires (the unscaled window if it never does)."""
        window = self.window_s
        return created_at + (self.config.completion_window_s if window is None else window)

    def window(self) -> asyncio.Timeout:
        """The batch's completion window as a timeout (call when the job starts, at its creation)."""
        return asyncio.timeout(self.window_s)

    async def phase(self, seconds: float) -> None:
        """Wait out one phase (``seconds`` scaled by ``batches.time_scale``)."""
        delay = seconds * self.config.time_scale
        if delay > 0:
            await asyncio.sleep(delay)

    def start(self, job: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run ``job`` in the background, outside the creating request's context."""
        task = asyncio.get_running_loop().create_task(job, context=contextvars.Context())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def run_lines(
        self,
        lines: Sequence[LineRequest],
        headers: Mapping[str, str],
        done: Callable[[LineRequest, InternalResponse], None],
    ) -> None:
        """Send every line, ``batches.concurrency`` at a time; ``done`` gets each answer as it comes."""
        gate = asyncio.Semaphore(self.config.concurrency)

        async def one(line: LineRequest) -> None:
            async with gate:
                try:
                    answer = await self.dispatch.call(
                        "POST", line.path, headers, line.body, time_scale=self.config.time_scale
                    )
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # a bug in the internal path: the line fails, not the batch
                    body = b'{"error":{"message":"internal error: %s","type":"server_error","param":null,"code":null}}'
                    answer = InternalResponse(500, {}, body % type(exc).__name__.encode())
                done(line, answer)

        await asyncio.gather(*(one(line) for line in lines))
