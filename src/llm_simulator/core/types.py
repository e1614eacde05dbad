"""Provider-neutral request and result types.

Providers translate their wire format into these types and back; the engine only ever sees
these. Nothing here knows about HTTP or about any provider's field names.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from llm_simulator.core.errors import ErrorKind
from llm_simulator.core.faults import Admission
from llm_simulator.core.frozen import fast_init
from llm_simulator.core.record import RequestRecord


class FinishReason(enum.StrEnum):
    """Why a choice ended, in neutral terms; providers map it to their own vocabulary."""

    STOP = "stop"  # natural end of the text
    STOP_SEQUENCE = "stop_sequence"  # a requested stop sequence was reached
    LENGTH = "length"  # max tokens (or the model's output limit) reached
    TOOL_CALLS = "tool_calls"  # the model asked for one or more tool calls
    # The model declined: OpenAI's ``refusal`` field, Anthropic's ``stop_reason: refusal``,
    # Gemini's ``finishReason: SAFETY`` (only fixtures and misbehaviour chaos produce it).
    REFUSAL = "refusal"


class SegmentKind(enum.StrEnum):
    """What a run of a choice's tokens is: visible text, hidden reasoning, or a tool call."""

    TEXT = "text"
    REASONING = "reasoning"
    TOOL_CALL = "tool_call"


class ToolChoiceMode(enum.StrEnum):
    """Whether the model may, must, or must not call tools (``NAMED``: that one tool)."""

    AUTO = "auto"
    NONE = "none"
    REQUIRED = "required"
    NAMED = "named"


class OutputKind(enum.StrEnum):
    """The requested shape of the text: free text, any JSON object, or JSON for a schema."""

    TEXT = "text"
    JSON_OBJECT = "json_object"
    JSON_SCHEMA = "json_schema"
    ENUM = "enum"  # one value of the schema's enum, as bare text (Gemini's text/x.enum)


class Endpoint(enum.StrEnum):
    """The kind of work a request asks for (used for routing, stats and chaos filters)."""

    CHAT = "chat"
    COMPLETION = "completion"
    EMBEDDING = "embedding"
    # OpenAI's media endpoints (``providers/openai/media.py``): fixtures see them only for
    # errors, delays and strict mode; the answer itself is always the endpoint's own.
    MODERATION = "moderation"
    IMAGE = "image"
    SPEECH = "speech"
    TRANSCRIPTION = "transcription"
    TRANSLATION = "translation"


@fast_init
@dataclass(frozen=True, slots=True)
class Message:
    """One conversation turn reduced to what generation needs: a role and its text."""

    role: str
    text: str
    name: str | None = None

    def __repr__(self) -> str:
        # The dataclass's own format, without its recursion guard (a message holds only
        # strings), which cost half of a request seed: seeds hash this text, so it must not
        # change (tests/infra/test_rng_seed.py pins it).
        return f"{type(self).__qualname__}(role={self.role!r}, text={self.text!r}, name={self.name!r})"


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A function the model may call; ``parameters`` is its (already checked) JSON Schema."""

    name: str
    description: str = ""
    parameters: dict[str, object] = field(default_factory=lambda: {"type": "object", "properties": {}})


@dataclass(frozen=True, slots=True)
class ToolChoice:
    """The request's tool choice; ``name`` is set for ``NAMED``."""

    mode: ToolChoiceMode = ToolChoiceMode.AUTO
    name: str | None = None


@dataclass(frozen=True, slots=True)
class OutputFormat:
    """Structured-output request: ``schema`` for ``JSON_SCHEMA`` (already checked)."""

    kind: OutputKind = OutputKind.TEXT
    schema: dict[str, object] | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class ScriptedToolCall:
    """A tool call a fixture dictates: the tool's name and its arguments as JSON text.

    ``id`` fixes the call's id (two calls may share one, to test duplicate ids); None
    draws a fresh id as for a generated call.
    """

    name: str
    arguments: str
    id: str | None = None


@dataclass(frozen=True, slots=True)
class ScriptedPart:
    """One piece of an ordered scripted reply: text, hidden reasoning, or a tool call (``call``)."""

    kind: SegmentKind
    text: str = ""
    call: ScriptedToolCall | None = None


@dataclass(frozen=True, slots=True)
class ScriptedUsage:
    """Token counts a fixture reports instead of the real ones (None: the real count)."""

    input_tokens: int | None = None
    output_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class ScriptedError:
    """The error a fixture dictates (raised as a ``SimulatorError`` by the provider's handler)."""

    kind: ErrorKind
    message: str
    status: int | None = None
    code: str | None = None


@dataclass(frozen=True, slots=True)
class ScenarioStepRef:
    """The scenario step a scripted reply is: the scenario's name, the step's index from 0 and its name."""

    scenario: str
    index: int
    name: str | None = None


@dataclass(frozen=True, slots=True)
class ScriptedReply:
    """What a matching fixture answers instead of generated output.

    ``text`` and ``tool_calls`` replace the generated content (text first, then the calls);
    ``error`` ends the request with that error; ``delay_s`` is extra time before the first
    token (or before the error). A reply with only a delay keeps the generated content.
    ``source`` names the rule or scenario step, for the admin API and logs; ``step`` is the
    scenario step in structured form (None for a rule's reply), for the lineage graph.

    ``parts`` is the ordered alternative to ``text`` + ``tool_calls``: text, reasoning and
    tool calls in any order, sent as written (no stop sequences). The overrides replace what
    the response reports, whatever its content: ``finish`` (the finish reason),
    ``response_id``, ``model``, ``usage`` and ``system_fingerprint``.
    """

    text: str | None = None
    tool_calls: tuple[ScriptedToolCall, ...] = ()
    error: ScriptedError | None = None
    delay_s: float = 0.0
    source: str = ""
    parts: tuple[ScriptedPart, ...] = ()
    finish: FinishReason | None = None
    response_id: str | None = None
    model: str | None = None
    usage: ScriptedUsage | None = None
    system_fingerprint: str | None = None
    # A refusal of the prompt itself: Gemini answers with ``promptFeedback.blockReason`` and
    # no candidate; the other providers render it as the refusal it also is.
    prompt_blocked: bool = False
    step: ScenarioStepRef | None = None

    @property
    def has_content(self) -> bool:
        """Whether the reply dictates the output (not just a delay or an error)."""
        return self.text is not None or bool(self.tool_calls) or bool(self.parts)


# Shared defaults (the types are frozen): no per-request construction on the hot path.
AUTO_TOOL_CHOICE = ToolChoice()
TEXT_OUTPUT = OutputFormat()


@fast_init
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
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: ToolChoice = AUTO_TOOL_CHOICE
    parallel_tool_calls: bool = True
    # The last turn carries tool results: by default the model then answers in text, so
    # agent loops end.
    follows_tool_result: bool = False
    output: OutputFormat = TEXT_OUTPUT
    # Most hidden reasoning tokens to spend before the visible output (reasoning models);
    # the planner uses 40-100 % of it, as real models rarely exhaust a budget.
    reasoning_budget: int = 0
    # Set when a fixture (rule or scenario step) answers this request; see engine.script.
    scripted: ScriptedReply | None = None
    # Chaos effects and rate-limit settlement decided when the request was admitted.
    admission: Admission | None = None
    # Leading prompt tokens a load-aware engine may keep in its prefix cache (None: all of
    # them; 0: none). Anthropic caches only up to the last ``cache_control`` breakpoint.
    cacheable_prompt_tokens: int | None = None

    @property
    def start_delay_s(self) -> float:
        """Extra seconds before the first token that a fixture asks for (0 without one)."""
        return self.scripted.delay_s if self.scripted is not None else 0.0


@dataclass(frozen=True, slots=True)
class TokenLogprob:
    """The (simulated) log-probability of one emitted token and its alternatives."""

    token: str
    logprob: float
    top: tuple[tuple[str, float], ...] = ()


@dataclass(slots=True)
class ToolCall:
    """One planned tool call; ``arguments`` is its JSON text (streamed as the tokens of its segment)."""

    id: str
    name: str
    arguments: str


@dataclass(slots=True)
class Segment:
    """Tokens ``start``..``stop`` (exclusive) of a choice are of one kind (one tool call each)."""

    kind: SegmentKind
    start: int
    stop: int
    tool_call: ToolCall | None = None


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
    # Empty means one text segment covering every token (the common case).
    segments: list[Segment] = field(default_factory=list)

    def _joined(self, kind: SegmentKind) -> str:
        return "".join("".join(self.tokens[s.start : s.stop]) for s in self.segments if s.kind is kind)

    @property
    def text(self) -> str:
        """The visible text of the choice."""
        if not self.segments:
            return "".join(self.tokens)
        return self._joined(SegmentKind.TEXT)

    @property
    def reasoning(self) -> str:
        """The hidden reasoning text (empty for non-reasoning output)."""
        return self._joined(SegmentKind.REASONING) if self.segments else ""

    @property
    def reasoning_tokens(self) -> int:
        """Tokens spent on reasoning (reported, never streamed as content)."""
        return sum(s.stop - s.start for s in self.segments if s.kind is SegmentKind.REASONING)

    @property
    def tool_calls(self) -> list[ToolCall]:
        """The planned tool calls, in order."""
        return [s.tool_call for s in self.segments if s.tool_call is not None]

    @property
    def hidden_lead(self) -> int:
        """How many of the first tokens are reasoning (a reasoning segment comes first if any)."""
        first = self.segments[0] if self.segments else None
        return first.stop if first is not None and first.kind is SegmentKind.REASONING else 0

    def segment_kinds(self) -> list[SegmentKind]:
        """The kind of every token position (for stream writers that switch on it)."""
        if not self.segments:
            return [SegmentKind.TEXT] * len(self.tokens)
        kinds: list[SegmentKind] = []
        for segment in self.segments:
            kinds.extend([segment.kind] * (segment.stop - segment.start))
        return kinds


@dataclass(slots=True)
class GenerationPlan:
    """Everything a response will contain, before any timing is applied."""

    request: GenerationRequest
    choices: list[ChoicePlan]
    system_fingerprint: str
    # The telemetry record of the request being answered (None outside a server).
    record: RequestRecord | None = field(default=None, compare=False, repr=False)
    steps: int = field(init=False)
    # Tokens generated across all choices (what ``usage`` reports), counted once: choices'
    # token lists are fixed once planned (providers renumber choices, never their tokens).
    completion_tokens: int = field(init=False)
    # Prompt tokens a load-aware engine found in its prefix cache (0 without one): what the
    # providers report as cached input tokens.
    cached_tokens: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        # One decode step emits one token for every unfinished choice (as a batching engine
        # does), so the number of steps is the longest choice.
        choices = self.choices
        if len(choices) == 1:  # the common case, without two generator expressions
            self.steps = self.completion_tokens = len(choices[0].tokens)
            return
        self.steps = max((len(c.tokens) for c in choices), default=0)
        self.completion_tokens = sum(len(c.tokens) for c in choices)

    def leading_reasoning_steps(self) -> int:
        """Steps at the start in which every choice is still reasoning (0 if one is not)."""
        return min((choice.hidden_lead for choice in self.choices), default=0)

    def steps_until_visible(self, tokens: int) -> int:
        """Decode steps after which at least ``tokens`` visible tokens exist over all choices.

        The same step boundary at which a stream's fault strikes; every step when the response
        has fewer visible tokens than that (the fault then strikes at its end).
        """
        if tokens <= 0:
            return 0
        visible = 0
        for step in range(self.steps):
            visible += sum(1 for c in self.choices if c.hidden_lead <= step < len(c.tokens))
            if visible >= tokens:
                return step + 1
        return self.steps


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
