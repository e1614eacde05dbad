"""Reads a Messages request's ``system`` and ``messages`` into neutral turns and counts them.

Shared by ``/v1/messages`` and ``/v1/messages/count_tokens`` so both report the same
``input_tokens`` for the same prompt. Counting uses the simulator's tokenizer (o200k, not
Claude's own), plus a fixed framing cost per turn.
"""

from __future__ import annotations

from typing import Any

from llm_simulator.core.errors import invalid
from llm_simulator.core.types import Message
from llm_simulator.engine.simulator import Simulator
from llm_simulator.providers.validation import (
    JsonObject,
    get_list,
    get_str,
    json_text,
    missing,
    preview,
    type_error,
)

ROLES = ("user", "assistant")
# Framing of Claude's prompt format: a few tokens per turn, a few that open the reply.
TOKENS_PER_MESSAGE = 4
REPLY_PRIMING_TOKENS = 3
# Claude charges about (width × height) / 750 tokens per image; a 1092×1092 image (the size
# the API scales large images to) costs ≈ 1600. Sizes are not decoded, so every image and
# every binary document is charged that.
IMAGE_TOKENS = 1_600

# Every block type the API accepts in a message's content.
BLOCK_TYPES = frozenset(
    {
        "text",
        "image",
        "document",
        "search_result",
        "thinking",
        "redacted_thinking",
        "tool_use",
        "tool_result",
        "server_tool_use",
        "web_search_tool_result",
        "web_fetch_tool_result",
        "code_execution_tool_result",
        "bash_code_execution_tool_result",
        "text_editor_code_execution_tool_result",
        "tool_search_tool_result",
        "container_upload",
        "mcp_tool_use",
        "mcp_tool_result",
    }
)


TOOL_RESULT_BLOCK_TYPES = frozenset({"text", "image", "document", "search_result"})


def block_text(sim: Simulator, block: JsonObject, where: str) -> tuple[str, int]:
    """The readable text of one content block and the extra tokens it costs beyond that text."""
    kind = block.get("type")
    if not isinstance(kind, str):
        raise missing(f"{where}.type") if kind is None else type_error(f"{where}.type", "a string", kind)
    if kind not in BLOCK_TYPES:
        raise invalid(
            f"{where}.type: Input tag '{kind}' found using 'type' does not match any of the expected tags: "
            + ", ".join(f"'{t}'" for t in sorted(BLOCK_TYPES)),
            param=f"{where}.type",
        )
    if kind == "text":
        text = get_str(block, "text", f"{where}.text", required=True)
        if not text:
            raise invalid(f"{where}.text: text content blocks must be non-empty", param=f"{where}.text")
        return text, 0
    if kind == "image":
        _check_source(block, SOURCES["image"], f"{where}.source")
        return "", IMAGE_TOKENS
    if kind == "document":
        source = _check_source(block, SOURCES["document"], f"{where}.source")
        if source.get("type") == "text":
            return source["data"], 0
        return "", IMAGE_TOKENS
    if kind == "tool_result":
        get_str(block, "tool_use_id", f"{where}.tool_use_id", required=True)
        return _tool_result_text(sim, block, where), 0
    if kind == "tool_use":
        get_str(block, "id", f"{where}.id", required=True)
        name = get_str(block, "name", f"{where}.name", required=True) or ""
        arguments = block.get("input", {})
        if not isinstance(arguments, dict):
            raise invalid(f"{where}.input: Input should be a valid dictionary", param=f"{where}.input")
        return name + " " + json_text(arguments, f"{where}.input"), 0
    if kind == "thinking":
        get_str(block, "thinking", f"{where}.thinking", required=True)
        get_str(block, "signature", f"{where}.signature", required=True)
        return "", 0  # earlier turns' thinking is stripped from the context: it costs nothing
    if kind == "redacted_thinking":
        get_str(block, "data", f"{where}.data", required=True)
        return "", 0
    # Server-tool results and the like: charge their JSON as text.
    return json_text(block, where), 0


# Each source type an image or a document may have: the fields it requires, and the media
# types its ``media_type`` may name (None: the type has no media_type).
IMAGE_MEDIA = ("image/jpeg", "image/png", "image/gif", "image/webp")
SOURCES: dict[str, dict[str, tuple[tuple[str, ...], tuple[str, ...] | None]]] = {
    "image": {"base64": (("data",), IMAGE_MEDIA), "url": (("url",), None), "file": (("file_id",), None)},
    "document": {
        "base64": (("data",), ("application/pdf",)),
        "text": (("data",), ("text/plain",)),
        "url": (("url",), None),
        "file": (("file_id",), None),
        "content": ((), None),
    },
}


def _check_source(
    block: JsonObject, kinds: dict[str, tuple[tuple[str, ...], tuple[str, ...] | None]], where: str
) -> JsonObject:
    """An image's or document's ``source``, with what its type requires (the API's 400 otherwise)."""
    source = block.get("source")
    if source is None:
        raise missing(where)
    if not isinstance(source, dict):
        raise type_error(where, "an object", source)
    kind = get_str(source, "type", f"{where}.type", required=True)
    if kind not in kinds:
        raise invalid(
            f"{where}.type: Input tag '{kind}' found using 'type' does not match any of the expected tags: "
            + ", ".join(f"'{k}'" for k in sorted(kinds)),
            param=f"{where}.type",
        )
    required, media = kinds[kind]
    if media is not None:
        media_type = get_str(source, "media_type", f"{where}.media_type", required=True)
        if media_type not in media:
            allowed = ", ".join(f"'{m}'" for m in media[:-1]) + (" or " if len(media) > 1 else "") + f"'{media[-1]}'"
            raise invalid(f"{where}.media_type: Input should be {allowed}", param=f"{where}.media_type")
    for field in required:
        get_str(source, field, f"{where}.{field}", required=True)
    if kind == "content" and source.get("content") is None:
        raise missing(f"{where}.content")
    return source


def _tool_result_text(sim: Simulator, block: JsonObject, where: str) -> str:
    content = block.get("content")
    if content is None or isinstance(content, str):
        return content or ""
    if not isinstance(content, list):
        raise type_error(f"{where}.content", "a string or an array of content blocks", content)
    parts = []
    for i, inner in enumerate(content):
        inner_where = f"{where}.content.{i}"
        if not isinstance(inner, dict):
            raise type_error(inner_where, "an object", inner)
        kind = inner.get("type")
        # The API allows only these inside a tool result (so no nesting to recurse into).
        if kind not in TOOL_RESULT_BLOCK_TYPES:
            raise invalid(
                f"{inner_where}.type: Input tag {preview(kind)} found using 'type' does not match any of the "
                "expected tags: " + ", ".join(f"'{t}'" for t in sorted(TOOL_RESULT_BLOCK_TYPES)),
                param=f"{inner_where}.type",
            )
        text, _ = block_text(sim, inner, inner_where)
        parts.append(text)
    return "\n".join(parts)


def _content(sim: Simulator, content: Any, where: str) -> tuple[str, int]:
    """The text of a message's or system's content (string or blocks) and its extra tokens."""
    if isinstance(content, str):
        return content, 0
    if not isinstance(content, list):
        raise type_error(where, "a string or an array of content blocks", content)
    texts: list[str] = []
    extra = 0
    for i, block in enumerate(content):
        if not isinstance(block, dict):
            raise type_error(f"{where}.{i}", "an object", block)
        text, cost = block_text(sim, block, f"{where}.{i}")
        if text:
            texts.append(text)
        extra += cost
    return "\n".join(texts), extra


def parse_system(sim: Simulator, body: JsonObject) -> tuple[Message | None, int]:
    """The ``system`` prompt (a string or text blocks) as a neutral turn, and its tokens."""
    raw = body.get("system")
    if raw is None:
        return None, 0
    if isinstance(raw, list):
        for i, block in enumerate(raw):
            if not isinstance(block, dict) or block.get("type") != "text":
                raise invalid(f"system.{i}: system content blocks must be of type 'text'", param=f"system.{i}")
    text, extra = _content(sim, raw, "system")
    if not text and not extra:
        return None, 0
    return Message("system", text), sim.count_tokens(text) + extra + TOKENS_PER_MESSAGE


def parse_messages(sim: Simulator, body: JsonObject) -> tuple[tuple[Message, ...], int]:
    """System prompt plus turns as neutral messages, and the prompt's input token count."""
    raw = get_list(body, "messages", required=True)
    assert raw is not None
    if not raw:
        raise invalid("messages: at least one message is required", param="messages")
    system, tokens = parse_system(sim, body)
    messages: list[Message] = [system] if system is not None else []
    tokens += REPLY_PRIMING_TOKENS
    last = len(raw) - 1
    count = sim.count_tokens
    # The ids of the previous turn's ``tool_use`` blocks (empty when it had none): the next
    # turn must answer each of them, and may answer nothing else.
    uses: list[str] = []
    for i, item in enumerate(raw):
        # The usual turn, {"role": "user" | "assistant", "content": "non-empty text"}, needs
        # none of the checks below (nothing in it can be wrong): counted and kept at once.
        if type(item) is dict and len(item) == 2:
            role, content = item.get("role"), item.get("content")
            if type(content) is str and content and role in ROLES:
                if uses:
                    _check_results(uses, [], i)
                    uses = []
                tokens += TOKENS_PER_MESSAGE + count(content)
                messages.append(Message(role, content))
                continue
        where = f"messages.{i}"
        if not isinstance(item, dict):
            raise type_error(where, "an object", item)
        role = item.get("role")
        if role is None:
            raise missing(f"{where}.role")
        if role not in ROLES:
            hint = (
                '. The Messages API accepts a top-level `system` parameter, not "system" as an input message role'
                if role == "system"
                else ""
            )
            raise invalid(f"{where}.role: Input should be 'user' or 'assistant'{hint}", param=f"{where}.role")
        if "content" not in item:
            raise missing(f"{where}.content")
        text, extra = _content(sim, item["content"], f"{where}.content")
        content = item["content"]
        # Only a final assistant turn (a prefill the reply continues) may be empty.
        if not content and not (role == "assistant" and i == last):
            raise invalid(f"{where}: {role} messages must have non-empty content", param=f"{where}.content")
        tokens += TOKENS_PER_MESSAGE + sim.count_tokens(text) + extra
        blocks = content if isinstance(content, list) else []
        results = [(j, b["tool_use_id"]) for j, b in enumerate(blocks) if b["type"] == "tool_result"]
        _check_results(uses, results, i)
        uses = [b["id"] for b in blocks if b["type"] == "tool_use"] if role == "assistant" else []
        # A user turn returning tool results is a "tool" turn in neutral form, as in OpenAI's
        # format: "the last user message" then means the same on every provider.
        messages.append(Message("tool" if role == "user" and results else role, text))
    return tuple(messages), tokens


def _check_results(uses: list[str], results: list[tuple[int, str]], at: int) -> None:
    """Turn ``at``'s ``tool_result`` blocks (index, id) against the previous turn's ``tool_use`` ids.

    The API's rule and wording: every ``tool_use`` of an assistant turn is answered by a
    ``tool_result`` at the head of the very next turn (before any text), and a
    ``tool_result`` answers a ``tool_use`` of the turn just before it.
    """
    # Only results at the head of the turn count as "immediately after" (the API's rule: a
    # turn answering tool calls opens with its tool_result blocks; any text comes after them).
    answered = {call_id for position, (j, call_id) in enumerate(results) if j == position}
    left = [call_id for call_id in uses if call_id not in answered]
    if left:
        raise invalid(
            f"messages.{at - 1}: `tool_use` ids were found without `tool_result` blocks immediately after: "
            f"{', '.join(left)}. Each `tool_use` block must have a corresponding `tool_result` block in the next "
            "message.",
            param=f"messages.{at - 1}",
        )
    for j, call_id in results:
        if call_id not in uses:
            raise invalid(
                f"messages.{at}.content.{j}: unexpected `tool_use_id` found in `tool_result` blocks: {call_id}. "
                "Each `tool_result` block must have a corresponding `tool_use` block in the previous message.",
                param=f"messages.{at}.content.{j}",
            )


def _has_tool_result(content: Any) -> bool:
    return isinstance(content, list) and any(
        isinstance(block, dict) and block.get("type") == "tool_result" for block in content
    )


def ends_with_tool_result(body: JsonObject) -> bool:
    """Whether the last turn is a user turn carrying ``tool_result`` blocks."""
    raw = body.get("messages")
    if not isinstance(raw, list) or not raw or not isinstance(raw[-1], dict):
        return False
    return _has_tool_result(raw[-1].get("content"))
