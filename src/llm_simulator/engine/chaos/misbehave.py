"""Model misbehaviour: the content a model that gets it wrong would send, as a scripted reply.

Chaos picks a ``Misbehaviour`` for a request (a rule's ``misbehave``, or the control
header's ``misbehave=``); :func:`misbehaving_reply` turns it into an ordered
``ScriptedReply`` (text, reasoning and tool calls in a given order, a finish reason, fixed
call ids), which the planner lays out and each provider renders as it renders any
fixture. So every kind reaches every provider, streamed or not, with no code of its own
in the renderers beyond the refusal (the one finish reason the others never produce).

The content depends on the request: its first offered tool (and that tool's schema), its
forced tool, its structured-output schema. Everything is drawn from ``rng``, so a seeded
request misbehaves the same way every time.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import orjson

from llm_simulator.core.faults import Misbehaviour
from llm_simulator.core.types import (
    Endpoint,
    FinishReason,
    GenerationRequest,
    OutputKind,
    ScriptedPart,
    ScriptedReply,
    ScriptedToolCall,
    SegmentKind,
    ToolChoiceMode,
    ToolSpec,
)
from llm_simulator.engine.schema import generate
from llm_simulator.engine.tooling import call_id

REFUSAL_TEXT = "I'm sorry, but I can't help with that request."
# Used when the request offers no tool: the calls still need a name.
FALLBACK_TOOL = ToolSpec("lookup", parameters={"type": "object", "properties": {"query": {"type": "string"}}})
UNKNOWN_TOOL_NAME = "delete_all_records"
SENTENCE = "The quarterly figures show steady growth across every region we track."
REASONING_TEXT = (
    "Let me think about this step by step. First I need to work out what is being asked, "
    "then weigh the options one by one before writing the answer."
)
REPEATS = 6


def _text(text: str) -> ScriptedPart:
    return ScriptedPart(SegmentKind.TEXT, text)


def _call(name: str, arguments: str, call: str | None = None) -> ScriptedPart:
    return ScriptedPart(SegmentKind.TOOL_CALL, call=ScriptedToolCall(name, arguments, call))


def _tool(request: GenerationRequest) -> ToolSpec:
    """The tool a misbehaving call targets: the forced one, else the first offered."""
    if request.tool_choice.mode is ToolChoiceMode.NAMED:
        for tool in request.tools:
            if tool.name == request.tool_choice.name:
                return tool
    return request.tools[0] if request.tools else FALLBACK_TOOL


def _valid_arguments(tool: ToolSpec, rng: random.Random) -> str:
    return orjson.dumps(generate(tool.parameters, rng, name=tool.name)).decode()


# A value of the wrong JSON type for each schema type (what a sloppy model sends).
_WRONG_VALUE: dict[str, object] = {
    "string": 12345,
    "integer": "forty-two",
    "number": "not a number",
    "boolean": "yes",
    "array": "one, two",
    "object": [],
    "null": "none",
}


def violating(schema: dict[str, object]) -> dict[str, object]:
    """An object the schema rejects: every property of the wrong type, required ones missing.

    The first required property is left out, every other declared property gets a value
    of the wrong type, and an undeclared property is added; a schema that constrains
    nothing is still broken by the extra property only when it forbids extras.
    """
    properties = schema.get("properties")
    required = schema.get("required")
    missing = required[0] if isinstance(required, list) and required else None
    value: dict[str, object] = {}
    if isinstance(properties, dict):
        for name, sub in properties.items():
            if name == missing:
                continue
            kind = sub.get("type") if isinstance(sub, dict) else None
            # Gemini's schemas spell types in capitals (``INTEGER``).
            value[name] = _WRONG_VALUE.get(kind.lower() if isinstance(kind, str) else "", 12345)
    value["unexpected_field"] = True
    return value


def _invalid_json(tool: ToolSpec) -> str:
    """Arguments that are not JSON: Python-style quotes and a trailing comma."""
    properties = tool.parameters.get("properties")
    name = next(iter(properties), "value") if isinstance(properties, dict) and properties else "value"
    return "{'" + str(name) + "': 'Paris',}"


def _wrong_json(request: GenerationRequest) -> ScriptedReply:
    """Structured output that does not fit: the schema violated, or no JSON at all."""
    output = request.output
    if request.tool_choice.mode is ToolChoiceMode.NAMED and request.tools:
        tool = _tool(request)  # Anthropic-style structured output through a forced tool
        return ScriptedReply(parts=(_call(tool.name, orjson.dumps(violating(tool.parameters)).decode()),))
    if output.kind is OutputKind.JSON_SCHEMA and output.schema is not None:
        return ScriptedReply(parts=(_text(orjson.dumps(violating(output.schema)).decode()),))
    if output.kind is OutputKind.ENUM:
        return ScriptedReply(parts=(_text("NOT_AN_OPTION"),))
    return ScriptedReply(parts=(_text('{"answer": 42, "sources": [}'),))


def _calls(builder: Callable[[ToolSpec, random.Random], ScriptedReply]) -> Callable[..., ScriptedReply]:
    """A builder that needs the request's tool only."""

    def build(request: GenerationRequest, rng: random.Random) -> ScriptedReply:
        return builder(_tool(request), rng)

    return build


def _duplicate_ids(tool: ToolSpec, rng: random.Random) -> ScriptedReply:
    shared = call_id(rng)
    first = _call(tool.name, _valid_arguments(tool, rng), shared)
    second = _call(tool.name, _valid_arguments(tool, rng), shared)
    return ScriptedReply(parts=(first, second))


def _cut_call(tool: ToolSpec, rng: random.Random) -> ScriptedReply:
    arguments = _valid_arguments(tool, rng)
    if len(arguments) < 8:  # too short to cut visibly: cut a padded object instead
        arguments = orjson.dumps({"query": SENTENCE}).decode()
    cut = arguments[: max(2, len(arguments) // 2)]
    return ScriptedReply(parts=(_call(tool.name, cut),), finish=FinishReason.LENGTH)


def _interleaved(tool: ToolSpec, rng: random.Random) -> ScriptedReply:
    return ScriptedReply(
        parts=(
            _text("Let me look that up."),
            _call(tool.name, _valid_arguments(tool, rng)),
            _text(" While that runs, one more check."),
            _call(tool.name, _valid_arguments(tool, rng)),
        )
    )


def _truncated(request: GenerationRequest, rng: random.Random) -> ScriptedReply:
    return ScriptedReply(parts=(_text(SENTENCE + " Revenue in the northern region rose by almost tw"),))


_BUILDERS: dict[Misbehaviour, Callable[[GenerationRequest, random.Random], ScriptedReply]] = {
    Misbehaviour.INVALID_TOOL_ARGUMENTS: _calls(
        lambda tool, rng: ScriptedReply(parts=(_call(tool.name, _invalid_json(tool)),))
    ),
    Misbehaviour.SCHEMA_VIOLATION: _calls(
        lambda tool, rng: ScriptedReply(parts=(_call(tool.name, orjson.dumps(violating(tool.parameters)).decode()),))
    ),
    Misbehaviour.UNKNOWN_TOOL: lambda request, rng: ScriptedReply(
        parts=(_call(_unknown_name(request), '{"confirm": true}'),)
    ),
    Misbehaviour.DUPLICATE_TOOL_CALL_IDS: _calls(_duplicate_ids),
    Misbehaviour.LENGTH_IN_TOOL_CALL: _calls(_cut_call),
    Misbehaviour.EMPTY: lambda request, rng: ScriptedReply(parts=(_text(""),)),
    Misbehaviour.REFUSAL: lambda request, rng: ScriptedReply(parts=(_text(REFUSAL_TEXT),), finish=FinishReason.REFUSAL),
    Misbehaviour.PROMPT_BLOCKED: lambda request, rng: ScriptedReply(
        parts=(_text(REFUSAL_TEXT),), finish=FinishReason.REFUSAL, prompt_blocked=True
    ),
    Misbehaviour.REASONING_ONLY: lambda request, rng: ScriptedReply(
        parts=(ScriptedPart(SegmentKind.REASONING, REASONING_TEXT),), finish=FinishReason.LENGTH
    ),
    Misbehaviour.INTERLEAVED: _calls(_interleaved),
    Misbehaviour.TRUNCATED: _truncated,
    Misbehaviour.REPEATED: lambda request, rng: ScriptedReply(parts=(_text(" ".join([SENTENCE] * REPEATS)),)),
    Misbehaviour.WRONG_JSON: lambda request, rng: _wrong_json(request),
}


def _unknown_name(request: GenerationRequest) -> str:
    """A tool name the request did not offer."""
    offered = {tool.name for tool in request.tools}
    name = UNKNOWN_TOOL_NAME
    while name in offered:
        name += "_x"
    return name


def misbehaving_reply(kind: Misbehaviour, request: GenerationRequest, rng: random.Random) -> ScriptedReply:
    """The reply a model misbehaving as ``kind`` sends to ``request`` (see the module docstring)."""
    reply = _BUILDERS[kind](request, rng)
    parts = reply.parts
    if request.endpoint is Endpoint.COMPLETION:
        # The legacy completions API has only text: a misbehaving call there is not sent.
        parts = tuple(part for part in parts if part.kind is SegmentKind.TEXT) or (_text(""),)
    source = f"chaos misbehave {kind.value}"
    # Keep the delay of a fixture this request also matched (chaos replaces only the content).
    delay = request.scripted.delay_s if request.scripted is not None else 0.0
    return ScriptedReply(
        parts=parts, finish=reply.finish, delay_s=delay, source=source, prompt_blocked=reply.prompt_blocked
    )
