"""Chat Completions' ``tools``, ``tool_choice``, ``response_format`` and ``reasoning_effort``.

Validation follows the API's rules and wording: function names match ``^[a-zA-Z0-9_-]{1,64}$``,
parameter schemas must be valid JSON Schema (and, with ``strict``, every object must list
all its properties as required and forbid additional ones), a named ``tool_choice`` must
name a declared tool, and ``json_object`` output needs the word "json" in the messages.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import orjson

from llm_simulator.core.errors import invalid
from llm_simulator.core.types import (
    AUTO_TOOL_CHOICE,
    TEXT_OUTPUT,
    Message,
    OutputFormat,
    OutputKind,
    ToolChoice,
    ToolChoiceMode,
    ToolSpec,
)
from llm_simulator.engine.catalogue import ModelSpec
from llm_simulator.engine.schema import SchemaError, check_schema
from llm_simulator.providers.validation import (
    JsonObject,
    get_bool,
    get_list,
    get_object,
    get_str,
    missing,
    type_error,
    typed_items,
)

NAME_PATTERN = re.compile(r"[a-zA-Z0-9_-]{1,64}")
MAX_TOOLS = 128
# Hidden reasoning budget per effort level (tokens); the model spends 40-100 % of it.
REASONING_BUDGETS = {"none": 0, "minimal": 16, "low": 256, "medium": 1024, "high": 4096, "xhigh": 8192}
DEFAULT_EFFORT = "medium"
NO_TOOLS = ToolChoice(ToolChoiceMode.NONE)


def check_name(name: str, param: str) -> None:
    """Function and schema names: ``^[a-zA-Z0-9_-]{1,64}$`` (the API's rule and wording)."""
    if not NAME_PATTERN.fullmatch(name):
        raise invalid(
            f"Invalid '{param}': string does not match pattern. Expected a string that matches the pattern "
            "'^[a-zA-Z0-9_-]{1,64}$'.",
            param=param,
            code="invalid_value",
        )


def strict_problem(schema: Any, context: tuple[str, ...] = ()) -> str | None:
    """Why ``schema`` breaks Structured Outputs' strict rules (None when it does not)."""
    if not isinstance(schema, dict):
        return None
    where = f"In context={context!r}"
    kind = schema.get("type")
    if kind == "object" or (isinstance(kind, list) and "object" in kind) or "properties" in schema:
        if schema.get("additionalProperties") is not False:
            return f"{where}, 'additionalProperties' is required to be supplied and to be false."
        properties = schema.get("properties") or {}
        required = set(schema.get("required") or [])
        absent = [name for name in properties if name not in required]
        if absent:
            return (
                f"{where}, 'required' is required to be supplied and to be an array including every key in "
                f"properties. Missing '{absent[0]}'."
            )
    for key in ("properties", "$defs", "definitions"):
        for name, sub in (schema.get(key) or {}).items():
            problem = strict_problem(sub, (*context, key, name))
            if problem:
                return problem
    for key in ("items", "additionalProperties"):
        problem = strict_problem(schema.get(key), (*context, key))
        if problem:
            return problem
    for key in ("anyOf", "oneOf", "allOf"):
        for i, sub in enumerate(schema.get(key) or []):
            problem = strict_problem(sub, (*context, key, str(i)))
            if problem:
                return problem
    return None


def checked_schema(
    schema: Any, strict: bool, label: str, param: str, code: str = "invalid_function_parameters"
) -> dict[str, Any]:
    """``schema`` if it is a valid JSON Schema the generator honours (and strict-compatible if ``strict``)."""
    if not isinstance(schema, dict):
        raise type_error(param, "an object", schema)
    if not schema:
        # ``{}``: no parameters, as leaving them out says (hand-written and MCP tools send it).
        return {"type": "object", "properties": {}}
    kind = schema.get("type")
    if kind != "object":
        # Function arguments and structured outputs are JSON objects on the API: a schema
        # whose root is anything else (or says no type) is refused, strict or not.
        raise invalid(
            f"Invalid schema for {label}: schema must be a JSON Schema of 'type: \"object\"', got 'type: \"{kind}\"'.",
            param=param,
            code=code,
        )
    try:
        check_schema(schema)
    except SchemaError as exc:
        raise invalid(f"Invalid schema for {label}: {exc}", param=param, code=code) from None
    if strict:
        problem = strict_problem(schema)
        if problem:
            raise invalid(f"Invalid schema for {label}: {problem}", param=param, code=code)
    return schema


def check_tools_length(raw: list[Any]) -> None:
    """At most ``MAX_TOOLS`` tools, in the API's wording (shared by chat and Responses)."""
    if len(raw) > MAX_TOOLS:
        raise invalid(
            f"Invalid 'tools': array too long. Expected an array with maximum length {MAX_TOOLS}, "
            f"but got an array with length {len(raw)} instead.",
            param="tools",
            code="array_above_max_length",
        )


def parse_tools(body: JsonObject) -> tuple[ToolSpec, ...]:
    """The declared function tools."""
    raw = get_list(body, "tools")
    if raw is None:
        if body.get("parallel_tool_calls") is not None:
            raise invalid(
                "Invalid value for 'parallel_tool_calls': 'parallel_tool_calls' is only allowed when 'tools' are "
                "specified.",
                param="parallel_tool_calls",
            )
        return ()
    if not raw:
        raise invalid(
            "Invalid 'tools': empty array. Expected an array with minimum length 1, but got an empty array instead.",
            param="tools",
            code="empty_array",
        )
    check_tools_length(raw)
    tools: list[ToolSpec] = []
    for where, item, kind in typed_items(raw, "tools"):
        if kind != "function":
            raise invalid(
                f"Invalid value: '{kind}'. Supported values are: 'function'.",
                param=f"{where}.type",
                code="invalid_value",
            )
        function = get_object(item, "function", f"{where}.function")
        if function is None:
            raise missing(f"{where}.function")
        name = get_str(function, "name", f"{where}.function.name", required=True) or ""
        check_name(name, f"{where}.function.name")
        description = get_str(function, "description", f"{where}.function.description") or ""
        strict = get_bool(function, "strict", f"{where}.function.strict")
        parameters = function.get("parameters", {"type": "object", "properties": {}})
        schema = checked_schema(parameters, strict, f"function '{name}'", f"{where}.function.parameters")
        tools.append(ToolSpec(name, description, schema))
    names = [t.name for t in tools]
    for name in names:
        if names.count(name) > 1:
            raise invalid(f"Invalid 'tools': duplicate function name '{name}'.", param="tools", code="invalid_value")
    return tuple(tools)


def parse_tool_choice(body: JsonObject, tools: tuple[ToolSpec, ...]) -> ToolChoice:
    """``tool_choice``: none, auto, required, or one named function."""
    raw = body.get("tool_choice")
    if raw is None:
        return AUTO_TOOL_CHOICE if tools else NO_TOOLS
    if not tools:
        raise invalid(
            "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.",
            param="tool_choice",
        )
    if isinstance(raw, str):
        modes = {"none": ToolChoiceMode.NONE, "auto": ToolChoiceMode.AUTO, "required": ToolChoiceMode.REQUIRED}
        if raw not in modes:
            raise invalid(
                f"Invalid value: '{raw}'. Supported values are: 'none', 'auto', and 'required'.",
                param="tool_choice",
                code="invalid_value",
            )
        return ToolChoice(modes[raw])
    if not isinstance(raw, dict):
        raise type_error("tool_choice", "a string or an object", raw)
    function = get_object(raw, "function", "tool_choice.function")
    if get_str(raw, "type", "tool_choice.type", required=True) != "function" or function is None:
        raise invalid("Invalid 'tool_choice': expected {'type': 'function', 'function': {'name': ...}}.", "tool_choice")
    name = get_str(function, "name", "tool_choice.function.name", required=True)
    if name not in {t.name for t in tools}:
        raise invalid(f"Invalid value for 'tool_choice': function '{name}' not found in 'tools'.", param="tool_choice")
    return ToolChoice(ToolChoiceMode.NAMED, name)


def parse_response_format(body: JsonObject, messages: tuple[Message, ...]) -> OutputFormat:
    """``response_format``: text, json_object (needs "json" in the messages) or json_schema."""
    raw = get_object(body, "response_format")
    if raw is None:
        return TEXT_OUTPUT
    kind = get_str(raw, "type", "response_format.type", required=True)
    if kind == "text":
        return TEXT_OUTPUT
    if kind == "json_object":
        if not any("json" in m.text.lower() for m in messages):
            raise invalid(
                "'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'.",
                param="messages",
            )
        return OutputFormat(OutputKind.JSON_OBJECT)
    if kind != "json_schema":
        raise invalid(
            f"Invalid value: '{kind}'. Supported values are: 'text', 'json_object' and 'json_schema'.",
            param="response_format.type",
            code="invalid_value",
        )
    spec = get_object(raw, "json_schema", "response_format.json_schema")
    if spec is None:
        raise missing("response_format.json_schema")
    name = get_str(spec, "name", "response_format.json_schema.name", required=True) or ""
    check_name(name, "response_format.json_schema.name")
    strict = get_bool(spec, "strict", "response_format.json_schema.strict")
    schema = spec.get("schema", {"type": "object"})
    checked = checked_schema(schema, strict, f"response_format '{name}'", "response_format.json_schema.schema")
    return OutputFormat(OutputKind.JSON_SCHEMA, checked, name)


def reasoning_budget(body: JsonObject, model_id: str, spec: ModelSpec) -> int:
    """Hidden reasoning tokens for ``reasoning_effort`` (reasoning models only; default medium)."""
    effort = get_str(body, "reasoning_effort")
    reasons = "reasoning" in spec.capabilities
    if effort is None:
        # OpenAI's reasoning models always reason (medium by default); another vendor's
        # model served here for a gateway only does when asked.
        return REASONING_BUDGETS[DEFAULT_EFFORT] if reasons and spec.provider == "openai" else 0
    if not reasons:
        raise invalid(
            f"Unsupported parameter: 'reasoning_effort' is not supported with this model ({model_id}).",
            param="reasoning_effort",
            code="unsupported_parameter",
        )
    if effort not in REASONING_BUDGETS:
        raise invalid(
            f"Invalid value: '{effort}'. Supported values are: {', '.join(repr(e) for e in REASONING_BUDGETS)}.",
            param="reasoning_effort",
            code="invalid_value",
        )
    return REASONING_BUDGETS[effort]


# What declared functions cost in the prompt: OpenAI renders them into the system message
# (a TypeScript-like namespace); their name, description and parameter JSON, plus framing.
TOKENS_PER_FUNCTION = 8
TOKENS_FOR_FUNCTIONS = 12


def tools_prompt_tokens(count: Callable[[str], int], tools: tuple[ToolSpec, ...]) -> int:
    """Prompt tokens the declared functions add (0 without tools)."""
    if not tools:
        return 0
    total = TOKENS_FOR_FUNCTIONS
    for tool in tools:
        total += TOKENS_PER_FUNCTION + count(tool.name) + count(tool.description)
        total += count(orjson.dumps(tool.parameters).decode())
    return total


def check_reasoning_model_params(body: JsonObject, model_id: str, spec: ModelSpec) -> None:
    """OpenAI's reasoning models refuse ``max_tokens`` and sampling settings other than the defaults."""
    if "reasoning" not in spec.capabilities or spec.provider != "openai":
        return
    if body.get("max_tokens") is not None:
        raise invalid(
            "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' "
            "instead.",
            param="max_tokens",
            code="unsupported_parameter",
        )
    for name in ("temperature", "top_p"):
        value = body.get(name)
        if value is not None and value != 1:
            raise invalid(
                f"Unsupported value: '{name}' does not support {value} with this model ({model_id}). Only the "
                "default (1) value is supported.",
                param=name,
                code="unsupported_value",
            )
