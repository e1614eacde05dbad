"""Gemini function calling, structured output and thinking.

Covers ``tools``, ``toolConfig``, ``responseMimeType`` + ``responseSchema`` /
``responseJsonSchema`` and ``thinkingConfig``. Fields are read in either casing (see
``fields``). Schemas in Gemini's OpenAPI dialect (uppercase types, ``nullable``) are
normalised by the engine's schema package.
"""

from __future__ import annotations

import re
from typing import Any

from llm_simulator.core.errors import invalid
from llm_simulator.core.types import Message, OutputFormat, OutputKind, ToolChoice, ToolChoiceMode, ToolSpec
from llm_simulator.engine.catalogue import ModelSpec
from llm_simulator.engine.schema import SchemaError, check_schema
from llm_simulator.engine.simulator import Simulator
from llm_simulator.providers.gemini import fields
from llm_simulator.providers.gemini.fields import snake
from llm_simulator.providers.validation import JsonObject, json_text

NAME_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_.:-]{0,63}")
DECLARATION_FIELDS = (
    "name",
    "description",
    "parameters",
    "parametersJsonSchema",
    "response",
    "responseJsonSchema",
    "behavior",
)
TOOL_FIELDS = (
    "functionDeclarations",
    "googleSearch",
    "googleSearchRetrieval",
    "codeExecution",
    "urlContext",
    "computerUse",
    "fileSearch",
    "googleMaps",
    "mcpServers",
)
MODES = {
    "AUTO": ToolChoiceMode.AUTO,
    "ANY": ToolChoiceMode.REQUIRED,
    "NONE": ToolChoiceMode.NONE,
    "VALIDATED": ToolChoiceMode.AUTO,
}
# Dynamic thinking (the 2.5+ default, thinkingBudget -1): the real Flash models think a few
# hundred tokens at ~200 tokens/s; at the "gemini" profile's slower decode pace a 256-token
# budget keeps the default time to first token in the same few seconds. An explicit
# thinkingBudget or thinkingLevel gets exactly what it asks for.
DYNAMIC_THINKING_BUDGET = 256
THINKING_LEVELS = {"MINIMAL": 128, "LOW": 512, "MEDIUM": 1024, "HIGH": 4096}
JSON_MIME = "application/json"
ENUM_MIME = "text/x.enum"


# The multi-word fields of Gemini's ``Schema`` message, which the SDK sends in snake_case
# (``types.Schema`` serialised by field name): their lowerCamelCase JSON names.
SCHEMA_CAMEL_FIELDS: dict[str, str] = {
    snake(name): name
    for name in (
        "anyOf",
        "maxItems",
        "minItems",
        "maxLength",
        "minLength",
        "maxProperties",
        "minProperties",
        "propertyOrdering",
    )
}


# Past this depth a schema is left as sent: the schema check refuses it as nested too deeply.
CAMEL_MAX_DEPTH = 300


def camel_schema(value: Any, depth: int = 0) -> Any:
    """A Gemini ``Schema`` (``responseSchema``, a declaration's ``parameters``) with its field names in lowerCamelCase.

    The API reads a proto message's fields in either casing; the engine's schema package
    reads JSON Schema's camelCase keywords. Only ``Schema`` messages are walked (``items``,
    each of ``properties``' values, ``anyOf``'s members): property names are data, and stay.
    ``responseJsonSchema`` and ``parametersJsonSchema`` are JSON Schema, not this message,
    and do not come here.
    """
    if not isinstance(value, dict) or depth > CAMEL_MAX_DEPTH:
        return value
    out: dict[str, Any] = {}
    for key, field in value.items():
        name = SCHEMA_CAMEL_FIELDS.get(key) or key
        if name in value and name != key:
            continue  # both spellings: the camelCase one is kept
        if name == "items":
            out[name] = camel_schema(field, depth + 1)
        elif name == "properties" and isinstance(field, dict):
            out[name] = {prop: camel_schema(sub, depth + 1) for prop, sub in field.items()}
        elif name == "anyOf" and isinstance(field, list):
            out[name] = [camel_schema(sub, depth + 1) for sub in field]
        else:
            out[name] = field
    if "anyOf" in out and "properties" not in out and str(out.get("type", "")).upper() == "OBJECT":
        # google-genai declares a ``Union`` parameter as ``type: OBJECT`` with ``any_of`` its
        # members (``_automatic_function_calling_util``), which the API serves: the type is
        # a placeholder there, not a constraint every member must also meet.
        del out["type"]
    return out


def _schema(value: Any, where: str) -> dict[str, Any]:
    try:
        check_schema(value)
    except SchemaError as exc:
        raise invalid(f"* GenerateContentRequest.{where}: {exc}", param=where) from None
    if not isinstance(value, dict):
        raise invalid(f"* GenerateContentRequest.{where}: the schema must be an object.", param=where)
    return value


def parse_tools(sim: Simulator, body: JsonObject) -> tuple[tuple[ToolSpec, ...], int]:
    """The function declarations of ``tools`` and the prompt tokens the definitions cost."""
    raw = fields.get_list(body, "tools", "tools") or []
    declared: list[ToolSpec] = []
    tokens = 0
    for i, tool in enumerate(raw):
        where = f"tools[{i}]"
        if not isinstance(tool, dict):
            raise invalid(f"Invalid JSON payload received. Expected an object for '{where}'.", param=where)
        fields.check_known(tool, TOOL_FIELDS, where)
        tokens += sim.count_tokens(json_text(tool, where))
        for j, declaration in enumerate(
            fields.get_list(tool, "functionDeclarations", f"{where}.function_declarations") or []
        ):
            at = f"{where}.function_declarations[{j}]"
            if not isinstance(declaration, dict):
                raise invalid(f"Invalid JSON payload received. Expected an object for '{at}'.", param=at)
            fields.check_known(declaration, DECLARATION_FIELDS, at)
            name = fields.get_str(declaration, "name", f"{at}.name") or ""
            if not NAME_PATTERN.fullmatch(name):
                raise invalid(
                    f"* GenerateContentRequest.{at}.name: Invalid function name. Must start with a letter or an "
                    "underscore. Must be alphameric (a-z, A-Z, 0-9), underscores (_), dots (.), colons (:), or "
                    "dashes (-), with a maximum length of 64.",
                    param=f"{at}.name",
                )
            schema = fields.get(declaration, "parametersJsonSchema")
            if schema is None:
                schema = camel_schema(fields.get(declaration, "parameters"))
            parameters: dict[str, object] = {"type": "object"}
            if schema is not None:
                parameters = _schema(schema, f"{at}.parameters")
            description = fields.get_str(declaration, "description", f"{at}.description") or ""
            declared.append(ToolSpec(name, description, parameters))
    return tuple(declared), tokens


def parse_tool_config(body: JsonObject, tools: tuple[ToolSpec, ...]) -> tuple[tuple[ToolSpec, ...], ToolChoice]:
    """``toolConfig.functionCallingConfig``: the callable tools and how the model may call them."""
    config = fields.get_object(body, "toolConfig", "tool_config")
    calling = (
        fields.get_object(config, "functionCallingConfig", "tool_config.function_calling_config") if config else None
    )
    if calling is None:
        return tools, ToolChoice(ToolChoiceMode.AUTO if tools else ToolChoiceMode.NONE)
    where = "tool_config.function_calling_config"
    mode_name = (fields.get_str(calling, "mode", f"{where}.mode") or "AUTO").upper()
    if mode_name not in MODES:
        raise invalid(f"Invalid value at '{where}.mode' (type.googleapis.com/Mode), \"{mode_name}\"", param=where)
    allowed = fields.get_list(calling, "allowedFunctionNames", f"{where}.allowed_function_names")
    if allowed:
        if mode_name != "ANY":
            raise invalid(
                f"* GenerateContentRequest.{where}.allowed_function_names: only allowed when mode is ANY.", param=where
            )
        unknown = [name for name in allowed if name not in {t.name for t in tools}]
        if unknown:
            raise invalid(
                f"* GenerateContentRequest.{where}.allowed_function_names: function '{unknown[0]}' is not declared.",
                param=where,
            )
        tools = tuple(t for t in tools if t.name in allowed)
        if len(tools) == 1:
            return tools, ToolChoice(ToolChoiceMode.NAMED, tools[0].name)
    if MODES[mode_name] is not ToolChoiceMode.NONE and not tools:
        raise invalid(f"* GenerateContentRequest.{where}.mode: {mode_name} requires function declarations.", where)
    return tools, ToolChoice(MODES[mode_name])


def parse_output(config: JsonObject | None, messages: tuple[Message, ...]) -> OutputFormat:
    """``responseMimeType`` with ``responseSchema`` / ``responseJsonSchema``."""
    if config is None:
        return OutputFormat()
    where = "generation_config"
    mime = fields.get_str(config, "responseMimeType", f"{where}.response_mime_type") or "text/plain"
    schema = fields.get(config, "responseJsonSchema")
    if schema is None:
        schema = camel_schema(fields.get(config, "responseSchema"))
    if mime not in ("text/plain", JSON_MIME, ENUM_MIME):
        raise invalid(
            f"* GenerateContentRequest.{where}.response_mime_type: allowed mimetypes are `text/plain`, "
            f"`application/json`, `text/x.enum`, got `{mime}`.",
            param=f"{where}.response_mime_type",
        )
    if schema is not None and mime == "text/plain":
        raise invalid(
            f"* GenerateContentRequest.{where}.response_schema: response_mime_type must be set to "
            "`application/json` or `text/x.enum` when a response schema is given.",
            param=f"{where}.response_schema",
        )
    if mime == "text/plain":
        return OutputFormat()
    if schema is None:
        if mime == ENUM_MIME:
            raise invalid(f"* GenerateContentRequest.{where}.response_schema: required for text/x.enum.", where)
        return OutputFormat(OutputKind.JSON_OBJECT)
    checked = _schema(schema, f"{where}.response_schema")
    if mime == ENUM_MIME and not isinstance(checked.get("enum"), list):
        raise invalid(
            f"* GenerateContentRequest.{where}.response_schema: text/x.enum needs a schema with an `enum`.",
            param=f"{where}.response_schema",
        )
    if mime == ENUM_MIME:
        return OutputFormat(OutputKind.ENUM, checked, "enum")
    return OutputFormat(OutputKind.JSON_SCHEMA, checked, "response")


def thinking_budget(config: JsonObject | None, spec: ModelSpec) -> tuple[int, bool]:
    """The thinking budget (0: no thinking) and whether thoughts are returned (``includeThoughts``)."""
    reasons = "reasoning" in spec.capabilities
    thinking = fields.get_object(config, "thinkingConfig", "generation_config.thinking_config") if config else None
    if thinking is None:
        # Flash-Lite is the one 2.5 model whose thinking is off unless asked for.
        return (DYNAMIC_THINKING_BUDGET if reasons and "flash-lite" not in spec.id else 0), False
    where = "generation_config.thinking_config"
    include = bool(fields.get_bool(thinking, "includeThoughts", f"{where}.include_thoughts"))
    budget = fields.get_int(thinking, "thinkingBudget", f"{where}.thinking_budget", minimum=-1)
    level = fields.get_str(thinking, "thinkingLevel", f"{where}.thinking_level")
    if budget is not None and level is not None:
        raise invalid(f"* GenerateContentRequest.{where}: set thinking_budget or thinking_level, not both.", where)
    if not reasons:
        if budget or level or include:
            raise invalid(f"* GenerateContentRequest.{where}: thinking is not supported by this model.", where)
        return 0, False
    if level is not None:
        if level.upper() not in THINKING_LEVELS:
            raise invalid(
                f"Invalid value at '{where}.thinking_level' (type.googleapis.com/ThinkingLevel), \"{level}\"", where
            )
        return THINKING_LEVELS[level.upper()], include
    if budget is None or budget == -1:
        return DYNAMIC_THINKING_BUDGET, include
    # The API's ranges: Pro models cannot turn thinking off and allow more of it.
    low, high = (128, 32_768) if "-pro" in spec.id else (0, 24_576)
    if budget == 0 and low:
        raise invalid("Budget 0 is invalid. This model only works in thinking mode.", param=f"{where}.thinking_budget")
    if not low <= budget <= high and budget != 0:
        raise invalid(
            f"The thinking budget {budget} is invalid. Please choose a value between {low} and {high}.",
            param=f"{where}.thinking_budget",
        )
    return budget, include
