"""Background jobs' bounds: the event buffer, resuming before the oldest kept event, running jobs."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from llm_simulator.core.errors import ErrorKind, SimulatorError
from llm_simulator.core.http import HttpRequest
from llm_simulator.core.record import RequestRecord
from llm_simulator.engine.timing import TIME_COMPRESSION
from llm_simulator.infra.clock import FakeClock
from llm_simulator.providers.internal import InternalDispatch
from llm_simulator.providers.openai import responses_background as bg
from llm_simulator.providers.openai.responses_background import BackgroundJob, BackgroundJobs
from llm_simulator.providers.openai.responses_render import ResponseHead

REQUEST = HttpRequest("POST", "/v1/responses", {}, {}, b'{"background":true}', "req_1", endpoint="responses")


def _head(n: int = 0) -> ResponseHead:
    return ResponseHead(f"resp_{n}", 0, "gpt-4o", {}, background=True)


def _event(n: int) -> bytes:
    return b'event: x\ndata: {"type":"x","sequence_number":%d}\n\n' % n


def test_the_event_buffer_is_bounded_and_old_events_cannot_be_resumed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bg, "MAX_EVENTS", 3)
    job = BackgroundJob(_head())
    job.append(b"".join(_event(i) for i in range(5)))
    assert job.first == 2 and len(job.events) == 3 and job.next_sequence == 5
    job.check_resumable(1)
    with pytest.raises(SimulatorError) as raised:
        job.check_resumable(0)
    assert raised.value.param == "starting_after"


async def test_followers_get_kept_events_then_live_ones_until_the_end() -> None:
    job = BackgroundJob(_head())
    job.append(_event(0) + _event(1))

    async def read() -> list[bytes]:
        return [chunk async for chunk in job.follow(0)]

    reader = asyncio.ensure_future(read())
    await asyncio.sleep(0)
    job.append(_event(2))
    await asyncio.sleep(0)
    job.end("completed", b"{}")
    assert b"".join(await reader) == _event(1) + _event(2)


def test_a_failed_job_carries_an_error_the_sdk_knows() -> None:
    job = BackgroundJob(_head())
    body = orjson.loads(job.failed(SimulatorError(ErrorKind.RATE_LIMIT, "slow down")))
    assert body["status"] == "failed" and body["error"] == {"code": "rate_limit_exceeded", "message": "slow down"}
    other = orjson.loads(job.failed(SimulatorError(ErrorKind.SERVER_ERROR, "boom")))
    assert other["error"]["code"] == "server_error" and other["background"] is True


async def test_running_jobs_are_bounded_and_finished_ones_retired(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bg, "MAX_RUNNING", 1)
    monkeypatch.setattr(bg, "MAX_FINISHED", 1)
    jobs = BackgroundJobs()
    gate = asyncio.Event()

    async def run(job: BackgroundJob, request: HttpRequest) -> tuple[int, bool]:
        await gate.wait()
        job.end("completed", b"{}")
        return 200, False

    first = BackgroundJob(_head(1))
    jobs.start(first, REQUEST, run)
    with pytest.raises(SimulatorError) as raised:
        jobs.start(BackgroundJob(_head(2)), REQUEST, run)
    assert raised.value.kind is ErrorKind.RATE_LIMIT
    gate.set()
    assert first.task is not None
    await first.task
    assert len(jobs) == 0 and jobs.get("resp_1") is first
    second = BackgroundJob(_head(3))
    jobs.start(second, REQUEST, run)
    assert second.task is not None
    await second.task
    assert jobs.get("resp_1") is None and jobs.get("resp_3") is second


class _Reporter:
    """Collects what a background job reports, as the server's telemetry would get it."""

    def __init__(self) -> None:
        self.begun: list[RequestRecord] = []
        self.ended: list[tuple[RequestRecord, float]] = []

    def begin(self, rec: RequestRecord, headers: object, query: object) -> None:
        self.begun.append(rec)

    def conclude(self, rec: RequestRecord, duration_s: float, query: object, headers: object, body: bytes) -> None:
        self.ended.append((rec, duration_s))


async def test_each_job_reports_a_record_of_its_own_on_its_clock() -> None:
    clock = FakeClock()
    dispatch = InternalDispatch()
    reporter = _Reporter()
    dispatch.bind(lambda *_: None, reporter)  # type: ignore[arg-type]
    jobs = BackgroundJobs(clock, dispatch, time_scale=0.25)
    seen: list[tuple[float, RequestRecord | None]] = []
    gate = asyncio.Event()

    async def run(job: BackgroundJob, request: HttpRequest) -> tuple[int, bool]:
        seen.append((TIME_COMPRESSION.get(), request.exchange.record))
        assert request.exchange.on_done is None and request.exchange.extra_headers is None
        clock.advance_to(clock.now() + 2.0)
        if job.head.id == "resp_2":
            await gate.wait()  # cancelled while waiting
        return 429, False

    done = BackgroundJob(_head(1))
    jobs.start(done, REQUEST, run)
    assert done.task is not None
    await done.task
    [(record, duration)] = reporter.ended
    assert seen == [(0.25, record)] and reporter.begun == [record]
    assert (record.request_id, record.provider, record.endpoint, record.status) == (
        "req_1:background",
        "openai",
        "responses",
        429,
    )
    assert record.error_type == "http_error" and duration == 2.0

    cancelled = BackgroundJob(_head(2))
    jobs.start(cancelled, REQUEST, run)
    assert cancelled.task is not None
    await asyncio.sleep(0)
    cancelled.task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled.task
    record = reporter.ended[-1][0]
    assert (record.status, record.error_type, record.broken) == (499, "cancelled", False)
    assert TIME_COMPRESSION.get() == 1.0
