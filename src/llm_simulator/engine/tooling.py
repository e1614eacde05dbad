"""Tool calls, structured output and reasoning in a plan: what the model "decides" to emit.

Everything is drawn from the request's text RNG, so a seeded request reproduces its tool
calls (names, ids and arguments) as well as its text.
"""

from __future__ import annotations

import random
import string

import orjson

from llm_simulator.core.types import GenerationRequest, OutputFormat, OutputKind, ToolCall, ToolChoiceMode, ToolSpec
from llm_simulator.engine.prompt_json import PromptJson
from llm_simulator.engine.schema import generate

_ID_ALPHABET = string.ascii_letters + string.digits
ID_LENGTH = 24
# The object a model writes for "any JSON object" (json_object mode): a small answer record.
JSON_OBJECT_SCHEMA: dict[str, object] = {
    "type": "object",
    "properties": {
        "answer": {"type": "string", "maxLength": 60},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        "sources": {"type": "array", "items": {"type": "string", "format": "uri"}, "maxItems": 2},
    },
    "required": ["answer", "confidence"],
    "additionalProperties": False,
}


def choose_tools(
    request: GenerationRequest,
    rng: random.Random,
    *,
    probability: float,
    max_parallel: int,
    answer_after_tool_result: bool,
) -> list[ToolSpec]:
    """The tools this choice of a request with tools calls (empty: answer in text).

    ``required`` and a named tool always call; ``auto`` calls with ``probability``, except
    right after tool results when ``answer_after_tool_result`` (so agent loops end).
    Parallel calls pick 1..``max_parallel`` distinct tools.
    """
    choice = request.tool_choice
    if choice.mode is ToolChoiceMode.NONE:
        return []
    if choice.mode is ToolChoiceMode.NAMED:
        return [tool for tool in request.tools if tool.name == choice.name][:1]
    if choice.mode is ToolChoiceMode.AUTO:
        if request.follows_tool_result and answer_after_tool_result:
            return []
        if rng.random() >= probability:
            return []
    count = 1
    if request.parallel_tool_calls and len(request.tools) > 1 and max_parallel > 1:
        count = rng.randint(1, min(max_parallel, len(request.tools)))
    return rng.sample(list(request.tools), count)


def call_id(rng: random.Random) -> str:
    """A tool call id (providers add their own prefix)."""
    return "".join(rng.choice(_ID_ALPHABET) for _ in range(ID_LENGTH))


def tool_call(tool: ToolSpec, rng: random.Random) -> ToolCall:
    """A call of ``tool`` with arguments generated from its parameter schema."""
    arguments = generate(tool.parameters, rng, name=tool.name)
    return ToolCall(call_id(rng), tool.name, orjson.dumps(arguments).decode())


def structured_text(output: OutputFormat, rng: random.Random, prompted: PromptJson | None = None) -> str:
    """The JSON text of a structured answer (compact, as the APIs stream it); a bare enum value for ENUM.

    ``prompted`` is the JSON the prompt asks for (``prompt_json.requested``): an instance of
    its schema when it has one, else a small answer object; pretty-printed in a ```json fence
    when the prompt asks for a code block. In ``json_object`` mode the answer is always an object.
    """
    if output.kind is OutputKind.ENUM and output.schema is not None:
        value = generate(output.schema, rng, name=output.name)
        return value if isinstance(value, str) else orjson.dumps(value).decode()
    if output.kind is OutputKind.JSON_SCHEMA and output.schema is not None:
        value = generate(output.schema, rng, name=output.name)
    elif prompted is not None and prompted.schema is not None:
        value = generate(prompted.schema, rng)
        if output.kind is OutputKind.JSON_OBJECT and not isinstance(value, dict):
            value = generate(JSON_OBJECT_SCHEMA, rng)
    else:
        value = generate(JSON_OBJECT_SCHEMA, rng)
    if prompted is not None and prompted.fenced:
        return "```json\n" + orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n```"
    return orjson.dumps(value).decode()
