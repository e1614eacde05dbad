"""A Converse / ConverseStream body read into a neutral ``GenerationRequest``, in Bedrock's wording.

Content blocks, tools and tool choices are unions (an object with exactly one member:
``{"text": …}``, ``{"toolUse": …}``, ``{"auto": {}}``). Errors are ``ValidationException``s
naming the field the way Bedrock does (``messages.0.content.1``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from llm_simulator.core.errors import ErrorKind, SimulatorError, invalid
from llm_simulator.core.types import (
    Endpoint,
    GenerationRequest,
    Message,
    ToolChoice,
    ToolChoiceMode,
    ToolSpec,
)
from llm_simulator.engine.schema import SchemaError, check_schema
from llm_simulator.engine.simulator import Simulator
from llm_simulator.providers.bedrock.models import BedrockModel
from llm_simulator.providers.seeding import header_seed
from llm_simulator.providers.validation import (
    JsonObject,
    get_int,
    get_list,
    get_number,
    get_object,
    get_str,
    json_text,
    missing,
    type_error,
)

ROLES = ("user", "assistant")
CONTENT_MEMBERS = frozenset(
    {
        "text",
        "image",
        "document",
        "video",
        "audio",
        "toolUse",
        "toolResult",
        "guardContent",
        "cachePoint",
        "reasoningContent",
        "citationsContent",
        "searchResult",
    }
)
SYSTEM_MEMBERS = frozenset({"text", "guardContent", "cachePoint"})
# A few tokens of framing per turn and to open the reply (the Messages API's count, which
# Claude on Bedrock reports too); images and binary documents at a flat cost.
TOKENS_PER_MESSAGE = 4
REPLY_PRIMING_TOKENS = 3
MEDIA_TOKENS = 1_600
MAX_STOP_SEQUENCES = 2_500
# The service model's enums and patterns that boto3 leaves to the server (botocore's
# ``bedrock-runtime`` 2023-09-30 shapes ``ImageFormat``, ``DocumentFormat``,
# ``ToolResultStatus``, ``CachePointType``, ``ToolName`` and ``ToolUseId``).
IMAGE_FORMATS = ("png", "jpeg", "gif", "webp")
DOCUMENT_FORMATS = ("pdf", "csv", "doc", "docx", "xls", "xlsx", "html", "txt", "md")
TOOL_RESULT_STATUSES = ("success", "error")
CACHE_POINT_TYPES = ("default",)
TOOL_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")
TOOL_USE_ID = re.compile(r"[a-zA-Z0-9_.:-]{1,64}")
# Bedrock's refusal of tool blocks in a conversation that defines no tools.
TOOL_CONFIG_REQUIRED = "The toolConfig field must be defined when using toolUse and toolResult content blocks."


def _enum(value: Any, where: str, allowed: tuple[str, ...]) -> None:
    """Bedrock's refusal of a value outside a modeled enum (``Member must satisfy enum value set``)."""
    if value not in allowed:
        raise invalid(
            f"Value '{value}' at '{where}' failed to satisfy constraint: Member must satisfy enum value set: "
            f"[{', '.join(allowed)}]",
            param=where,
        )


def _pattern(value: str, where: str, pattern: re.Pattern[str]) -> None:
    """Bedrock's refusal of a name or id outside its modeled pattern and length (1 to 64)."""
    if not pattern.fullmatch(value):
        raise invalid(
            f"Value '{value}' at '{where}' failed to satisfy constraint: Member must satisfy regular expression "
            f"pattern: {pattern.pattern.removesuffix('{1,64}')}+ and have length between 1 and 64",
            param=where,
        )


@dataclass(frozen=True, slots=True)
class ConverseRequest:
    """A parsed Converse body: the neutral request and the model it is for."""

    request: GenerationRequest
    model: BedrockModel


def union_member(value: Any, where: str, members: frozenset[str]) -> tuple[str, Any]:
    """The one member of a union object (Bedrock's content blocks, tools, tool choices)."""
    if not isinstance(value, dict):
        raise type_error(where, "an object", value)
    if len(value) != 1:
        raise invalid(f"{where}: exactly one member of the union must be set, got {len(value)}.", param=where)
    ((name, inner),) = value.items()
    if name not in members:
        raise invalid(f"{where}: unknown member '{name}'; expected one of {', '.join(sorted(members))}.", param=where)
    return name, inner


def _block_text(sim: Simulator, block: Any, where: str) -> tuple[str, int]:
    """The readable text of one content block and any flat token cost beyond it."""
    kind, inner = union_member(block, where, CONTENT_MEMBERS)
    if kind == "text":
        if not isinstance(inner, str):
            raise type_error(f"{where}.text", "a string", inner)
        if not inner.strip():
            raise invalid(f"{where}.text: the text field in the ContentBlock object is blank.", param=where)
        return inner, 0
    if kind == "toolUse":
        if not isinstance(inner, dict):
            raise type_error(f"{where}.toolUse", "an object", inner)
        use_id = get_str(inner, "toolUseId", f"{where}.toolUse.toolUseId", required=True) or ""
        _pattern(use_id, f"{where}.toolUse.toolUseId", TOOL_USE_ID)
        name = get_str(inner, "name", f"{where}.toolUse.name", required=True) or ""
        _pattern(name, f"{where}.toolUse.name", TOOL_NAME)
        if "input" not in inner:
            raise missing(f"{where}.toolUse.input")
        return name + " " + json_text(inner["input"], f"{where}.toolUse.input"), 0
    if kind == "toolResult":
        if not isinstance(inner, dict):
            raise type_error(f"{where}.toolResult", "an object", inner)
        use_id = get_str(inner, "toolUseId", f"{where}.toolResult.toolUseId", required=True) or ""
        _pattern(use_id, f"{where}.toolResult.toolUseId", TOOL_USE_ID)
        if "status" in inner:
            _enum(inner["status"], f"{where}.toolResult.status", TOOL_RESULT_STATUSES)
        content = get_list(inner, "content", f"{where}.toolResult.content", required=True) or []
        return json_text(content, f"{where}.toolResult.content"), 0
    if kind == "reasoningContent":
        return "", 0  # earlier turns' reasoning is not part of the context
    if kind == "cachePoint":
        _cache_point(inner, where)
        return "", 0
    if kind in ("citationsContent", "searchResult", "guardContent"):
        return json_text(inner, where), 0
    if kind in ("image", "document"):
        if not isinstance(inner, dict):
            raise type_error(f"{where}.{kind}", "an object", inner)
        if "format" in inner:
            _enum(inner["format"], f"{where}.{kind}.format", IMAGE_FORMATS if kind == "image" else DOCUMENT_FORMATS)
    return "", MEDIA_TOKENS  # image, document, video, audio


def _cache_point(inner: Any, where: str) -> None:
    """A cache point's ``type`` (``default``, the only one)."""
    if not isinstance(inner, dict):
        raise type_error(f"{where}.cachePoint", "an object", inner)
    if "type" not in inner:
        raise missing(f"{where}.cachePoint.type")
    _enum(inner["type"], f"{where}.cachePoint.type", CACHE_POINT_TYPES)


@dataclass(slots=True)
class _ToolTurns:
    """The tool calls of the last assistant turn, which the next user turn must answer (Bedrock's rule)."""

    open_ids: list[str] = field(default_factory=list)
    seen_tool_blocks: bool = False

    def check(self, index: int, role: str, content: list[Any]) -> None:
        """Turn ``index``: its results answer exactly the calls before it; its own calls open the next."""
        uses = [b["toolUse"]["toolUseId"] for b in content if isinstance(b, dict) and "toolUse" in b]
        results = [b["toolResult"]["toolUseId"] for b in content if isinstance(b, dict) and "toolResult" in b]
        self.seen_tool_blocks = self.seen_tool_blocks or bool(uses or results)
        if role == "user":
            where = f"messages.{index}.content"
            if len(results) > len(self.open_ids):
                raise invalid(
                    f"The number of toolResult blocks at {where} exceeds the number of toolUse blocks of previous "
                    "turn.",
                    param=where,
                )
            unanswered = [use_id for use_id in self.open_ids if use_id not in results]
            if unanswered:
                raise invalid(
                    f"Expected toolResult blocks at {where} for the following Ids: {', '.join(unanswered)}",
                    param=where,
                )
        self.open_ids = uses if role == "assistant" else []


def _messages(sim: Simulator, body: JsonObject) -> tuple[tuple[Message, ...], int, bool]:
    """The turns, their token count, and whether the last one carries tool results."""
    raw = get_list(body, "messages", required=True)
    assert raw is not None
    if not raw:
        raise invalid("messages: the conversation must contain at least one message.", param="messages")
    turns: list[Message] = []
    tokens = REPLY_PRIMING_TOKENS
    tool_result = False
    previous = ""
    tool_turns = _ToolTurns()
    for i, item in enumerate(raw):
        where = f"messages.{i}"
        if not isinstance(item, dict):
            raise type_error(where, "an object", item)
        role = get_str(item, "role", f"{where}.role", required=True)
        if role not in ROLES:
            raise invalid(f"{where}.role: Member must satisfy enum value set: [user, assistant]", param=where)
        if i == 0 and role != "user":
            raise invalid(
                "A conversation must start with a user message. Try again with a conversation that "
                "starts with a user message.",
                param="messages",
            )
        if role == previous:
            raise invalid(
                "A conversation must alternate between user and assistant roles. Make sure the "
                "conversation alternates between user and assistant roles and try again.",
                param=where,
            )
        previous = role
        content = get_list(item, "content", f"{where}.content", required=True) or []
        if not content:
            raise invalid(f"{where}.content: the content field in the Message object is empty.", param=where)
        texts = []
        for j, block in enumerate(content):
            text, extra = _block_text(sim, block, f"{where}.content.{j}")
            texts.append(text)
            tokens += extra
        tool_turns.check(i, role, content)
        tool_result = role == "user" and any(isinstance(b, dict) and "toolResult" in b for b in content)
        text = "\n".join(t for t in texts if t)
        tokens += sim.count_tokens(text) + TOKENS_PER_MESSAGE
        turns.append(Message(role, text))
    if tool_turns.seen_tool_blocks and body.get("toolConfig") is None:
        raise invalid(TOOL_CONFIG_REQUIRED, param="toolConfig")
    return tuple(turns), tokens, tool_result


def _system(sim: Simulator, body: JsonObject) -> tuple[tuple[Message, ...], int]:
    raw = get_list(body, "system") or []
    texts = []
    for i, block in enumerate(raw):
        kind, inner = union_member(block, f"system.{i}", SYSTEM_MEMBERS)
        if kind == "text":
            if not isinstance(inner, str) or not inner:
                raise invalid(f"system.{i}.text: Member must have length greater than or equal to 1", param="system")
            texts.append(inner)
    if not texts:
        return (), 0
    text = "\n".join(texts)
    return (Message("system", text),), sim.count_tokens(text) + TOKENS_PER_MESSAGE


def _tool(item: Any, where: str) -> ToolSpec | None:
    kind, inner = union_member(item, where, frozenset({"toolSpec", "systemTool", "cachePoint"}))
    if kind != "toolSpec":
        return None  # a cache point, or a Bedrock-run system tool: accepted, never called
    if not isinstance(inner, dict):
        raise type_error(f"{where}.toolSpec", "an object", inner)
    name = get_str(inner, "name", f"{where}.toolSpec.name", required=True) or ""
    if not name or len(name) > 64:
        raise invalid(f"{where}.toolSpec.name: Member must have length between 1 and 64", param=where)
    _pattern(name, f"{where}.toolSpec.name", TOOL_NAME)
    schema_union = get_object(inner, "inputSchema", f"{where}.toolSpec.inputSchema")
    if schema_union is None:
        raise missing(f"{where}.toolSpec.inputSchema")
    _, schema = union_member(schema_union, f"{where}.toolSpec.inputSchema", frozenset({"json"}))
    if not isinstance(schema, dict):
        raise type_error(f"{where}.toolSpec.inputSchema.json", "an object", schema)
    try:
        check_schema(schema)
    except SchemaError as exc:
        raise invalid(f"{where}.toolSpec.inputSchema.json: the JSON schema is invalid: {exc}", param=where) from None
    return ToolSpec(name, get_str(inner, "description", f"{where}.toolSpec.description") or "", schema)


def _tools(body: JsonObject) -> tuple[tuple[ToolSpec, ...], ToolChoice, str]:
    """The tools, the tool choice and the JSON text the definitions cost."""
    config = get_object(body, "toolConfig")
    if config is None:
        return (), ToolChoice(ToolChoiceMode.NONE), ""
    raw = get_list(config, "tools", "toolConfig.tools", required=True) or []
    if not raw:
        raise invalid("toolConfig.tools: Member must have length greater than or equal to 1", param="toolConfig")
    tools = tuple(t for i, item in enumerate(raw) if (t := _tool(item, f"toolConfig.tools.{i}")) is not None)
    names = [t.name for t in tools]
    if len(set(names)) != len(names):
        raise invalid("toolConfig.tools: the tool names must be unique.", param="toolConfig.tools")
    choice = ToolChoice(ToolChoiceMode.AUTO)
    raw_choice = config.get("toolChoice")
    if raw_choice is not None:
        kind, inner = union_member(raw_choice, "toolConfig.toolChoice", frozenset({"auto", "any", "tool"}))
        if kind == "any":
            choice = ToolChoice(ToolChoiceMode.REQUIRED)
        elif kind == "tool":
            name = get_str(inner if isinstance(inner, dict) else {}, "name", "toolConfig.toolChoice.tool.name")
            if name not in names:
                raise invalid(
                    f"toolConfig.toolChoice.tool.name: the tool '{name}' is not in toolConfig.tools.",
                    param="toolConfig.toolChoice",
                )
            choice = ToolChoice(ToolChoiceMode.NAMED, name)
    return tools, choice, json_text(raw, "toolConfig.tools")


def _stop_sequences(config: JsonObject) -> tuple[str, ...]:
    raw = get_list(config, "stopSequences", "inferenceConfig.stopSequences") or []
    if len(raw) > MAX_STOP_SEQUENCES:
        raise invalid(f"inferenceConfig.stopSequences: at most {MAX_STOP_SEQUENCES} items.", param="inferenceConfig")
    for i, item in enumerate(raw):
        if not isinstance(item, str) or not item:
            raise invalid(
                f"inferenceConfig.stopSequences.{i}: Member must have length greater than or equal to 1",
                param="inferenceConfig.stopSequences",
            )
    return tuple(raw)


def check_limits(model: BedrockModel, prompt_tokens: int, max_tokens: int | None) -> None:
    """Bedrock's refusals of a too-long input or a too-large ``maxTokens`` (when one is asked for)."""
    spec = model.spec
    if max_tokens is not None and max_tokens > spec.max_output_tokens:
        raise invalid(
            f"The maximum tokens you requested exceeds the model limit of {spec.max_output_tokens}. Try again "
            f"with a maximum tokens value that is lower than {spec.max_output_tokens}.",
            param="maxTokens",
        )
    if prompt_tokens + (max_tokens or 0) > spec.context_window:
        raise SimulatorError(
            ErrorKind.CONTEXT_LENGTH,
            f"Input is too long for requested model ({prompt_tokens} input + {max_tokens or 0} output tokens > "
            f"{spec.context_window}).",
            param="messages",
        )


def parse_converse(
    sim: Simulator, headers: Mapping[str, str], body: JsonObject, model: BedrockModel
) -> ConverseRequest:
    """Validate a Converse body for ``model`` into a neutral request."""
    messages, tokens, follows_tool_result = _messages(sim, body)
    system, system_tokens = _system(sim, body)
    config = get_object(body, "inferenceConfig") or {}
    max_tokens = get_int(config, "maxTokens", "inferenceConfig.maxTokens", minimum=1)
    get_number(config, "temperature", "inferenceConfig.temperature", minimum=0, maximum=1)
    get_number(config, "topP", "inferenceConfig.topP", minimum=0, maximum=1)
    stop = _stop_sequences(config)
    get_object(body, "additionalModelRequestFields")
    tools, choice, tool_text = _tools(body)
    prompt_tokens = tokens + system_tokens + (sim.count_tokens(tool_text) if tool_text else 0)
    check_limits(model, prompt_tokens, max_tokens)
    # Without maxTokens the model may write up to its own output cap.
    limit = max_tokens if max_tokens is not None else model.spec.max_output_tokens
    gen = GenerationRequest(
        model=model.spec.id,
        endpoint=Endpoint.CHAT,
        messages=system + messages,
        prompt_tokens=prompt_tokens,
        max_tokens=limit,
        stop=stop,
        seed=header_seed(headers),
        tools=tools,
        tool_choice=choice,
        follows_tool_result=follows_tool_result,
    )
    return ConverseRequest(gen, model)
