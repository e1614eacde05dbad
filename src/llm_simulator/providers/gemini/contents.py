"""Reads Gemini ``contents`` and ``systemInstruction`` into neutral turns and counts them.

Shared by ``generateContent`` and ``countTokens`` so ``usageMetadata.promptTokenCount``
equals ``totalTokens`` for the same contents. Gemini charges no framing per turn; text is
counted with the simulator's tokenizer, and each image, audio, video or file part at the
258 tokens Gemini charges for a small image.
"""

from __future__ import annotations

from typing import Any

from llm_simulator.core.errors import invalid
from llm_simulator.core.types import Message
from llm_simulator.engine.simulator import Simulator
from llm_simulator.providers.gemini import fields
from llm_simulator.providers.validation import JsonObject, json_text

ROLES = ("user", "model")
MEDIA_PART_TOKENS = 258
PART_FIELDS = (
    "text",
    "inlineData",
    "fileData",
    "functionCall",
    "functionResponse",
    "executableCode",
    "codeExecutionResult",
    "thought",
    "thoughtSignature",
    "videoMetadata",
    "mediaResolution",
    "partMetadata",
    "toolCall",
    "toolResponse",
)
CONTENT_FIELDS = ("role", "parts")


def _part(sim: Simulator, part: Any, where: str) -> tuple[str, int]:
    """A part's text and the tokens it costs beyond that text."""
    if not isinstance(part, dict):
        raise invalid(f"Invalid JSON payload received. Expected an object for '{where}'.", param=where)
    fields.check_known(part, PART_FIELDS, where)
    text = fields.get_str(part, "text", f"{where}.text")
    if fields.get_bool(part, "thought", f"{where}.thought"):
        return "", 0  # earlier turns' thoughts are not part of the prompt
    if text is not None:
        if not text:
            raise invalid(
                "Unable to submit request because it has an empty text parameter. Add a value to the parameter "
                "and try again.",
                param=f"{where}.text",
            )
        return text, 0
    if fields.get(part, "inlineData") is not None or fields.get(part, "fileData") is not None:
        return "", MEDIA_PART_TOKENS
    for key in ("functionCall", "functionResponse", "executableCode", "codeExecutionResult"):
        value = fields.get(part, key)
        if value is not None:
            return json_text(value, f"{where}.{fields.snake(key)}"), 0
    raise invalid(f"* {where}: a part must have one of its data fields set (text, inlineData, …).", param=where)


def _plain_content(sim: Simulator, content: Any, default_role: str) -> tuple[Message, int] | None:
    """``parse_content``'s result for the usual content, ``{"role"?, "parts": [{"text": "…"}, …]}``.

    Every part one non-empty text, the role "user", "model" or absent: nothing in it can be
    wrong, so none of the checks run. None for anything else (``parse_content`` checks it).
    """
    if type(content) is not dict or not content.keys() <= _PLAIN_CONTENT_KEYS:
        return None
    role = content.get("role")
    if role is not None and type(role) is not str:  # (0, false, [] …: the checks' type error)
        return None
    role = role or default_role
    parts = content.get("parts")
    if role not in ROLES or type(parts) is not list or not parts:
        return None
    texts: list[str] = []
    for part in parts:
        text = part.get("text") if type(part) is dict and len(part) == 1 else None
        if type(text) is not str or not text:
            return None
        texts.append(text)
    count = sim.count_tokens
    return Message("assistant" if role == "model" else "user", "".join(texts)), sum(count(t) for t in texts)


# The keys of the usual content (``_plain_content``).
_PLAIN_CONTENT_KEYS = frozenset({"role", "parts"})


def parse_content(
    sim: Simulator, content: Any, where: str, *, default_role: str = "user", request: str = "GenerateContentRequest"
) -> tuple[Message, int]:
    """One ``Content`` as a neutral turn and its token count (``request``: the message errors name)."""
    plain = _plain_content(sim, content, default_role)
    if plain is not None:
        return plain
    if not isinstance(content, dict):
        raise invalid(f"Invalid JSON payload received. Expected an object for '{where}'.", param=where)
    fields.check_known(content, CONTENT_FIELDS, where)
    role = fields.get_str(content, "role", f"{where}.role") or default_role
    if role not in ROLES:
        raise invalid("Please use a valid role: user, model.", param=f"{where}.role")
    parts = fields.get_list(content, "parts", f"{where}.parts")
    if not parts:
        raise invalid(f"* {request}.{where}.parts: contents.parts must not be empty.", param=f"{where}.parts")
    texts: list[str] = []
    tokens = 0
    for i, part in enumerate(parts):
        text, extra = _part(sim, part, f"{where}.parts[{i}]")
        if text:
            texts.append(text)
            tokens += sim.count_tokens(text)
        tokens += extra
    # A user turn returning function results is a "tool" turn in neutral form, as in
    # OpenAI's format: "the last user message" then means the same on every provider.
    neutral = "assistant" if role == "model" else "tool" if _has_function_response(parts) else "user"
    return Message(neutral, "".join(texts)), tokens


def parse_contents(sim: Simulator, body: JsonObject) -> tuple[list[Message], int]:
    """The request's ``contents`` (required, non-empty) as neutral turns, and their tokens."""
    raw = fields.get_list(body, "contents", "contents")
    if not raw:
        raise invalid("* GenerateContentRequest.contents: contents is not specified", param="contents")
    messages: list[Message] = []
    total = 0
    for i, content in enumerate(raw):
        message, tokens = parse_content(sim, content, f"contents[{i}]")
        messages.append(message)
        total += tokens
    return messages, total


def parse_system(sim: Simulator, body: JsonObject) -> tuple[Message | None, int]:
    """The ``systemInstruction`` (its role, if any, is ignored) and its tokens."""
    raw = fields.get(body, "systemInstruction")
    if raw is None:
        return None, 0
    if isinstance(raw, dict) and "role" in raw:
        raw = {k: v for k, v in raw.items() if k != "role"}
    message, tokens = parse_content(sim, raw, "system_instruction")
    return Message("system", message.text), tokens


def _has_function_response(parts: Any) -> bool:
    return isinstance(parts, list) and any(
        isinstance(part, dict) and fields.get(part, "functionResponse") is not None for part in parts
    )


def ends_with_function_response(body: JsonObject) -> bool:
    """Whether the last content carries ``functionResponse`` parts (tool results)."""
    raw = fields.get(body, "contents")
    if not isinstance(raw, list) or not raw or not isinstance(raw[-1], dict):
        return False
    return _has_function_response(fields.get(raw[-1], "parts"))
