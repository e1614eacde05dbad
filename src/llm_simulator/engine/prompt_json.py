"""JSON asked for in the prompt: the schema a framework wrote into the messages, and the fence.

Frameworks that have no structured-output parameter to use describe the format in the
prompt instead: instructor's JSON and Markdown-JSON modes put the model's JSON Schema in the
system message (MD_JSON also asks, in the last user message, for a ```json code block);
LangChain's ``PydanticOutputParser`` / ``JsonOutputParser`` format instructions show an
example schema and then the real one in a code block. A model answers such a prompt with an
instance of the schema, so the simulator does too.

Only the leading system (and developer) messages and the last user message are read, and
only when one of them mentions "json" (a few substring tests: an ordinary request pays
about a microsecond more).
In them, every JSON object that starts a ``{"`` is decoded; the last one that looks like a
schema (``properties``, ``type`` object/array, ``$defs``, ``anyOf``…) and passes
``check_schema`` is the answer's schema; an object with ``properties`` but no ``type`` (as
LangChain writes it) is taken as an object. Without a schema, a prompt that tells the model
to return / respond / answer / output JSON gets a small JSON object.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from llm_simulator.core.types import Message
from llm_simulator.engine.schema import SchemaError, check_schema

MAX_TEXT = 256 * 1024
"""Longest message searched for a schema (characters); longer ones are skipped."""
MAX_FAILED_DECODES = 16
"""``{"`` positions per message that may fail to decode before the search gives up."""

_SYSTEM_ROLES = frozenset(("system", "developer"))
_LOOK_BACK = 8
"""Messages (tool results, assistant turns) looked past, from the end, for the last user message."""
_OBJECT_START = re.compile(r'\{\s*"')
_SCHEMA_KEYS = ("$defs", "definitions", "anyOf", "oneOf", "allOf", "$ref")
# "Return a JSON object.", "Respond only in JSON", "format the answer as JSON"...
_ASKS_JSON = re.compile(
    r"\b(?:return|respond|answer|reply|output|format|provide|give)\w*\b[^.\n]{0,40}?\bjson\b", re.IGNORECASE
)
# "within a ```json codeblock" (instructor MD_JSON), "in a JSON code block", "in a markdown code block"...
_ASKS_FENCE = re.compile(
    r"```json\s*code\s*-?\s*block|\b(?:within|inside|in|into|as)\s+(?:a\s+|the\s+)?(?:markdown\s+|json\s+)*"
    r"code\s*-?\s*(?:block|fence)",
    re.IGNORECASE,
)
# "Do not wrap the JSON in Markdown or code fences", "without backticks" (LangChain JSON parser).
_NO_FENCE = re.compile(
    r"\b(?:do\s+not|don't|never|without|no)\s+(?:\w+\s+){0,5}?(?:markdown|code\s*fences?|backticks|```)",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class PromptJson:
    """What the prompt asks for: an instance of ``schema`` (None: any small JSON object)."""

    schema: dict[str, object] | None
    fenced: bool = False


def _texts(messages: tuple[Message, ...]) -> list[str]:
    """The texts that mention JSON among: the last user message, then the leading system messages.

    Only the messages at the ends are visited (the system messages lead the conversation
    in every API), so the cost does not grow with the conversation. Written for speed: every
    request without a schema passes here.
    """
    texts: list[str] = []
    for back, message in enumerate(reversed(messages)):
        role = message.role
        if role == "user":
            text = message.text
            if "json" in text or "JSON" in text or "Json" in text:
                texts.append(text)
            break
        if back >= _LOOK_BACK or role in _SYSTEM_ROLES:
            break
    for message in messages:
        if message.role not in _SYSTEM_ROLES:
            break
        text = message.text
        if "json" in text or "JSON" in text or "Json" in text:
            texts.append(text)
    return texts


def requested(messages: tuple[Message, ...], json_mode: bool) -> PromptJson | None:
    """What JSON the prompt asks for, or None when it asks for none (text mode only).

    ``json_mode`` says the API already demands a JSON object (OpenAI ``json_object``, Gemini
    ``application/json`` without a schema): then only the schema is looked for, and the
    answer is never fenced.
    """
    texts = _texts(messages)
    if not texts:
        return PromptJson(None) if json_mode else None
    schema = next((found for found in map(_schema_in, texts) if found is not None), None)
    if json_mode:
        return PromptJson(schema)
    if schema is None and not any(_ASKS_JSON.search(text) for text in texts):
        return None
    fenced = any(_ASKS_FENCE.search(text) and not _NO_FENCE.search(text) for text in texts)
    return PromptJson(schema, fenced)


def _schema_in(text: str) -> dict[str, object] | None:
    """The last JSON object in ``text`` that is a usable JSON Schema, if any."""
    if len(text) > MAX_TEXT:
        return None
    decoder = json.JSONDecoder()
    found: dict[str, object] | None = None
    failures = 0
    end = 0
    for match in _OBJECT_START.finditer(text):
        if match.start() < end:
            continue  # inside an object already decoded
        try:
            value, end = decoder.raw_decode(text, match.start())
        except (ValueError, RecursionError):  # not JSON, or nested too deeply to be a schema
            failures += 1
            if failures > MAX_FAILED_DECODES:
                break
            continue
        schema = _as_schema(value)
        if schema is not None:
            found = schema
    return found


def _as_schema(value: object) -> dict[str, object] | None:
    if not isinstance(value, dict):
        return None
    has_properties = isinstance(value.get("properties"), dict)
    if not (has_properties or value.get("type") in ("object", "array") or any(k in value for k in _SCHEMA_KEYS)):
        return None
    schema: dict[str, object] = dict(value)
    if has_properties and "type" not in schema:
        schema["type"] = "object"  # LangChain's format instructions leave "type" out
    try:
        check_schema(schema)
    except SchemaError:
        return None
    return schema
