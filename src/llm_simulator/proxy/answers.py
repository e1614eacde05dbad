"""What a recorded answer said, in any wire format: its text, tool calls or error.

``cassette to-fixtures`` turns each entry into a fixture rule (``docs/fixtures.md``) whose
``respond`` is what the upstream answered. A whole body is one JSON document; a stream is
read as its events' JSON documents (SSE ``data:`` lines, or Gemini's streamed array), and
the pieces of text and tool-call arguments are joined in order. The formats: OpenAI Chat
Completions and Responses, Anthropic Messages, Gemini ``generateContent``.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from llm_simulator.wire.recorded import part_bytes


def documents(entry: dict[str, Any]) -> list[Any]:
    """The JSON documents of an entry's answer: the body, or every event of the stream."""
    if "chunks" not in entry:
        return _loads(part_bytes(entry.get("body", {})).decode("utf-8", "replace"))
    text = b"".join(part_bytes(chunk) for chunk in entry["chunks"]).decode("utf-8", "replace")
    if "data:" not in text:
        return _loads(text)  # Gemini's streamed array: one JSON array in pieces
    docs = []
    for line in text.splitlines():
        if line.startswith("data:"):
            docs.extend(_loads(line[5:].strip()))
    return docs


def _loads(text: str) -> list[Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return []
    return value if isinstance(value, list) else [value]


class _Answer:
    """Text and tool calls gathered from documents, in order; a tool call's arguments in pieces."""

    def __init__(self) -> None:
        self.text: list[str] = []
        self.calls: list[dict[str, Any]] = []
        self._open: dict[Any, dict[str, Any]] = {}

    def call(self, key: Any, name: str | None, arguments: Any = "") -> None:
        call = self._open.get(key)
        if call is None:
            call = self._open[key] = {"name": name or "", "arguments": ""}
            self.calls.append(call)
        elif name:
            call["name"] = name
        if isinstance(arguments, str):
            call["arguments"] += arguments
        else:
            call["arguments"] = arguments

    def respond(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.text:
            out["text"] = "".join(self.text)
        calls = []
        for call in self.calls:
            arguments = call["arguments"]
            if isinstance(arguments, str):
                # Kept verbatim when not JSON: a fixture may send malformed arguments on purpose.
                with contextlib.suppress(ValueError):
                    arguments = json.loads(arguments) if arguments else {}
            calls.append({"name": call["name"], "arguments": arguments})
        if calls:
            out["tool_calls"] = calls
        return out


def _openai_chat(doc: dict[str, Any], answer: _Answer) -> None:
    for choice in doc.get("choices", [])[:1]:
        part = choice.get("message") or choice.get("delta") or {}
        if isinstance(part.get("content"), str):
            answer.text.append(part["content"])
        for position, call in enumerate(part.get("tool_calls") or []):
            function = call.get("function", {})
            answer.call(call.get("index", position), function.get("name"), function.get("arguments", ""))


def _responses(doc: dict[str, Any], answer: _Answer) -> None:
    for item in doc.get("output", []):
        if item.get("type") == "function_call":
            answer.call(item.get("id"), item.get("name"), item.get("arguments", ""))
        for part in item.get("content") or []:
            if part.get("type") == "output_text":
                answer.text.append(part.get("text", ""))


def _anthropic(doc: dict[str, Any], answer: _Answer) -> None:
    blocks = list(doc.get("content", []))
    if doc.get("type") == "content_block_start":
        blocks = [doc.get("content_block", {})]
    for block in blocks:
        if block.get("type") == "text":
            answer.text.append(block.get("text", ""))
        elif block.get("type") == "tool_use":
            answer.call(doc.get("index", id(block)), block.get("name"), block.get("input") or "")
    delta = doc.get("delta", {}) if doc.get("type") == "content_block_delta" else {}
    if delta.get("type") == "text_delta":
        answer.text.append(delta.get("text", ""))
    elif delta.get("type") == "input_json_delta":
        answer.call(doc.get("index"), None, delta.get("partial_json", ""))


def _gemini(doc: dict[str, Any], answer: _Answer) -> None:
    for candidate in doc.get("candidates", [])[:1]:
        for part in candidate.get("content", {}).get("parts", []):
            if isinstance(part.get("text"), str) and not part.get("thought"):
                answer.text.append(part["text"])
            if "functionCall" in part:
                call = part["functionCall"]
                answer.call(object(), call.get("name"), call.get("args", {}))


def respond_of(entry: dict[str, Any]) -> dict[str, Any]:
    """A fixture's ``respond`` for the entry: its error (status and message), or its text and tool calls."""
    docs = [doc for doc in documents(entry) if isinstance(doc, dict)]
    status = int(entry.get("status", 200))
    if status >= 400:
        error = next((doc.get("error") for doc in docs if "error" in doc), None)
        message = error.get("message") if isinstance(error, dict) else None
        return {"error": {"status": status, **({"message": message} if isinstance(message, str) else {})}}
    completed = [doc["response"] for doc in docs if doc.get("type") == "response.completed"]
    answer = _Answer()
    for doc in completed or docs:  # a Responses stream's last event holds the whole response
        if "choices" in doc:
            _openai_chat(doc, answer)
        elif doc.get("object") == "response":
            _responses(doc, answer)
        elif "candidates" in doc:
            _gemini(doc, answer)
        else:
            _anthropic(doc, answer)
    return answer.respond()
