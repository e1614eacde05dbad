"""The engine's side of a plain stream's fast path (``core.plain``): one pacer per stream.

``pacer_for`` gives one to a stream of one choice of plain text (no reasoning or tool
calls) with no chaos fault, paced by a sampled timeline or by a load-aware engine; every
other stream takes ``Simulator.stream``. A pacer does for its stream what
``Simulator.stream`` does — the in-flight gauges, the request record's plan notes and
token times, the emit error of a sampled release, the admission's settlement, closing the
timeline — but the server's stream loop calls it directly, once per token, instead of
resuming two async generators (``Simulator.stream`` and the provider's frames) per token.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from llm_simulator.core.plain import Releasable
from llm_simulator.core.record import RequestRecord
from llm_simulator.core.types import GenerationPlan
from llm_simulator.engine.load.live import EngineTimeline
from llm_simulator.engine.timing import SampledTimeline, Timeline

if TYPE_CHECKING:
    from llm_simulator.engine.simulator import Simulator


def note_plan(record: RequestRecord, plan: GenerationPlan) -> None:
    """Tell the request's telemetry record what the response holds.

    From the final plan: a legacy completion with several prompts plans each one, then
    answers with all of them at once.
    """
    record.choices = plan.choices
    record.prompt_tokens = plan.request.prompt_tokens
    record.completion_tokens = plan.completion_tokens
    if plan.choices:
        record.finish_reason = plan.choices[0].finish_reason  # a StrEnum: no str() call needed


def pacer_for(sim: Simulator, plan: GenerationPlan, timeline: Timeline) -> EnginePacer | SampledPacer | None:
    """A pacer for ``plan``'s stream when it is plain (see the module docstring), else None."""
    choices = plan.choices
    if len(choices) != 1 or not plan.steps or choices[0].segments:
        return None
    admission = plan.request.admission
    if admission is not None and admission.fault is not None:
        return None
    # Exact types: a delayed timeline (a scripted delay) keeps the general path.
    if type(timeline) is EngineTimeline:
        return EnginePacer(sim, plan, timeline, timeline.park, timeline.park_into)
    if type(timeline) is SampledTimeline:
        return SampledPacer(sim, plan, timeline)
    return None


class EnginePacer:
    """Paces a plain stream by a load-aware engine: a token is due once its step has released it.

    The request record learns the first token's time at once (its TTFT, the live first-token
    event) and the later ones' when the stream ends, in one call: nothing reads a record's
    gaps before the request is finished.
    """

    __slots__ = (
        "_later",
        "_now",
        "_plan",
        "_record",
        "_sim",
        "_started",
        "_timeline",
        "_waiting",
        "drive",
        "tokens",
        "wait",
    )

    # An engine's stream writes the frames its engine released together in one write (the
    # general path's ``StreamResponse.ahead``); a sampled stream writes each frame alone.
    gathers = True

    def __init__(
        self,
        sim: Simulator,
        plan: GenerationPlan,
        timeline: Timeline,
        wait: Callable[[int], Awaitable[None] | None],
        drive: Callable[[int, Releasable], bool],
    ) -> None:
        self._sim = sim
        self._plan = plan
        self._timeline = timeline
        self._record = plan.record
        self._now = sim.clock.now
        self.tokens = plan.choices[0].tokens
        self.wait = wait
        # Parks the stream's own writer, released by the engine's step or the scheduler.
        self.drive = drive
        self._started = False
        # Before the first token: counted in the waiting gauge (then in the running one).
        self._waiting = False
        # Release times of the tokens after the first, for the record.
        self._later: list[float] = []

    def start(self) -> None:
        """Count the stream as waiting for its first token; the record learns the plan."""
        record = self._record
        if record is not None:
            record.stream = True
            note_plan(record, self._plan)
        self._sim.waiting += 1
        self._started = self._waiting = True

    def released(self) -> None:
        """The token just waited for is out: note its release time."""
        if self._waiting:
            self._first(self._now())
        else:
            self._later.append(self._now())

    def _first(self, now: float) -> None:
        """The first token: the stream moves to the running gauge; the record notes its TTFT."""
        self._waiting = False
        sim = self._sim
        sim.waiting -= 1
        sim.running += 1
        if self._record is not None:
            self._record.token_released(now)

    def close(self) -> None:
        """Leave the gauges, hand the record its gaps, close the timeline, settle the admission.

        Closing the timeline frees an engine's sequence if it still runs (the client left).
        The tokens released are the first (once the stream is no longer waiting) and the later ones.
        """
        reached = 0 if self._waiting or not self._started else 1 + len(self._later)
        if self._started:
            self._started = False
            if self._waiting:
                self._sim.waiting -= 1
            else:
                self._sim.running -= 1
        if self._record is not None and self._later:
            self._record.tokens_released(self._later)
            self._later = []
        self._timeline.close()
        admission = self._plan.request.admission
        if admission is not None and admission.on_finish is not None:
            admission.on_finish(min(len(self.tokens), reached))


class SampledPacer(EnginePacer):
    """Paces a plain stream by its sampled timeline, and measures each release's emit error.

    As ``SampledTimeline.wait_step`` does: the wake-up's lateness after a wait (none for a
    token already due). The errors go to the observer when the stream ends, in one call.
    """

    __slots__ = ("_late", "_observer", "_sampled")

    gathers = False

    def __init__(
        self,
        sim: Simulator,
        plan: GenerationPlan,
        timeline: SampledTimeline,
    ) -> None:
        super().__init__(sim, plan, timeline, timeline.park, timeline.park_into)
        self._sampled = timeline
        self._observer = timeline.observer
        self._late: list[float] = []

    def released(self) -> None:
        """As ``EnginePacer.released``, and the release's lateness if the stream waited for it."""
        now = self._now()
        due = self._sampled.parked_due
        if due is not None:
            self._late.append(now - due)
        if self._waiting:
            self._first(now)
        else:
            self._later.append(now)

    def close(self) -> None:
        """As ``EnginePacer.close``, and the stream's emit errors to the observer."""
        if self._late:
            self._observer.record_emit_errors(self._late)
            self._late = []
        super().close()
