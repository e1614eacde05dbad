"""The server's plain-stream path (``server.plain_stream``): same bytes, same bookkeeping, same ends.

A plain stream (one choice of text, no fault) is written by ``send_plain`` from the pacer
and the provider's encoder, without the frames generator. Through the whole ASGI app, for
each provider's streaming route, paced by the sampled model and by an engine, the body
is the one the generator path writes (ids and timestamps aside), the request's telemetry
is the same, a wrapper that replaces the frames still sees them all, and an engine error
or a client that leaves ends the stream as on the general path.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import AsyncIterator, Awaitable, Generator, MutableMapping
from pathlib import Path
from typing import Any

import orjson
import pytest

from llm_simulator.config import load_config
from llm_simulator.core.http import StreamResponse
from llm_simulator.core.plain import PlainTokens, Releasable
from llm_simulator.core.types import GenerationPlan
from llm_simulator.engine.simulator import Simulator
from llm_simulator.engine.timing import Timeline
from llm_simulator.providers.openai.chat import ChatAnswer
from llm_simulator.server.app import SimulatorApp
from llm_simulator.server.coalesce import MAX_FRAMES
from llm_simulator.server.connection import StreamWatch
from llm_simulator.server.plain_stream import send_plain
from llm_simulator.server.wire import StreamWire
from tests.server.asgi_driver import call

MODEL = "gpt-4.1"
SAMPLED = """\
seed: 7
latency:
  default_profile: quick
  profiles:
    quick:
      ttft: {type: fixed, value_ms: 2}
      itl: {type: fixed, value_ms: 1}
"""
ENGINE = """\
seed: 7
engine:
  deployments:
    quick:
      models: [gpt-4.1]
      kv_blocks: 100000
      prefix_caching: false
      max_num_seqs: {seats}
      queue_timeout_ms: {timeout}
      step: {{step_ms: 1, weights_ms: 0, prefill_ms_per_token: 0, kv_ms_per_token: 0, seq_ms: 0,
             overlap: 0, jitter_sigma: 0, front_ms: 0}}
"""
REQUESTS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "openai": (
        "/v1/chat/completions",
        "",
        {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "stream": True, "max_tokens": 12},
    ),
    "anthropic": (
        "/v1/messages",
        "",
        {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "stream": True, "max_tokens": 12},
    ),
    "gemini": (
        f"/v1beta/models/{MODEL}:streamGenerateContent",
        "alt=sse",
        {"contents": [{"role": "user", "parts": [{"text": "hi"}]}], "generationConfig": {"maxOutputTokens": 12}},
    ),
}
# Per-response values that differ between two runs of the same seeded request.
VOLATILE = re.compile(rb'("id":"[^"]*"|"created":\d+|"responseId":"[^"]*")')


def make_app(tmp_path: Path, text: str) -> SimulatorApp:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return SimulatorApp(load_config(path))


async def stream(app: SimulatorApp, provider: str, headers: dict[str, str] | None = None) -> tuple[int, list[bytes]]:
    path, query, body = REQUESTS[provider]
    captured = await call(app, "POST", path, orjson.dumps(body), query=query, headers=headers)
    return captured.status, [chunk for chunk in captured.chunks if chunk]


def without_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Simulator, "pacer", lambda self, plan, timeline: None)


@pytest.fixture
def plain_streams(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the streams the server sends by the plain path."""
    sent: list[int] = []

    async def counting(wire: StreamWire, plain: PlainTokens) -> None:
        sent.append(len(plain.pacer.tokens))
        await send_plain(wire, plain)

    monkeypatch.setattr("llm_simulator.server.streaming.send_plain", counting)
    return sent


@pytest.mark.parametrize("provider", sorted(REQUESTS))
@pytest.mark.parametrize("timing", ["sampled", "engine"])
async def test_a_plain_stream_writes_the_generator_paths_bytes_and_telemetry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, plain_streams: list[int], provider: str, timing: str
) -> None:
    config = SAMPLED if timing == "sampled" else ENGINE.format(seats=256, timeout=0)
    fast_app = make_app(tmp_path, config)
    status, fast = await stream(fast_app, provider)
    assert status == 200 and plain_streams == [12]
    without_fast_path(monkeypatch)
    slow_app = make_app(tmp_path, config)
    _, slow = await stream(slow_app, provider)
    assert plain_streams == [12]  # the second run took the generator path
    assert VOLATILE.sub(b"", b"".join(fast)) == VOLATILE.sub(b"", b"".join(slow))
    for app in (fast_app, slow_app):
        assert (app.sim.running, app.sim.waiting) == (0, 0)
    fast_totals, slow_totals = (next(iter(app.stats.models.values())) for app in (fast_app, slow_app))
    assert fast_totals.chunks == slow_totals.chunks > 0  # the same frames counted as chunks
    assert fast_totals.output_tokens == slow_totals.output_tokens == 12
    assert fast_totals.itl.count == slow_totals.itl.count == 11  # a first token, then 11 gaps
    assert fast_totals.ttft.count == 1


@pytest.mark.parametrize(
    ("timing", "writes_of"),
    [
        # As the general path writes a sampled stream: the opening (the role chunk with the
        # first token) in one write, then every frame alone (11 tokens, finish, [DONE]), so a
        # relay sees one event per chunk.
        ("sampled", [2] + [1] * 13),
        # As it writes an engine's: the role chunk with the first token, tokens 2-11 one write
        # each, the last token with the finish chunk and [DONE] (the sequence has ended).
        ("engine", [2] + [1] * 10 + [3]),
    ],
)
async def test_a_plain_stream_on_time_writes_as_the_general_path_does(
    tmp_path: Path, plain_streams: list[int], timing: str, writes_of: list[int]
) -> None:
    app = make_app(tmp_path, SAMPLED if timing == "sampled" else ENGINE.format(seats=256, timeout=0))
    _, writes = await stream(app, "openai")
    assert plain_streams == [12]
    assert [w.count(b"\n\n") for w in writes] == writes_of
    assert app.stats.emit_error.late.count + app.stats.emit_error.early.count >= 1  # the stream's releases


async def test_a_wrapper_that_replaces_the_frames_gets_every_frame(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, plain_streams: list[int]
) -> None:
    seen: list[bytes] = []
    original = ChatAnswer.stream

    async def tee(frames: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        async for frame in frames:
            seen.append(frame)
            yield frame

    def wrapped(self: ChatAnswer, plan: GenerationPlan, timeline: Timeline) -> StreamResponse:
        response = original(self, plan, timeline)
        assert response.plain is not None  # a plain stream, whose frames the wrapper replaces
        return dataclasses.replace(response, frames=tee(response.frames))

    monkeypatch.setattr(ChatAnswer, "stream", wrapped)
    app = make_app(tmp_path, SAMPLED)
    _, writes = await stream(app, "openai")
    assert b"".join(seen) == b"".join(writes) and len(seen) == 15  # role, 12 tokens, finish, [DONE]
    assert plain_streams == []


async def test_an_engine_error_ends_a_plain_stream_with_the_providers_error_event(
    tmp_path: Path, plain_streams: list[int]
) -> None:
    # One seat and a 30 ms queue limit: the second stream's wait expires before its first token.
    app = make_app(tmp_path, ENGINE.format(seats=1, timeout=30))
    path, _, body = REQUESTS["anthropic"]
    long_body = orjson.dumps({**body, "max_tokens": 200})
    first = asyncio.ensure_future(call(app, "POST", path, long_body))
    await asyncio.sleep(0.005)
    second = await call(app, "POST", path, orjson.dumps(body))
    assert second.status == 200
    assert b"event: error" in second.body and b"overloaded_error" in second.body
    assert b"text_delta" not in second.body  # it never got a token
    await first
    assert len(plain_streams) == 2  # both streams took the plain path
    assert (app.sim.running, app.sim.waiting) == (0, 0)


async def test_a_client_leaving_a_plain_engine_stream_frees_its_sequence(
    tmp_path: Path, plain_streams: list[int]
) -> None:
    app = make_app(tmp_path, ENGINE.format(seats=256, timeout=0))
    path, _, body = REQUESTS["openai"]
    gone = asyncio.Event()
    task = asyncio.ensure_future(
        call(app, "POST", path, orjson.dumps({**body, "max_tokens": 500, "ignore_eos": True}), disconnect=gone)
    )
    await asyncio.sleep(0.05)
    assert app.sim.running == 1
    gone.set()
    await task
    assert (app.sim.running, app.sim.waiting) == (0, 0)
    replica = next(iter(app.sim.engines.values())).replicas[0]
    assert not replica.running and replica.kv.usage() == 0.0
    assert plain_streams == [500]


class ScriptedPacer:
    """A sampled stream's pacer whose tokens are due (``wait`` returns None) or parked by script.

    ``behind`` lists the steps already due when asked (the stream is a whole ITL late); every
    other step parks on a future the test resolves. No clock: the order of events is the test.
    Past the opening the stream's writer parks itself (``drive``) and a loop callback
    releases it, as the scheduler's release pass would (with ``releases=False``, nothing does:
    the test releases ``entries`` itself).
    """

    gathers = False

    def __init__(self, count: int, behind: set[int], *, releases: bool = True) -> None:
        self.tokens = [f"t{i}" for i in range(count)]
        self.behind = behind
        self.parked: list[asyncio.Future[None]] = []
        self.released_steps = 0
        self.drive = self._drive
        self.releases = releases
        self.entries: list[Releasable] = []
        self.fail_at: int | None = None  # ``drive`` raises at this step (an engine's error)

    def wait(self, step: int) -> asyncio.Future[None] | None:
        if step in self.behind:
            return None
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        fut.set_result(None)  # due by the time the stream looks again
        self.parked.append(fut)
        return fut

    def _drive(self, step: int, entry: Releasable) -> bool:
        if step == self.fail_at:
            raise RuntimeError("the engine failed")
        if step in self.behind:
            return False
        self.entries.append(entry)
        if self.releases:
            asyncio.get_running_loop().call_soon(release_pass, entry)
        return True

    def start(self) -> None:
        pass

    def released(self) -> None:
        self.released_steps += 1

    def close(self) -> None:
        pass


class LetterFrames:
    """One frame per token, ``[text]``; the first adds a role frame, the last a closing one."""

    def first(self, text: str, last: bool) -> list[bytes]:
        return [b"<role>", f"[{text}]".encode()] + ([b"<end>"] if last else [])

    def token(self, text: str) -> bytes:
        return f"[{text}]".encode()

    def last(self, text: str) -> list[bytes]:
        return [f"[{text}]".encode(), b"<end>"]


async def _no_frames() -> AsyncIterator[bytes]:
    yield b""  # never read: the plain path stands for these


def release_pass(entry: Releasable) -> None:
    """What ``Scheduler.release_due`` does with one entry whose time has come."""
    if not entry.done():
        entry.set_result(None)


async def sent_writes(pacer: ScriptedPacer) -> list[bytes]:
    writes: list[bytes] = []

    async def send(message: MutableMapping[str, Any]) -> None:
        writes.append(message["body"])

    await send_plain(StreamWire(send, StreamWatch()), PlainTokens(pacer, LetterFrames(), _no_frames()))
    return writes


@pytest.mark.parametrize(
    ("behind", "expected"),
    [
        # On time: the opening (role, t0) then every frame alone.
        (set(), [b"<role>[t0]", b"[t1]", b"[t2]", b"[t3]", b"[t4]", b"[t5]", b"<end>"]),
        # t3 and t4 were already due when t2 went out: they join t2's write.
        ({3, 4}, [b"<role>[t0]", b"[t1]", b"[t2][t3][t4]", b"[t5]", b"<end>"]),
        # Behind up to the last token: the tokens before it join, the closing stays as on time.
        ({2, 3, 4, 5}, [b"<role>[t0]", b"[t1][t2][t3][t4]", b"[t5]", b"<end>"]),
    ],
)
async def test_a_sampled_stream_a_whole_itl_behind_writes_its_due_tokens_together(
    behind: set[int], expected: list[bytes]
) -> None:
    pacer = ScriptedPacer(6, behind)
    writes = await sent_writes(pacer)
    assert writes == expected
    assert pacer.released_steps == 6  # every token noted once, joined or not


async def test_a_catching_up_sampled_stream_writes_at_most_max_frames_at_once() -> None:
    count = MAX_FRAMES * 2 + 5
    pacer = ScriptedPacer(count, set(range(2, count)))
    writes = await sent_writes(pacer)
    # t1 onwards in writes of MAX_FRAMES, the rest before the last token, then the closing frames.
    assert [w.count(b"[") for w in writes[1:-2]] == [MAX_FRAMES, MAX_FRAMES, count - 2 - 2 * MAX_FRAMES]
    assert b"".join(writes) == b"<role>" + b"".join(f"[t{i}]".encode() for i in range(count)) + b"<end>"


class EmptyAwaitable:
    """What granian's ``send`` returns for a write it took at once: awaiting it does not suspend."""

    def __await__(self) -> Generator[Any, None, None]:
        return iter(())  # type: ignore[return-value]


class HeldWrite:
    """What granian's ``send`` returns for a write that must wait: an iterator with only ``__next__``."""

    def __init__(self, gate: asyncio.Future[None]) -> None:
        self.gate = gate

    def __await__(self) -> Generator[Any, None, None]:
        return self  # type: ignore[return-value]

    def __iter__(self) -> HeldWrite:
        return self

    def __next__(self) -> asyncio.Future[None]:
        if self.gate.done():
            raise StopIteration
        self.gate._asyncio_future_blocking = True
        return self.gate


async def test_a_write_that_must_wait_is_finished_by_the_task_and_the_next_token_waits_for_it() -> None:
    pacer = ScriptedPacer(6, set(), releases=False)  # the test is the release pass
    gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    writes: list[bytes] = []

    def send(message: MutableMapping[str, Any]) -> Awaitable[None]:
        writes.append(message["body"])
        return HeldWrite(gate) if message["body"] == b"[t2]" else EmptyAwaitable()

    async def settle() -> None:
        for _ in range(10):
            await asyncio.sleep(0)

    watch = StreamWatch()
    wire = StreamWire(send, watch)
    stream = asyncio.ensure_future(send_plain(wire, PlainTokens(pacer, LetterFrames(), _no_frames())))
    await settle()
    assert writes == [b"<role>[t0]", b"[t1]"] and len(pacer.entries) == 1  # parked for t2
    release_pass(pacer.entries[-1])  # t2 is due: its write must wait
    await settle()  # the task has taken the held write over
    assert (writes[-1], watch.sending) == (b"[t2]", True)  # the stalled-reader sweep sees the held write
    sent = watch.sent
    release_pass(pacer.entries[-1])  # t3 is due while t2's write is held: it waits for it
    await settle()
    assert writes[-1] == b"[t2]"
    gate.set_result(None)
    await settle()
    assert (writes[-1], watch.sending, watch.sent) == (b"[t3]", False, sent + 2)
    while not stream.done():
        release_pass(pacer.entries[-1])
        await settle()
    await stream
    assert writes == [b"<role>[t0]", b"[t1]", b"[t2]", b"[t3]", b"[t4]", b"[t5]", b"<end>"]
    assert pacer.released_steps == 6


async def test_an_error_in_the_release_pass_is_raised_in_the_stream_task() -> None:
    pacer = ScriptedPacer(6, set())

    def send(message: MutableMapping[str, Any]) -> Awaitable[None]:
        if message["body"] == b"[t3]":
            raise OSError("the client is gone")
        return EmptyAwaitable()

    with pytest.raises(OSError, match="the client is gone"):
        await send_plain(StreamWire(send, StreamWatch()), PlainTokens(pacer, LetterFrames(), _no_frames()))
    assert pacer.released_steps == 4  # t0..t3: the failed write's token was released


async def parked_stream(pacer: ScriptedPacer) -> tuple[asyncio.Future[None], list[bytes]]:
    """Start ``pacer``'s stream (writes taken at once) and let it run until its writer is parked."""
    writes: list[bytes] = []

    def send(message: MutableMapping[str, Any]) -> Awaitable[None]:
        writes.append(message["body"])
        return EmptyAwaitable()

    stream = asyncio.ensure_future(
        send_plain(StreamWire(send, StreamWatch()), PlainTokens(pacer, LetterFrames(), _no_frames()))
    )
    for _ in range(10):
        await asyncio.sleep(0)
    return stream, writes


async def test_a_cancelled_stream_leaves_its_parked_writer_done() -> None:
    pacer = ScriptedPacer(6, set(), releases=False)
    stream, writes = await parked_stream(pacer)
    writer = pacer.entries[-1]  # parked for t2, never released
    assert not writer.done()
    stream.cancel()
    with pytest.raises(asyncio.CancelledError):
        await stream
    assert writer.done()  # the scheduler drops it
    before = list(writes)
    writer.set_result(None)  # even a release that reaches it writes nothing
    assert writes == before


class EngineScriptedPacer(ScriptedPacer):
    """As ``ScriptedPacer``, for an engine's stream: frames that come without a wait share a write."""

    gathers = True


@pytest.mark.parametrize(
    ("behind", "expected"),
    [
        # Each write holds the frames that came without a wait; the last ends with the closing.
        (set(), [b"<role>[t0]", b"[t1]", b"[t2]", b"[t3]", b"[t4]", b"[t5]<end>"]),
        ({3, 4}, [b"<role>[t0]", b"[t1]", b"[t2][t3][t4]", b"[t5]<end>"]),
        ({2, 3, 4, 5}, [b"<role>[t0]", b"[t1][t2][t3][t4][t5]<end>"]),
        ({1, 2}, [b"<role>[t0][t1][t2]", b"[t3]", b"[t4]", b"[t5]<end>"]),
        ({5}, [b"<role>[t0]", b"[t1]", b"[t2]", b"[t3]", b"[t4][t5]<end>"]),
    ],
    ids=str,
)
async def test_an_engine_stream_writes_the_frames_that_come_without_a_wait_together(
    behind: set[int], expected: list[bytes]
) -> None:
    # The writes the engine's task loop made before the release-pass writer (s31), unchanged.
    pacer = EngineScriptedPacer(6, behind)
    assert await sent_writes(pacer) == expected
    assert pacer.released_steps == 6


async def test_an_engine_stream_behind_up_to_its_last_token_ends_the_body_in_one_write() -> None:
    pacer = EngineScriptedPacer(6, {2, 3, 4, 5})
    # t1 was waited for; t2 to t5 came without a wait: with it, and the closing, in one write.
    assert await sent_writes(pacer) == [b"<role>[t0]", b"[t1][t2][t3][t4][t5]<end>"]


async def test_an_engine_error_while_gathering_writes_the_frames_before_it_then_raises() -> None:
    pacer = EngineScriptedPacer(6, {2})
    pacer.fail_at = 3
    writes: list[bytes] = []

    def send(message: MutableMapping[str, Any]) -> Awaitable[None]:
        writes.append(message["body"])
        return EmptyAwaitable()

    with pytest.raises(RuntimeError, match="the engine failed"):
        await send_plain(StreamWire(send, StreamWatch()), PlainTokens(pacer, LetterFrames(), _no_frames()))
    assert writes == [b"<role>[t0]", b"[t1][t2]"]  # the frames before the error, then the error


async def test_an_engine_failing_a_parked_writer_raises_in_the_stream_task() -> None:
    pacer = EngineScriptedPacer(6, set(), releases=False)
    stream, writes = await parked_stream(pacer)
    writer = pacer.entries[-1]  # parked for t2
    writer.set_exception(RuntimeError("the wait expired"))
    with pytest.raises(RuntimeError, match="the wait expired"):
        await stream
    assert writes == [b"<role>[t0]", b"[t1]"] and writer.done()


_CATCH_UP = MAX_FRAMES + 5
_FIRST_CATCH_UP_WRITE = b"".join(f"[t{i}]".encode() for i in range(2, 2 + MAX_FRAMES))


@pytest.mark.parametrize(
    ("pacer_type", "count", "behind", "held"),
    [
        # t2's write takes t3, the last token already due: no release will come for the writer.
        # (An engine's stream has no such write: it joins those tokens with the closing frames.)
        (ScriptedPacer, 5, {3, 4}, b"[t2][t3]"),
        # A catch-up write of MAX_FRAMES whose next token is due already: nothing is parked either.
        (ScriptedPacer, _CATCH_UP, set(range(3, _CATCH_UP)), _FIRST_CATCH_UP_WRITE),
        (EngineScriptedPacer, _CATCH_UP, set(range(3, _CATCH_UP)), _FIRST_CATCH_UP_WRITE),
    ],
    ids=["last-due", "max-frames", "engine-max-frames"],
)
async def test_a_held_write_of_a_stream_behind_is_followed_by_the_due_tokens(
    pacer_type: type[ScriptedPacer], count: int, behind: set[int], held: bytes
) -> None:
    """A write that must wait while the writer is not parked (its next token is due): the task goes on after it."""
    pacer = pacer_type(count, behind)
    gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    writes: list[bytes] = []

    def send(message: MutableMapping[str, Any]) -> Awaitable[None]:
        writes.append(message["body"])
        return HeldWrite(gate) if message["body"] == held else EmptyAwaitable()

    stream = asyncio.ensure_future(
        send_plain(StreamWire(send, StreamWatch()), PlainTokens(pacer, LetterFrames(), _no_frames()))
    )
    for _ in range(10):
        await asyncio.sleep(0)
    assert writes[-1] == held
    gate.set_result(None)
    await asyncio.wait_for(stream, 1.0)  # before the fix: the task waited for a release that never came
    assert b"".join(writes) == b"<role>" + b"".join(f"[t{i}]".encode() for i in range(count)) + b"<end>"
    assert pacer.released_steps == count
