"""A simulated deployment: engine settings, a step-time model, replicas and a router."""

from __future__ import annotations

from dataclasses import dataclass, field

from llm_simulator.engine.load.replica import EngineSettings, Replica
from llm_simulator.engine.load.router import Router, build_router
from llm_simulator.engine.load.sequence import Sequence
from llm_simulator.engine.load.stepmodel import StepTimeModel
from llm_simulator.infra.rng import derive_random


@dataclass(frozen=True, slots=True)
class DeploymentSpec:
    """Everything that defines how a deployment serves: limits, step time, replicas, routing."""

    name: str
    settings: EngineSettings
    step: StepTimeModel
    replicas: int = 1
    router: str = "least_loaded"
    description: str = ""
    # Where the numbers come from (traces, data sheets, the fit that produced them).
    provenance: str = ""
    # The HTTP status of an overload refusal; None: the provider's own (OpenAI 503, Anthropic 529, Gemini 503).
    overload_status: int | None = None
    # Start as a freshly launched server: the first step of each new shape pays the step model's
    # warm-up cost (StepTimeModel.cold_shape_ms). Off: a server that has served before.
    cold_start: bool = False
    # Extra keys a preset records for reports (model, GPU, TP); not used by the engine.
    facts: dict[str, str] = field(default_factory=dict)


class Deployment:
    """The replicas of one deployment and the router in front of them (no clock: see live/virtual)."""

    def __init__(self, spec: DeploymentSpec, seed: int) -> None:
        self.spec = spec
        self.replicas = [
            Replica(i, spec.settings, spec.step, derive_random(seed, "engine", spec.name, i))
            for i in range(spec.replicas)
        ]
        if not spec.cold_start:
            for replica in self.replicas:
                replica.warm_up()
        self.router: Router = build_router(spec.router)

    def pick(self, seq: Sequence) -> Replica:
        """The replica the router picks for ``seq``."""
        return self.router(self.replicas, seq)

    @property
    def running(self) -> int:
        """Sequences running across replicas."""
        return sum(len(r.running) for r in self.replicas)

    @property
    def waiting(self) -> int:
        """Sequences waiting across replicas."""
        return sum(len(r.waiting) for r in self.replicas)
