"""Small builders for driving a Replica by hand: a noiseless step model and a step helper."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from llm_simulator.engine.load.replica import Batch, EngineSettings, Replica
from llm_simulator.engine.load.sequence import Sequence
from llm_simulator.engine.load.stepmodel import StepTimeModel

# 1 ms per step, whatever it holds: step counts are then easy to read off the clock.
FLAT = StepTimeModel(
    step_ms=1.0, weights_ms=0.0, prefill_ms_per_token=0.0, kv_ms_per_token=0.0, overlap=0.0, jitter_sigma=0.0
)


def replica(**settings: object) -> Replica:
    """A replica with ``settings`` (EngineSettings fields) and the flat, noiseless step model."""
    return Replica(0, EngineSettings(**settings), FLAT, random.Random(0))  # type: ignore[arg-type]


def seq(
    seq_id: int, prompt: int, target: int, *, width: int = 1, hashes: tuple[int, ...] = (), arrival_ms: float = 0.0
) -> Sequence:
    """A sequence (shorter to spell in tests)."""
    return Sequence(seq_id, prompt, target, arrival_ms, width=width, hashes=hashes)


@dataclass
class Driver:
    """Steps a replica on a 1-ms clock, checking invariants and recording every emission."""

    rep: Replica
    now: float = 0.0
    emits: dict[int, list[float]] = field(default_factory=dict)
    finished: list[Sequence] = field(default_factory=list)
    batches: list[Batch] = field(default_factory=list)

    def step(self) -> Batch | None:
        """One schedule/complete round; None (and no time passes) when there is nothing to run."""
        batch = self.rep.schedule()
        self.rep.check_invariants()
        if batch is None:
            return None
        self.batches.append(batch)
        self.now += self.rep.duration_ms(batch)
        emitted, finished = self.rep.complete(batch, self.now)
        for s in emitted:
            self.emits.setdefault(s.seq_id, []).append(self.now)
        self.finished += finished
        self.rep.check_invariants()
        return batch

    def run(self, limit: int = 10_000) -> int:
        """Step until idle; the number of steps run."""
        steps = 0
        while self.step() is not None:
            steps += 1
            assert steps < limit, "the replica did not drain"
        return steps
