"""Messages API ``tools``, ``tool_choice`` and ``thinking``, validated in the API's wording.

A tool with ``strict: true`` has its ``input_schema`` held to the structured-outputs subset
(``schema_rules``); its calls are generated from that schema, so their ``input`` always
validates against it, as with the API's constrained decoding.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from llm_simulator.core.errors import invalid
from llm_simulator.core.types import ToolChoice, ToolChoiceMode, ToolSpec
from llm_simulator.engine.schema import SchemaError, check_schema
from llm_simulator.engine.simulator import Simulator
from llm_simulator.providers.anthropic.described import restore_described
from llm_simulator.providers.anthropic.structured import checked_strict_schema
from llm_simulator.providers.validation import (
    JsonObject,
    get_bool,
    get_int,
    get_list,
    get_object,
    get_str,
    json_text,
    missing,
    type_error,
)

NAME_PATTERN = re.compile(r"[a-zA-Z0-9_-]{1,128}")
# Claude's tool-use system prompt costs input tokens whenever tools are offered (Anthropic
# documents 346 for auto/none and 313 for any/tool on current models).
TOOLS_SYSTEM_TOKENS = {ToolChoiceMode.AUTO: 346, ToolChoiceMode.NONE: 346}
TOOLS_SYSTEM_TOKENS_FORCED = 313
MIN_THINKING_BUDGET = 1024
# An "adaptive" thinking request lets the model pick its effort; it spends about this much.
ADAPTIVE_THINKING_BUDGET = 2048


@dataclass(frozen=True, slots=True)
class ToolUse:
    """The parsed tool part of a Messages request."""

    tools: tuple[ToolSpec, ...]
    choice: ToolChoice
    parallel: bool
    prompt_tokens: int  # what the definitions and the tool-use system prompt cost
    strict_schemas: tuple[dict[str, Any], ...] = ()  # the input schemas of the strict tools


def _custom_tool(item: JsonObject, where: str, name: str) -> tuple[ToolSpec, bool]:
    """A custom tool and whether it is ``strict`` (its schema then in the structured-outputs subset)."""
    if not NAME_PATTERN.fullmatch(name):
        raise invalid(f"{where}.name: String should match pattern '^[a-zA-Z0-9_-]{{1,128}}$'", param=f"{where}.name")
    schema = item.get("input_schema")
    if schema is None:
        raise missing(f"{where}.input_schema")
    if not isinstance(schema, dict) or schema.get("type") != "object":
        raise invalid(f"{where}.input_schema.type: Input should be 'object'", param=f"{where}.input_schema")
    strict = get_bool(item, "strict", f"{where}.strict")
    if strict:
        # Calls are generated with the constraints an SDK moved into descriptions restored.
        schema = restore_described(checked_strict_schema(schema, f"{where}.input_schema"))
    else:
        try:
            check_schema(schema)
        except SchemaError as exc:
            raise invalid(
                f"{where}.input_schema: JSON schema is invalid: {exc}", param=f"{where}.input_schema"
            ) from None
    return ToolSpec(name, get_str(item, "description", f"{where}.description") or "", schema), strict


def _tool(item: Any, where: str) -> tuple[ToolSpec, bool] | None:
    """A custom tool and its ``strict`` flag (None for Anthropic-defined server/client tools, never called)."""
    if not isinstance(item, dict):
        raise type_error(where, "an object", item)
    kind = get_str(item, "type", f"{where}.type")
    name = get_str(item, "name", f"{where}.name", required=True) or ""
    if kind not in (None, "custom"):
        return None  # e.g. web_search_20250305, bash_20250124: accepted, not simulated
    return _custom_tool(item, where, name)


# What a body without ``tools`` and ``tool_choice`` parses to (most bodies): built once.
NO_TOOL_USE = ToolUse((), ToolChoice(ToolChoiceMode.NONE), True, 0)


def parse_tools(sim: Simulator, body: JsonObject) -> ToolUse:
    """``tools`` and ``tool_choice`` (auto, any, tool, none; ``disable_parallel_tool_use``)."""
    if body.get("tools") is None and body.get("tool_choice") is None:
        return NO_TOOL_USE
    raw = get_list(body, "tools") or []
    tools: list[ToolSpec] = []
    strict: list[dict[str, Any]] = []
    tokens = 0
    for i, item in enumerate(raw):
        parsed = _tool(item, f"tools.{i}")
        tokens += sim.count_tokens(json_text(item, f"tools.{i}"))
        if parsed is not None:
            tool, is_strict = parsed
            tools.append(tool)
            if is_strict:
                strict.append(tool.parameters)
    names = [t.name for t in tools]
    for name in names:
        if names.count(name) > 1:
            raise invalid(f"tools: Tool names must be unique. Duplicate: '{name}'", param="tools")
    choice, parallel = _tool_choice(body, tools)
    if raw:
        forced = choice.mode in (ToolChoiceMode.REQUIRED, ToolChoiceMode.NAMED)
        tokens += TOOLS_SYSTEM_TOKENS_FORCED if forced else TOOLS_SYSTEM_TOKENS[choice.mode]
    return ToolUse(tuple(tools), choice, parallel, tokens, tuple(strict))


def _tool_choice(body: JsonObject, tools: list[ToolSpec]) -> tuple[ToolChoice, bool]:
    raw = get_object(body, "tool_choice")
    if raw is None:
        return ToolChoice(ToolChoiceMode.AUTO if tools else ToolChoiceMode.NONE), True
    kind = get_str(raw, "type", "tool_choice.type", required=True)
    parallel = not get_bool(raw, "disable_parallel_tool_use", "tool_choice.disable_parallel_tool_use")
    modes = {"auto": ToolChoiceMode.AUTO, "any": ToolChoiceMode.REQUIRED, "none": ToolChoiceMode.NONE}
    if kind in modes:
        if kind == "any" and not tools:
            raise invalid("tool_choice: 'any' requires at least one tool in 'tools'", param="tool_choice")
        return ToolChoice(modes[kind]), parallel
    if kind != "tool":
        raise invalid(
            f"tool_choice.type: Input tag '{kind}' found using 'type' does not match any of the expected tags: "
            "'auto', 'any', 'tool', 'none'",
            param="tool_choice.type",
        )
    name = get_str(raw, "name", "tool_choice.name", required=True)
    if name not in {t.name for t in tools}:
        raise invalid(f"tool_choice.name: Tool '{name}' not found in 'tools'", param="tool_choice.name")
    return ToolChoice(ToolChoiceMode.NAMED, name), parallel


# With thinking on, nucleus sampling may only narrow down to 0.95 (and top_k is refused).
MIN_THINKING_TOP_P = 0.95
THINKING_CONSIDERATIONS = (
    "Please consult our documentation at "
    "https://docs.claude.com/en/docs/build-with-claude/extended-thinking#important-considerations-when-using-extended-thinking"
)


def thinking_budget(body: JsonObject, max_tokens: int, reasons: bool) -> int:
    """The extended-thinking budget (0 when thinking is off)."""
    raw = get_object(body, "thinking")
    if raw is None:
        return 0
    kind = get_str(raw, "type", "thinking.type", required=True)
    if kind == "disabled":
        return 0
    if kind not in ("enabled", "adaptive"):
        raise invalid(
            f"thinking.type: Input tag '{kind}' found using 'type' does not match any of the expected tags: "
            "'enabled', 'disabled', 'adaptive'",
            param="thinking.type",
        )
    if not reasons:
        raise invalid("thinking: this model does not support extended thinking", param="thinking")
    temperature = body.get("temperature")
    if temperature is not None and temperature != 1:
        raise invalid("`temperature` may only be set to 1 when thinking is enabled.", param="temperature")
    if body.get("top_k") is not None:
        raise invalid(f"`top_k` must be unset when thinking is enabled. {THINKING_CONSIDERATIONS}", param="top_k")
    top_p = body.get("top_p")
    if top_p is not None and isinstance(top_p, int | float) and top_p < MIN_THINKING_TOP_P:
        raise invalid(
            f"`top_p` must be between {MIN_THINKING_TOP_P} and 1, or unset, when thinking is enabled. "
            f"{THINKING_CONSIDERATIONS}",
            param="top_p",
        )
    if kind == "adaptive":
        return min(ADAPTIVE_THINKING_BUDGET, max(max_tokens - 1, 0))
    budget = get_int(raw, "budget_tokens", "thinking.budget_tokens", minimum=MIN_THINKING_BUDGET)
    if budget is None:
        raise missing("thinking.enabled.budget_tokens")
    if budget >= max_tokens:
        raise invalid(
            f"`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation at "
            f"https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size "
            f"({max_tokens} <= {budget})",
            param="max_tokens",
        )
    return budget
