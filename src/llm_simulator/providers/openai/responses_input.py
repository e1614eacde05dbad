"""Request fields of ``POST /v1/responses``: input items, tools, ``text.format``, ``reasoning``.

Each parser validates with the API's rules and wording (the ``param`` is the dotted path,
``input[2].content[0].type``) and returns the neutral form plus, where the Response object
repeats the field, its canonical echo.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from llm_simulator.core.errors import invalid
from llm_simulator.core.types import Message, OutputFormat, OutputKind, ToolChoice, ToolChoiceMode, ToolSpec
from llm_simulator.engine.catalogue import ModelSpec
from llm_simulator.engine.simulator import Simulator
from llm_simulator.providers.openai.responses_builtin import BUILTIN_TOOLS, builtin_echo
from llm_simulator.providers.openai.responses_store import Conversation
from llm_simulator.providers.openai.tools import (
    REASONING_BUDGETS,
    check_name,
    check_tools_length,
    checked_schema,
    strict_problem,
)
from llm_simulator.providers.validation import (
    JsonObject,
    get_bool,
    get_list,
    get_object,
    get_str,
    json_text,
    missing,
    type_error,
    typed_items,
)

# Framing tokens, as in the chat recipe: per item, and the ones priming the reply.
TOKENS_PER_ITEM = 3
REPLY_PRIMING_TOKENS = 3
# Image and file parts are charged at the low-detail image rate.
ATTACHMENT_TOKENS = 85
ROLES = ("assistant", "system", "developer", "user")
INPUT_PARTS = ("input_text", "input_image", "input_file")
OUTPUT_PARTS = ("output_text", "refusal")
ITEM_TYPES = ("message", "function_call", "function_call_output", "reasoning")
SUMMARY_MODES = ("auto", "concise", "detailed")
VERBOSITY = ("low", "medium", "high")
DEFAULT_EFFORT = "medium"
MAX_METADATA_PAIRS = 16
MAX_METADATA_KEY = 64
MAX_METADATA_VALUE = 512


def _choices(values: tuple[str, ...]) -> str:
    quoted = [f"'{v}'" for v in values]
    return ", ".join(quoted[:-1]) + f", and {quoted[-1]}" if len(quoted) > 1 else quoted[0]


def _bad_value(value: object, allowed: tuple[str, ...], param: str) -> Exception:
    return invalid(f"Invalid value: '{value}'. Supported values are: {_choices(allowed)}.", param, "invalid_value")


def _unsupported(message: str, param: str) -> Exception:
    return invalid(message, param=param, code="unsupported_parameter")


# -- input ---------------------------------------------------------------------------------


@dataclass(slots=True)
class ParsedInput:
    """The request's input items in neutral form, with their tokens and function calls."""

    messages: list[Message]
    tokens: int
    call_ids: set[str]
    outputs: list[tuple[str, str]]  # (call_id, param) of every function_call_output
    ends_with_tool_output: bool


def _parts_text(parts: list[Any], role: str, where: str) -> tuple[str, int]:
    """Text of a message's content parts and the extra tokens of its attachments."""
    allowed = OUTPUT_PARTS if role == "assistant" else INPUT_PARTS
    texts: list[str] = []
    extra = 0
    for at, part, kind in typed_items(parts, where):
        if kind not in allowed:
            raise _bad_value(kind, allowed, f"{at}.type")
        if kind == "refusal":
            texts.append(get_str(part, "refusal", f"{at}.refusal", required=True) or "")
        elif kind in ("input_text", "output_text"):
            texts.append(get_str(part, "text", f"{at}.text", required=True) or "")
        elif kind == "input_image":
            url = get_str(part, "image_url", f"{at}.image_url")
            if url is None and get_str(part, "file_id", f"{at}.file_id") is None:
                raise invalid(f"Invalid '{at}': expected 'image_url' or 'file_id'.", param=at, code="invalid_value")
            extra += ATTACHMENT_TOKENS
        else:
            extra += ATTACHMENT_TOKENS
    return "\n".join(texts), extra


def _message(sim: Simulator, item: JsonObject, where: str) -> tuple[Message, int]:
    role = get_str(item, "role", f"{where}.role", required=True)
    if role not in ROLES:
        raise _bad_value(role, ROLES, f"{where}.role")
    if "content" not in item:
        raise missing(f"{where}.content")
    content = item["content"]
    if isinstance(content, str):
        text, extra = content, 0
    elif isinstance(content, list):
        text, extra = _parts_text(content, role, f"{where}.content")
    else:
        raise type_error(f"{where}.content", "a string or an array of content parts", content)
    tokens = TOKENS_PER_ITEM + sim.count_tokens(role) + sim.count_tokens(text) + extra
    return Message(role, text), tokens


def _output_text(value: Any, where: str) -> tuple[str, int]:
    """A function_call_output's ``output``: a string or input parts."""
    if isinstance(value, str):
        return value, 0
    if isinstance(value, list):
        return _parts_text(value, "user", where)
    if value is None:
        raise missing(where)
    raise type_error(where, "a string or an array of content parts", value)


def parse_input(sim: Simulator, raw: Any, history: Conversation) -> ParsedInput:
    """``input``: a string (one user message) or an array of items, checked and counted."""
    if isinstance(raw, str):
        tokens = TOKENS_PER_ITEM + sim.count_tokens("user") + sim.count_tokens(raw)
        parsed = ParsedInput([Message("user", raw)], tokens, set(), [], False)
        _check_calls_answered(parsed, history)
        return parsed
    if not isinstance(raw, list):
        raise type_error("input", "a string or an array of input items", raw)
    if not raw:
        raise invalid(
            "Invalid 'input': empty array. Expected an array with minimum length 1, but got an empty array instead.",
            param="input",
            code="empty_array",
        )
    parsed = ParsedInput([], 0, set(), [], False)
    for i, item in enumerate(raw):
        where = f"input[{i}]"
        if not isinstance(item, dict):
            raise type_error(where, "an object", item)
        # Easy input messages ({"role", "content"}) may leave out the type.
        kind = get_str(item, "type", f"{where}.type") or ("message" if "role" in item else None)
        if kind is None:
            raise missing(f"{where}.type")
        if kind == "message":
            message, tokens = _message(sim, item, where)
        elif kind == "function_call":
            call_id = get_str(item, "call_id", f"{where}.call_id", required=True) or ""
            name = get_str(item, "name", f"{where}.name", required=True) or ""
            arguments = get_str(item, "arguments", f"{where}.arguments", required=True) or ""
            parsed.call_ids.add(call_id)
            message = Message("assistant", "")
            tokens = TOKENS_PER_ITEM + sim.count_tokens(name) + sim.count_tokens(arguments)
        elif kind == "function_call_output":
            call_id = get_str(item, "call_id", f"{where}.call_id", required=True) or ""
            text, extra = _output_text(item.get("output"), f"{where}.output")
            parsed.outputs.append((call_id, where))
            message = Message("tool", text)
            tokens = TOKENS_PER_ITEM + sim.count_tokens(text) + extra
        elif kind == "reasoning":
            # Earlier reasoning is passed back for context; it is not counted again.
            item_id = get_str(item, "id", f"{where}.id", required=True)
            get_list(item, "summary", f"{where}.summary", required=True)
            _check_followed(item_id, raw[i + 1] if i + 1 < len(raw) else None)
            continue
        else:
            raise invalid(
                f"Invalid value: '{kind}'. Supported values are: {_choices(ITEM_TYPES)} (the simulator does not "
                "run built-in tools or resolve item references).",
                param=f"{where}.type",
                code="invalid_value",
            )
        parsed.messages.append(message)
        parsed.tokens += tokens
    last = raw[-1]
    parsed.ends_with_tool_output = isinstance(last, dict) and last.get("type") == "function_call_output"
    _check_calls_answered(parsed, history)
    return parsed


def _check_followed(item_id: str | None, following: Any) -> None:
    """A reasoning item comes back with the item it led to (the API refuses it alone).

    What follows it must be output of the same turn: an assistant message, a function call
    or more reasoning. Nothing, a user/system/developer message or a tool's output is the
    API's 400 (agents that drop the answer but keep the reasoning hit it).
    """
    if isinstance(following, dict):
        kind = following.get("type") or ("message" if "role" in following else None)
        if kind in ("function_call", "reasoning") or (kind == "message" and following.get("role") == "assistant"):
            return
    raise invalid(f"Item '{item_id}' of type 'reasoning' was provided without its required following item.", "input")


def _check_calls_answered(parsed: ParsedInput, history: Conversation) -> None:
    """Every function_call_output answers a known call; calls the last response made are answered."""
    known = history.call_ids | parsed.call_ids
    for call_id, _ in parsed.outputs:
        if call_id not in known:  # the API names ``input`` itself, not the item
            raise invalid(f"No tool call found for function call output with call_id {call_id}.", param="input")
    answered = {call_id for call_id, _ in parsed.outputs}
    for call_id in history.open_calls:
        if call_id not in answered:
            raise invalid(f"No tool output found for function call {call_id}.", param="input")


# -- tools ---------------------------------------------------------------------------------


def parse_function_tools(body: JsonObject) -> tuple[tuple[ToolSpec, ...], list[JsonObject], tuple[str, ...]]:
    """The flat function tools, the echo of every tool, and the built-in tools' types.

    ``strict`` defaults to true on this API; a schema that cannot be strict then falls
    back to non-strict (echoed as ``strict: false``) rather than failing.
    """
    raw = get_list(body, "tools")
    if not raw:
        return (), [], ()
    check_tools_length(raw)
    tools: list[ToolSpec] = []
    echo: list[JsonObject] = []
    builtins: list[str] = []
    for where, item, kind in typed_items(raw, "tools"):
        if kind in BUILTIN_TOOLS:
            echo.append(builtin_echo(kind, item, where))
            builtins.append(kind)
            continue
        if kind != "function":
            raise invalid(
                f"Invalid value: '{kind}'. The simulator supports 'function' tools and the built-in "
                f"{_choices(BUILTIN_TOOLS)} (computer use, MCP, shell and custom tools are not simulated).",
                param=f"{where}.type",
                code="invalid_value",
            )
        if "function" in item and "name" not in item:
            raise invalid(
                f"Missing required parameter: '{where}.name'. The Responses API takes flat function tools "
                "({'type': 'function', 'name': ..., 'parameters': ...}), not Chat Completions' nested 'function'.",
                param=f"{where}.name",
                code="missing_required_parameter",
            )
        name = get_str(item, "name", f"{where}.name", required=True) or ""
        check_name(name, f"{where}.name")
        description = get_str(item, "description", f"{where}.description")
        parameters = item.get("parameters")
        if parameters is None:
            parameters = {"type": "object", "properties": {}, "required": [], "additionalProperties": False}
        explicit = item.get("strict")
        if explicit is not None and not isinstance(explicit, bool):
            raise type_error(f"{where}.strict", "a boolean", explicit)
        code = "invalid_function_parameters"
        schema = checked_schema(parameters, explicit is True, f"function '{name}'", f"{where}.parameters", code)
        strict = explicit if explicit is not None else strict_problem(schema) is None
        tools.append(ToolSpec(name, description or "", schema))
        echo.append(
            {"type": "function", "name": name, "description": description, "parameters": schema, "strict": strict}
        )
        json_text(schema, f"{where}.parameters")  # counted in the prompt: must serialise
    names = [t.name for t in tools]
    for name in names:
        if names.count(name) > 1:
            raise invalid(f"Invalid 'tools': duplicate function name '{name}'.", param="tools", code="invalid_value")
    return tuple(tools), echo, tuple(builtins)


def parse_tool_choice(body: JsonObject, tools: tuple[ToolSpec, ...]) -> tuple[ToolChoice, Any]:
    """``tool_choice`` ("auto", "none", "required" or one named function) and its echo."""
    raw = body.get("tool_choice")
    if raw is None:
        return ToolChoice(ToolChoiceMode.AUTO if tools else ToolChoiceMode.NONE), "auto"
    if isinstance(raw, str):
        modes = {"none": ToolChoiceMode.NONE, "auto": ToolChoiceMode.AUTO, "required": ToolChoiceMode.REQUIRED}
        if raw not in modes:
            raise _bad_value(raw, ("none", "auto", "required"), "tool_choice")
        if raw == "required" and not tools:
            raise invalid("Tool choice 'required' must be specified with 'tools' parameter.", param="tool_choice")
        return ToolChoice(modes[raw] if tools else ToolChoiceMode.NONE), raw
    if not isinstance(raw, dict):
        raise type_error("tool_choice", "a string or an object", raw)
    kind = get_str(raw, "type", "tool_choice.type", required=True)
    if kind != "function":
        raise invalid(
            f"Invalid value: '{kind}'. The simulator supports tool_choice 'none', 'auto', 'required' or "
            "{'type': 'function', 'name': ...}.",
            param="tool_choice.type",
            code="invalid_value",
        )
    name = get_str(raw, "name", "tool_choice.name", required=True)
    if name not in {t.name for t in tools}:
        raise invalid(f"Tool choice '{name}' not found in 'tools' parameter.", param="tool_choice.name")
    return ToolChoice(ToolChoiceMode.NAMED, name), {"type": "function", "name": name}


# -- text.format ---------------------------------------------------------------------------


def parse_text(body: JsonObject, texts: list[str]) -> tuple[OutputFormat, JsonObject]:
    """``text`` (``format`` and ``verbosity``): the output format and the echoed config.

    ``texts`` are the instructions and input texts: ``json_object`` needs the word "json"
    somewhere in them, as on the API.
    """
    text = get_object(body, "text") or {}
    verbosity = get_str(text, "verbosity", "text.verbosity") or "medium"
    if verbosity not in VERBOSITY:
        raise _bad_value(verbosity, VERBOSITY, "text.verbosity")
    raw = get_object(text, "format", "text.format")
    if raw is None:
        return OutputFormat(), {"format": {"type": "text"}, "verbosity": verbosity}
    kind = get_str(raw, "type", "text.format.type", required=True)
    if kind == "text":
        return OutputFormat(), {"format": {"type": "text"}, "verbosity": verbosity}
    if kind == "json_object":
        if not any("json" in t.lower() for t in texts):
            raise invalid(
                "Response input messages must contain the word 'json' in some form to use 'text.format' of type "
                "'json_object'.",
                param="input",
            )
        return OutputFormat(OutputKind.JSON_OBJECT), {"format": {"type": "json_object"}, "verbosity": verbosity}
    if kind != "json_schema":
        raise _bad_value(kind, ("text", "json_object", "json_schema"), "text.format.type")
    if "json_schema" in raw and "schema" not in raw:
        raise invalid(
            "Missing required parameter: 'text.format.schema'. The Responses API takes a flat format "
            "({'type': 'json_schema', 'name': ..., 'schema': ...}), not Chat Completions' nested 'json_schema'.",
            param="text.format.schema",
            code="missing_required_parameter",
        )
    name = get_str(raw, "name", "text.format.name", required=True) or ""
    check_name(name, "text.format.name")
    if "schema" not in raw:
        raise missing("text.format.schema")
    strict = get_bool(raw, "strict", "text.format.strict")
    description = get_str(raw, "description", "text.format.description")
    label = f"response_format '{name}'"
    schema = checked_schema(raw["schema"], strict, label, "text.format.schema", "invalid_json_schema")
    echo: JsonObject = {"type": "json_schema", "name": name, "schema": schema, "strict": strict}
    if description is not None:
        echo["description"] = description
    return OutputFormat(OutputKind.JSON_SCHEMA, schema, name), {"format": echo, "verbosity": verbosity}


# -- reasoning -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReasoningConfig:
    """The hidden-token budget, the summary mode (None: no summary) and the echo."""

    budget: int
    summary: str | None
    echo: JsonObject


def parse_reasoning(body: JsonObject, model_id: str, spec: ModelSpec) -> ReasoningConfig:
    """``reasoning.effort`` / ``summary`` (reasoning models only; effort defaults to medium)."""
    raw = get_object(body, "reasoning") or {}
    effort = get_str(raw, "effort", "reasoning.effort")
    summary = get_str(raw, "summary", "reasoning.summary")
    generate = get_str(raw, "generate_summary", "reasoning.generate_summary")  # the deprecated spelling
    if "reasoning" not in spec.capabilities:
        for key, value in (("effort", effort), ("summary", summary), ("generate_summary", generate)):
            if value is not None:
                raise _unsupported(
                    f"Unsupported parameter: 'reasoning.{key}' is not supported with this model ({model_id}).",
                    f"reasoning.{key}",
                )
        return ReasoningConfig(0, None, {"effort": None, "summary": None})
    if effort is None and summary is None and generate is None and spec.provider != "openai":
        # As on chat: another vendor's model served here for a gateway reasons only when asked.
        return ReasoningConfig(0, None, {"effort": None, "summary": None})
    effort = effort or DEFAULT_EFFORT
    if effort not in REASONING_BUDGETS:
        raise _bad_value(effort, tuple(REASONING_BUDGETS), "reasoning.effort")
    mode = summary or generate
    if mode is not None and mode not in SUMMARY_MODES:
        raise _bad_value(mode, SUMMARY_MODES, "reasoning.summary" if summary else "reasoning.generate_summary")
    return ReasoningConfig(REASONING_BUDGETS[effort], mode, {"effort": effort, "summary": mode})


# -- metadata and include ------------------------------------------------------------------


def parse_metadata(body: JsonObject) -> dict[str, str]:
    """``metadata``: at most 16 string pairs (keys up to 64, values up to 512 characters)."""
    metadata = get_object(body, "metadata")
    if metadata is None:
        return {}
    if len(metadata) > MAX_METADATA_PAIRS:
        raise invalid(
            f"Invalid 'metadata': too many properties. Expected an object with at most {MAX_METADATA_PAIRS} "
            f"properties, but got an object with {len(metadata)} properties instead.",
            param="metadata",
            code="object_above_max_properties",
        )
    for key, value in metadata.items():
        if len(key) > MAX_METADATA_KEY:
            raise invalid(
                f"Invalid 'metadata': key '{key[:20]}…' is longer than {MAX_METADATA_KEY} characters.",
                param="metadata",
                code="invalid_value",
            )
        if not isinstance(value, str):
            raise type_error(f"metadata.{key}", "a string", value)
        if len(value) > MAX_METADATA_VALUE:
            raise invalid(
                f"Invalid 'metadata.{key}': string too long. Expected a string with maximum length "
                f"{MAX_METADATA_VALUE}, but got a string with length {len(value)} instead.",
                param=f"metadata.{key}",
                code="string_above_max_length",
            )
    return metadata


# What ``include`` may ask for (the API's values; a built-in tool's extras are accepted and
# change nothing while those tools are not simulated).
INCLUDABLE = (
    "file_search_call.results",
    "web_search_call.results",
    "web_search_call.action.sources",
    "message.input_image.image_url",
    "computer_call_output.output.image_url",
    "code_interpreter_call.outputs",
    "reasoning.encrypted_content",
    "message.output_text.logprobs",
)


def parse_include(body: JsonObject) -> frozenset[str]:
    """``include``: the extra output data asked for (encrypted reasoning, output logprobs)."""
    raw = get_list(body, "include")
    if raw is None:
        return frozenset()
    for i, value in enumerate(raw):
        if not isinstance(value, str):
            raise type_error(f"include[{i}]", "a string", value)
        if value not in INCLUDABLE:
            raise _bad_value(value, INCLUDABLE, f"include[{i}]")
    return frozenset(raw)
