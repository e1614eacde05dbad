"""What chaos does to one admitted request: slower timing and faults inside its stream.

The engine applies these while releasing tokens; the server turns a ``StreamCut`` into the
wire-level failure it names (a dropped connection, a stream without its terminator, a
malformed chunk). Hanging requests raise ``HangUp`` before any byte is sent.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

from llm_simulator.core.errors import SimulatorError


class FaultKind(enum.StrEnum):
    """Failures inside a response (``slow_first_byte`` is applied before it starts)."""

    DISCONNECT = "disconnect"
    STALL = "stall"
    NO_TERMINATOR = "no_terminator"
    MALFORMED = "malformed"
    ERROR_EVENT = "error_event"
    SLOW_FIRST_BYTE = "slow_first_byte"


@dataclass(frozen=True, slots=True)
class StreamFault:
    """A fault striking after ``after_tokens`` tokens (``duration_s`` for a stall)."""

    kind: FaultKind
    after_tokens: int = 0
    duration_s: float = 0.0
    # The in-stream error of an ERROR_EVENT fault.
    error: SimulatorError | None = None


class StreamCut(Exception):
    """Raised by the engine's stream when a fault ends the response abnormally."""

    def __init__(self, fault: StreamFault) -> None:
        super().__init__(f"stream fault: {fault.kind}")
        self.fault = fault


class HangUp(Exception):
    """The request must never be answered: the connection stays open until the client leaves."""


@dataclass(frozen=True, slots=True)
class Admission:
    """The admitted request's chaos effects and its rate-limit settlement.

    ``latency_scale`` multiplies TTFT and every ITL; ``fault`` strikes during the response;
    ``on_finish`` receives the output tokens actually produced (to reconcile token budgets
    charged with an estimate) and may be called more than once (only the first counts).
    """

    latency_scale: float = 1.0
    fault: StreamFault | None = None
    on_finish: Callable[[int], None] | None = None


NO_ADMISSION_EFFECT = Admission()
