"""Provider-neutral request and result types.

Providers translate their wire format into these types and back; the engine only ever sees
these. Nothing here knows about HTTP or about any provider's field names.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class FinishReason(enum.StrEnum):
    """Why a choice ended, in neutral terms; providers map it to their own vocabulary."""

    STOP = "stop"  # natural end of the text
    STOP_SEQUENCE = "stop_sequence"  # a requested stop sequence was reached
    LENGTH = "length"  # max tokens (or the model's output limit) reached


class Endpoint(enum.StrEnum):
    """The kind of work a request asks for (used for routing, stats and chaos filters)."""

    CHAT = "chat"
    COMPLETION = "completion"
    EMBEDDING = "embedding"


@dataclass(frozen=True, slots=True)
class Message:
    """One conversation turn reduced to what generation needs: a role and its text."""

    role: str
    text: str
    name: str | None = None


@dataclass(frozen=True, slots=True)
class GenerationRequest:
    """A text generation request in neutral form.

    ``prompts`` holds one entry per independent prompt (chat has exactly one; the legacy
    completions API may carry several), each already counted in ``prompt_tokens``.
    """

    model: str
    endpoint: Endpoint
    messages: tuple[Message, ...]
    prompt_tokens: int
    max_tokens: int | None = None
    n: int = 1
    stop: tuple[str, ...] = ()
    seed: int | None = None
    ignore_eos: bool = False
    logprobs: bool = False
    top_logprobs: int = 0


@dataclass(frozen=True, slots=True)
class TokenLogprob:
    """The (simulated) log-probability of one emitted token and its alternatives."""

    token: str
    logprob: float
    top: tuple[tuple[str, float], ...] = ()


@dataclass(slots=True)
class ChoicePlan:
    """The complete output of one choice, decided up front and released token by token.

    ``tokens`` are the text units, each exactly one tokenizer token, so one streamed delta
    is one token and ``len(tokens)`` is the completion token count.
    """

    index: int
    tokens: list[str]
    finish_reason: FinishReason
    stop_sequence: str | None = None
    logprobs: list[TokenLogprob] | None = None

    @property
    def text(self) -> str:
        """The whole text of the choice."""
        return "".join(self.tokens)


@dataclass(slots=True)
class GenerationPlan:
    """Everything a response will contain, before any timing is applied."""

    request: GenerationRequest
    choices: list[ChoicePlan]
    system_fingerprint: str
    steps: int = field(init=False)

    def __post_init__(self) -> None:
        # One decode step emits one token for every unfinished choice (as a batching engine
        # does), so the number of steps is the longest choice.
        self.steps = max((len(c.tokens) for c in self.choices), default=0)

    @property
    def completion_tokens(self) -> int:
        """Tokens generated across all choices (what ``usage`` reports)."""
        return sum(len(c.tokens) for c in self.choices)


# Stream events are created once per token on the hot path: plain slotted classes, not
# frozen ones (a frozen dataclass's __init__ goes through object.__setattr__ per field).
@dataclass(slots=True)
class TokenEvent:
    """Stream event: the token at ``position`` of choice ``choice`` is released now."""

    choice: int
    position: int
    text: str


@dataclass(slots=True)
class FinishEvent:
    """Stream event: choice ``choice`` has emitted its last token."""

    choice: int
    reason: FinishReason


StreamEvent = TokenEvent | FinishEvent
