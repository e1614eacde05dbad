"""The ``messages`` of a chat completion request: neutral messages and their prompt tokens."""

from __future__ import annotations

from typing import Any

from llm_simulator.core.errors import invalid
from llm_simulator.core.types import Message
from llm_simulator.engine.simulator import Simulator
from llm_simulator.providers.validation import (
    JsonObject,
    get_list,
    get_object,
    get_str,
    missing,
    type_error,
    typed_items,
)

ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
# Roles whose turn is complete with a role and a text content (tool and function turns need more).
PLAIN_ROLES = frozenset({"system", "developer", "user", "assistant"})
# Per-message framing overhead of the chat format (OpenAI's published counting recipe):
# 3 tokens per message, 1 more when a name is given, and 3 that prime the reply.
TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
REPLY_PRIMING_TOKENS = 3
# Image parts are charged at the low-detail rate of the vision models.
IMAGE_PART_TOKENS = 85
# Framing of one earlier tool call in an assistant turn (beyond its name and arguments).
TOKENS_PER_TOOL_CALL = 3


def _content_text(content: Any, param: str) -> tuple[str, int]:
    """Text of a message's content and the extra tokens of its non-text parts."""
    if content is None:
        return "", 0
    if isinstance(content, str):
        return content, 0
    if not isinstance(content, list):
        raise type_error(param, "a string or an array of content parts", content)
    if not content:
        raise invalid(
            f"Invalid '{param}': empty array. Expected an array with minimum length 1, but got an empty array instead.",
            param=param,
            code="empty_array",
        )
    texts: list[str] = []
    extra = 0
    for where, part, kind in typed_items(content, param):
        if kind in ("text", "input_text", "refusal"):
            key = "refusal" if kind == "refusal" else "text"
            text = get_str(part, key, f"{where}.{key}", required=True)
            texts.append(text or "")
        elif kind in ("image_url", "input_image", "input_audio", "file"):
            _check_media_part(part, kind, where)
            extra += IMAGE_PART_TOKENS
        else:
            raise invalid(
                f"Invalid value: '{kind}'. Supported values are: 'text', 'image_url', "
                "'input_audio', 'refusal' and 'file'.",
                param=f"{where}.type",
                code="invalid_value",
            )
    return "\n".join(texts), extra


# ``input_audio.format``'s values on chat completions.
AUDIO_FORMATS = ("wav", "mp3")


def _check_media_part(part: JsonObject, kind: str, where: str) -> None:
    """An image, audio or file part carries what the API requires of it (named in the 400 if not)."""
    if kind == "image_url":
        image = get_object(part, "image_url", f"{where}.image_url")
        if image is None:
            raise missing(f"{where}.image_url")
        get_str(image, "url", f"{where}.image_url.url", required=True)
    elif kind == "input_audio":
        audio = get_object(part, "input_audio", f"{where}.input_audio")
        if audio is None:
            raise missing(f"{where}.input_audio")
        get_str(audio, "data", f"{where}.input_audio.data", required=True)
        audio_format = get_str(audio, "format", f"{where}.input_audio.format", required=True)
        if audio_format not in AUDIO_FORMATS:
            raise invalid(
                f"Invalid value: '{audio_format}'. Supported values are: 'wav' and 'mp3'.",
                param=f"{where}.input_audio.format",
                code="invalid_value",
            )
    elif kind == "file":
        file = get_object(part, "file", f"{where}.file")
        if file is None:
            raise missing(f"{where}.file")
        if get_str(file, "file_id", f"{where}.file.file_id") is None and (
            get_str(file, "file_data", f"{where}.file.file_data") is None
        ):
            raise missing(f"{where}.file.file_id")


def _tool_calls_tokens(sim: Simulator, item: JsonObject, where: str, ids: list[str]) -> int:
    """Prompt tokens of an assistant turn's earlier tool calls (their names and arguments); their ids go to ``ids``."""
    calls = get_list(item, "tool_calls", f"{where}.tool_calls")
    tokens = 0
    for i, call in enumerate(calls or []):
        at = f"{where}.tool_calls[{i}]"
        if not isinstance(call, dict):
            raise type_error(at, "an object", call)
        ids.append(get_str(call, "id", f"{at}.id", required=True) or "")
        function = get_object(call, "function", f"{at}.function")
        if function is None:
            raise invalid(f"Missing required parameter: '{at}.function'.", param=f"{at}.function")
        name = get_str(function, "name", f"{at}.function.name", required=True) or ""
        arguments = get_str(function, "arguments", f"{at}.function.arguments", required=True) or ""
        tokens += TOKENS_PER_TOOL_CALL + sim.count_tokens(name) + sim.count_tokens(arguments)
    return tokens


def parse_messages(sim: Simulator, raw: list[Any]) -> tuple[tuple[Message, ...], int]:
    """Neutral messages and their prompt token count (chat framing included)."""
    if not raw:
        raise invalid(
            "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
            param="messages",
            code="empty_array",
        )
    messages: list[Message] = []
    tokens = REPLY_PRIMING_TOKENS
    count = sim.count_tokens
    # The ids of the last assistant turn's tool calls that no tool message has answered yet,
    # and that turn's index; None while no turn with calls is open.
    unanswered: list[str] | None = None
    calls_at = 0
    for i, item in enumerate(raw):
        # The usual turn, {"role": ..., "content": "text"}, needs none of the checks below
        # (nothing in it can be wrong): counted and kept at once.
        if type(item) is dict and len(item) == 2:
            role, content = item.get("role"), item.get("content")
            if type(content) is str and type(role) is str and role in PLAIN_ROLES:
                if unanswered is not None:
                    _check_answered(unanswered, calls_at)
                    unanswered = None
                tokens += TOKENS_PER_MESSAGE + count(role) + count(content)
                messages.append(Message(role, content))
                continue
        where = f"messages[{i}]"
        if not isinstance(item, dict):
            raise type_error(where, "an object", item)
        role = get_str(item, "role", f"{where}.role", required=True)
        if role not in ROLES:
            raise invalid(
                f"Invalid value: '{role}'. Supported values are: 'system', 'assistant', 'user', "
                "'tool', 'function' and 'developer'.",
                param=f"{where}.role",
                code="invalid_value",
            )
        if "content" not in item and role in ("system", "developer", "user", "tool"):
            raise invalid(f"Missing required parameter: '{where}.content'.", param=f"{where}.content")
        text, extra = _content_text(item.get("content"), f"{where}.content")
        name = get_str(item, "name", f"{where}.name")
        if role == "tool":
            call_id = get_str(item, "tool_call_id", f"{where}.tool_call_id", required=True)
            if unanswered is None or call_id not in unanswered:
                raise invalid(
                    "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with "
                    "'tool_calls'.",
                    param=f"messages.[{i}].role",
                )
            unanswered.remove(call_id)
        elif unanswered is not None:
            _check_answered(unanswered, calls_at)
            unanswered = None
        if role == "assistant":
            ids: list[str] = []
            extra += _tool_calls_tokens(sim, item, where, ids)
            if ids:
                unanswered, calls_at = ids, i
        tokens += TOKENS_PER_MESSAGE + sim.count_tokens(role) + sim.count_tokens(text) + extra
        if name:
            tokens += TOKENS_PER_NAME + sim.count_tokens(name)
        messages.append(Message(role, text, name))
    if unanswered is not None:
        _check_answered(unanswered, calls_at)
    return tuple(messages), tokens


def _check_answered(unanswered: list[str], calls_at: int) -> None:
    """Refuse a conversation that goes on past an assistant turn whose tool calls are not all answered.

    The API's rule and wording: each call of an assistant turn needs a ``tool`` message
    right after it (in any order), before any other turn, and before the request ends.
    """
    if unanswered:
        raise invalid(
            "An assistant message with 'tool_calls' must be followed by tool messages responding to each "
            f"'tool_call_id'. The following tool_call_ids did not have response messages: {', '.join(unanswered)}",
            param=f"messages.[{calls_at}].role",
        )
