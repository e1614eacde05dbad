"""Releasing a planned response at its timeline's pace: ``Simulator``'s base class.

``PlanRelease`` holds what happens after a plan and its timeline exist: ``stream`` (tokens
step by step), ``complete`` and ``complete_at_once`` (one wait, or none, for a whole
answer), a fault's strike, the admission's settlement, and the in-flight gauges (``running``,
``waiting``) that every request moves. It needs only the clock and the scheduler, so it
stands apart from the planning and timeline choice in ``engine.simulator``. It is a base
class rather than a collaborator so that a request's call (``sim.stream``, ``sim.complete``)
goes straight to the method, with no forwarding call on the hot path.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from llm_simulator.core.faults import FAULT_ACTIONS, Admission, FaultAction, StreamCut, StreamFault
from llm_simulator.core.types import FinishEvent, GenerationPlan, StreamEvent, TokenEvent
from llm_simulator.engine.load.live import EngineTimeline
from llm_simulator.engine.pacing import note_plan
from llm_simulator.engine.scheduler import Scheduler
from llm_simulator.engine.timing import TIME_COMPRESSION, Timeline
from llm_simulator.infra.clock import Clock


class PlanRelease:
    """Releases planned responses on ``clock`` through ``scheduler``, and counts them in flight."""

    def __init__(self, clock: Clock, scheduler: Scheduler) -> None:
        self.clock = clock
        self.scheduler = scheduler
        # Model requests in flight: producing output (streams past their first visible token,
        # non-streamed responses for their whole life) and streams waiting for their first.
        self.running = 0
        self.waiting = 0

    def queue_counts(self) -> tuple[int, int]:
        """(running, waiting): model requests producing output, and streams before their first token."""
        return self.running, self.waiting

    async def pause(self, seconds: float, *, scripted: bool = False) -> None:
        """Wait ``seconds`` on the shared scheduler (a chaos delay or stall; a scripted delay).

        A ``scripted`` delay (a fixture's) is part of the model's time, so compressed work
        (``TIME_COMPRESSION``) compresses it; chaos delays are outages of the moment and
        are waited out in full.
        """
        if scripted:
            seconds *= TIME_COMPRESSION.get()
        fut = self.scheduler.wait_until(self.clock.now() + seconds)
        if fut is not None:
            await fut

    @staticmethod
    def frames_ahead(timeline: Timeline) -> Callable[[], bool] | None:
        """For a stream paced by ``timeline``: a test of whether its next frames need no wait.

        Only an engine's timeline knows (its tokens exist before any stream takes them, and
        it knows when the sequence has ended); a sampled timeline's tokens become due as the
        stream waits for them, so it is never ahead.
        """
        return timeline.ahead if isinstance(timeline, EngineTimeline) else None

    async def stream(
        self, plan: GenerationPlan, timeline: Timeline, *, hide_reasoning: bool = False
    ) -> AsyncIterator[StreamEvent]:
        """Release the plan's tokens step by step: one token per unfinished choice per step.

        With ``hide_reasoning`` (the provider never shows reasoning tokens), the leading steps
        in which every choice is still reasoning are not released one by one: their time
        passes in a single wait before the first step that matters, instead of one wake-up
        per hidden token.
        """
        choices = plan.choices
        first = 0
        if hide_reasoning and plan.steps:
            # Every choice must still have its last token (and so its finish) ahead of it.
            shortest = min(len(c.tokens) for c in choices)
            first = max(0, min(plan.leading_reasoning_steps(), shortest - 1))
        admission = plan.request.admission
        fault = admission.fault if admission is not None else None
        # Visible tokens released (a fault's trigger: hidden reasoning does not count) and
        # decode steps reached (for settlement).
        hidden = [c.hidden_lead for c in choices] if fault is not None else None
        released = 0
        reached = first
        record = plan.record
        # TTFT and ITL are about the output the client reads: steps in which every choice is
        # still reasoning (hidden by some providers, shown as thinking by others) do not count.
        visible_from = plan.leading_reasoning_steps()
        if record is not None:
            record.stream = True
            note_plan(record, plan)
        # An engine stream parks on one future per wait and not at all for a token that is
        # already out (one it fell behind on): no coroutine per token.
        park = timeline.park if isinstance(timeline, EngineTimeline) and plan.steps else None
        self.waiting += 1
        producing = False
        try:
            if park is not None and fault is None and len(choices) == 1:
                # The engine's common case (one choice, no fault): the same events as the
                # general loop below, with nothing per token that cannot change.
                choice = choices[0]
                tokens = choice.tokens
                index = choice.index
                now = self.clock.now
                for step in range(first, len(tokens)):
                    waiter = park(step)
                    if waiter is not None:
                        await waiter
                    if step >= visible_from:
                        if not producing:
                            producing = self._producing()
                        if record is not None:
                            record.token_released(now())
                    reached = step + 1
                    yield TokenEvent(index, step, tokens[step])
                yield FinishEvent(index, choice.finish_reason)
                return
            if plan.steps == 0:
                await timeline.wait_end(0)
            if first > 0:
                await timeline.skip_to(first)
            for step in range(first, max(plan.steps, 1)):
                if fault is not None and released >= fault.after_tokens:
                    fault = await self._strike(fault, timeline)
                if park is not None:
                    waiter = park(step)
                    if waiter is not None:
                        await waiter
                elif plan.steps:
                    await timeline.wait_step(step)
                if step >= visible_from:
                    if not producing:
                        producing = self._producing()
                    if record is not None:
                        record.token_released(self.clock.now())
                reached = step + 1
                for position, choice in enumerate(choices):
                    tokens = choice.tokens
                    last = len(tokens) - 1
                    if step <= last:
                        if hidden is not None and step >= hidden[position]:
                            released += 1
                        yield TokenEvent(choice.index, step, tokens[step])
                        if step == last:
                            yield FinishEvent(choice.index, choice.finish_reason)
                    elif step == 0:
                        yield FinishEvent(choice.index, choice.finish_reason)
            if fault is not None:
                # A fault set after more tokens than the response has strikes at its end:
                # the stream still breaks before its terminator.
                await self._strike(fault, timeline)
        finally:
            if producing:
                self.running -= 1
            else:
                self.waiting -= 1
            timeline.close()
            if admission is not None and admission.on_finish is not None:
                admission.on_finish(sum(min(len(c.tokens), reached) for c in choices))

    def _producing(self) -> bool:
        """A stream's first visible token: it moves from the waiting to the running gauge (True)."""
        self.waiting -= 1
        self.running += 1
        return True

    async def _strike(self, fault: StreamFault, timeline: Timeline) -> StreamFault | None:
        """Apply ``fault`` now; every fault but a stall raises.

        A stall waits and moves the rest of the response later, then returns None: the
        response goes on.
        """
        action = FAULT_ACTIONS[fault.kind]
        if action is FaultAction.PAUSE:
            await self.pause(fault.duration_s)
            timeline.shift(fault.duration_s)
            return None
        if action is FaultAction.ERROR_FRAME and fault.error is not None:
            raise fault.error
        raise StreamCut(fault)  # the server acts on it at the wire

    def complete_at_once(self, plan: GenerationPlan) -> None:
        """What ``complete`` does for a plan ``answers_at_once`` (nothing to wait for).

        The record learns the plan and the admission its settlement, as there; the
        running gauge would go up and down again with no wait between, so it is left alone.
        """
        self._settle(self._completing(plan), plan.completion_tokens)

    async def complete(self, plan: GenerationPlan, timeline: Timeline) -> None:
        """Wait as long as streaming the whole plan would take (TTFT + Σ ITL).

        A fault in the admission applies as it would to the stream: a stall lengthens the
        wait; any other fault strikes once its tokens would have been generated.
        """
        admission = self._completing(plan)
        fault = admission.fault if admission is not None else None
        produced = plan.completion_tokens
        self.running += 1  # opaque until it ends: "running" for the in-flight gauges
        try:
            if fault is None:
                await timeline.wait_end(plan.steps)
            elif FAULT_ACTIONS[fault.kind] is FaultAction.PAUSE:
                await self._strike(fault, timeline)
                await timeline.wait_end(plan.steps)
            else:
                steps = plan.steps_until_visible(fault.after_tokens)
                await timeline.wait_end(steps)
                produced = sum(min(len(c.tokens), steps) for c in plan.choices)
                await self._strike(fault, timeline)
        finally:
            self.running -= 1
            timeline.close()
            self._settle(admission, produced)

    @staticmethod
    def _completing(plan: GenerationPlan) -> Admission | None:
        """A complete answer's start: its record (if any) learns the plan; the admission to settle."""
        record = plan.record
        if record is not None:
            note_plan(record, plan)
        return plan.request.admission

    @staticmethod
    def _settle(admission: Admission | None, produced: int) -> None:
        """A complete answer's end: its admission (if any) learns the ``produced`` tokens."""
        if admission is not None and admission.on_finish is not None:
            admission.on_finish(produced)
