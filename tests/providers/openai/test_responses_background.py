"""Background jobs' bounds: the event buffer, resuming before the oldest kept event, running jobs."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from llm_simulator.core.errors import ErrorKind, SimulatorError
from llm_simulator.providers.openai import responses_background as bg
from llm_simulator.providers.openai.responses_background import BackgroundJob, BackgroundJobs
from llm_simulator.providers.openai.responses_render import ResponseHead


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

    async def run(job: BackgroundJob) -> None:
        await gate.wait()
        job.end("completed", b"{}")

    first = BackgroundJob(_head(1))
    jobs.start(first, run)
    with pytest.raises(SimulatorError) as raised:
        jobs.start(BackgroundJob(_head(2)), run)
    assert raised.value.kind is ErrorKind.RATE_LIMIT
    gate.set()
    assert first.task is not None
    await first.task
    assert len(jobs) == 0 and jobs.get("resp_1") is first
    second = BackgroundJob(_head(3))
    jobs.start(second, run)
    assert second.task is not None
    await second.task
    assert jobs.get("resp_1") is None and jobs.get("resp_3") is second
