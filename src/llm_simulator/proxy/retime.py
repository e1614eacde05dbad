"""When a replayed answer's parts are sent: as recorded (scaled), or re-timed by the latency model.

``proxy.replay_timing: recorded`` sends the headers, each chunk and a whole body at their
recorded offsets from the request's arrival, times ``proxy.replay_time_scale`` (and times a
chaos ``latency_multiplier``, as on a forwarded stream).

``proxy.replay_timing: model`` forgets the recorded times and lets the simulator pace the
answer as if it had generated it: the model's latency profile (TTFT from the prompt's size,
ITL per token, a chaos multiplier applied), or, when the model is served by a load-aware
engine (``engine.deployments``), that engine's step loop, so a replay under load slows down
like a simulated answer. A recorded stream is cut into its events (SSE frames, ``wire/recorded.py``); each
event that carries generated text or tool arguments is one token's step, the events around it are
sent with it (the opening ones at TTFT, the closing ones with the last token). A whole
answer waits for the end of as many steps as its usage's output tokens.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol

from llm_simulator.core.faults import Admission
from llm_simulator.engine.catalogue import ModelSpec
from llm_simulator.engine.simulator import Simulator
from llm_simulator.engine.timing import Timeline
from llm_simulator.proxy.pacing import wait_until
from llm_simulator.wire.recorded import carries_output, part_bytes, reported_tokens, split_events


def token_steps(events: list[bytes]) -> list[int]:
    """The step of each event: every output event after the first starts a new step."""
    steps: list[int] = []
    step = -1
    for event in events:
        if carries_output(event):
            step += 1
        steps.append(max(step, 0))
    return steps


def output_tokens(body: bytes) -> int:
    """The output tokens a whole answer's usage reports (1 when it reports none)."""
    reported = reported_tokens(body)[1]
    return 1 if reported is None else reported


class Pace(Protocol):
    """When a replayed answer's headers, events or body go out."""

    async def headers(self) -> None:
        """Wait until the response may start."""
        ...

    def events(self, chunks: list[dict[str, Any]], rewrite: Callable[[bytes], bytes]) -> AsyncIterator[bytes]:
        """The recorded stream's bytes, each piece when it is due."""
        ...

    async def body(self, body: bytes, recorded_ms: float) -> None:
        """Wait until a whole answer is due."""
        ...


class RecordedPace:
    """Every part at its recorded offset × ``scale`` from ``started`` (seconds on ``sim.clock``)."""

    def __init__(self, sim: Simulator, started: float, scale: float, headers_ms: float) -> None:
        self._sim = sim
        self._started = started
        self._scale = scale
        self._headers_ms = headers_ms

    async def _at(self, offset_ms: float) -> None:
        await wait_until(self._sim, self._started + offset_ms * self._scale / 1000.0)

    async def headers(self) -> None:
        """Wait for the recorded start of the response."""
        await self._at(self._headers_ms)

    async def events(self, chunks: list[dict[str, Any]], rewrite: Callable[[bytes], bytes]) -> AsyncIterator[bytes]:
        """Each recorded chunk (as it came off the upstream's socket) at its recorded offset."""
        for chunk in chunks:
            await self._at(float(chunk.get("ms", 0.0)))
            yield rewrite(part_bytes(chunk))

    async def body(self, body: bytes, recorded_ms: float) -> None:
        """Wait for the recorded arrival of the whole answer."""
        await self._at(recorded_ms)


class ModelPace:
    """Parts released by a timeline of the model's: its latency profile, or its load-aware engine."""

    def __init__(self, sim: Simulator, spec: ModelSpec, prompt_tokens: int, admission: Admission | None) -> None:
        self._sim = sim
        self._spec = spec
        self._prompt_tokens = prompt_tokens
        self._admission = admission

    def _timeline(self, steps: int) -> Timeline:
        """A timeline for ``steps`` tokens; the engine's refusal (its overload error) is raised here."""
        sim = self._sim
        engine = sim.engine_for(self._spec)
        if engine is not None:
            return engine.open(self._prompt_tokens, steps, 1, ())
        seed = sim.request_seed(None)
        return sim.open_timeline(self._spec, self._prompt_tokens, seed, admission=self._admission)

    async def headers(self) -> None:
        """The response starts at once (a simulated stream's headers do too)."""

    def events(self, chunks: list[dict[str, Any]], rewrite: Callable[[bytes], bytes]) -> AsyncIterator[bytes]:
        """The recorded events, grouped by token step, each group when its step is due.

        The timeline opens now, so an engine that refuses the request does so before the
        response starts (the provider's overload error, not a broken stream).
        """
        # Cut the whole stream, not each chunk: an event the upstream's socket split stays whole.
        events = split_events(b"".join(part_bytes(chunk) for chunk in chunks))
        steps = token_steps(events)
        timeline = self._timeline(steps[-1] + 1 if steps else 1)
        return self._release(events, steps, timeline, rewrite)

    @staticmethod
    async def _release(
        events: list[bytes], steps: list[int], timeline: Timeline, rewrite: Callable[[bytes], bytes]
    ) -> AsyncIterator[bytes]:
        try:
            reached = -1
            for event, step in zip(events, steps, strict=True):
                if step > reached:
                    await timeline.wait_step(step)
                    reached = step
                yield rewrite(event)
        finally:
            timeline.close()

    async def body(self, body: bytes, recorded_ms: float) -> None:
        """Wait for the end of as many steps as the answer's output tokens."""
        steps = output_tokens(body)
        timeline = self._timeline(steps)
        try:
            await timeline.wait_end(steps)
        finally:
            timeline.close()
