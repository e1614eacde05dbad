"""What chaos does to one admitted request: slower timing and faults inside its stream.

``FAULT_ACTIONS`` is the one table saying what each fault kind does: the chaos controller
turns a ``slow_first_byte`` into a delay before admission ends, the engine applies a
``stall`` (a pause) and raises every other fault while releasing tokens, and the server
turns a ``StreamCut`` into the wire-level failure the table names (a dropped connection, a
body ending without its terminator, a malformed chunk). Hanging requests raise ``HangUp``
before any byte is sent. ``Misbehaviour`` kinds are not wire faults: they replace a
response's content with what a misbehaving model would send.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
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


class FaultAction(enum.Enum):
    """What a fault kind does, and so which layer acts on it."""

    # Before admission ends (the chaos controller adds it to the request's delay).
    DELAY_FIRST_BYTE = "delay_first_byte"
    # The engine pauses the response, then goes on; nothing reaches the wire.
    PAUSE = "pause"
    # The engine raises the fault's error; the server sends the provider's in-stream error.
    ERROR_FRAME = "error_frame"
    # The server drops the connection mid-body (an incomplete chunked body).
    CUT_CONNECTION = "cut_connection"
    # The server ends the body cleanly, without the provider's terminator.
    END_UNTERMINATED = "end_unterminated"
    # The server sends the provider's malformed frame, then ends the body.
    MALFORMED_FRAME = "malformed_frame"


FAULT_ACTIONS: Mapping[FaultKind, FaultAction] = {
    FaultKind.DISCONNECT: FaultAction.CUT_CONNECTION,
    FaultKind.STALL: FaultAction.PAUSE,
    FaultKind.NO_TERMINATOR: FaultAction.END_UNTERMINATED,
    FaultKind.MALFORMED: FaultAction.MALFORMED_FRAME,
    FaultKind.ERROR_EVENT: FaultAction.ERROR_FRAME,
    FaultKind.SLOW_FIRST_BYTE: FaultAction.DELAY_FIRST_BYTE,
}
FAULT_KINDS: tuple[str, ...] = tuple(kind.value for kind in FaultKind)


class Misbehaviour(enum.StrEnum):
    """Ways the *model* gets it wrong: a well-formed response with content an agent must survive.

    Unlike the faults above, nothing is wrong on the wire: each kind replaces the response's
    content (``engine/chaos/misbehave.py`` builds it), rendered by the provider as usual.
    """

    INVALID_TOOL_ARGUMENTS = "invalid_tool_arguments"  # arguments that are not JSON
    SCHEMA_VIOLATION = "schema_violation"  # JSON arguments the tool's schema rejects
    UNKNOWN_TOOL = "unknown_tool"  # a call to a tool the request did not offer
    DUPLICATE_TOOL_CALL_IDS = "duplicate_tool_call_ids"  # two calls sharing one id
    LENGTH_IN_TOOL_CALL = "length_in_tool_call"  # max tokens strike inside a call's arguments
    EMPTY = "empty"  # no content at all, a normal stop
    REFUSAL = "refusal"  # the model declines
    PROMPT_BLOCKED = "prompt_blocked"  # the prompt is blocked (Gemini promptFeedback), else a refusal
    REASONING_ONLY = "reasoning_only"  # reasoning spends the budget, no visible answer
    INTERLEAVED = "interleaved"  # text, a call, text, a call in one response
    TRUNCATED = "truncated"  # text cut off mid-sentence with a normal stop
    REPEATED = "repeated"  # the same sentence over and over
    WRONG_JSON = "wrong_json"  # structured output that does not fit the requested schema


MISBEHAVIOURS: tuple[str, ...] = tuple(kind.value for kind in Misbehaviour)


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
        self.action = FAULT_ACTIONS[fault.kind]


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
    # The model misbehaviour chaos chose for this request (replaces its content).
    misbehave: Misbehaviour | None = None
