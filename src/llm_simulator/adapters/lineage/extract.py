"""What one exchange says about a conversation, in any provider's wire format.

From the request: the tool results it passes back (OpenAI ``role: tool`` messages'
``tool_call_id``, Responses ``function_call_output.call_id``, Anthropic ``tool_result.tool_use_id``,
Gemini ``functionResponse``), ``previous_response_id``, and the conversation's opening (for
recognising later turns of the same conversation). From the response (a JSON body, or the
frames of a stream joined): its id and the tool calls it asks for (OpenAI ``tool_calls[].id``,
Responses ``function_call.call_id``, Anthropic ``tool_use.id``, Gemini ``functionCall``).

The walk is generic over the JSON — it looks for those shapes wherever they are — so the
four providers' bodies, stream chunks and event objects all read the same way.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from llm_simulator.core.types import ScenarioStepRef


@dataclass(frozen=True)
class ToolRef:
    """A tool call (or its result): the id the provider gave it (or the function's name) and the name."""

    call_id: str
    name: str = ""


@dataclass
class Exchange:
    """The conversation facts of one request and its response."""

    opening: str = ""
    previous_response_id: str | None = None
    results: list[ToolRef] = field(default_factory=list)
    response_id: str | None = None
    calls: list[ToolRef] = field(default_factory=list)
    # The scenario step whose scripted reply answered (the exchange's record says so).
    step: ScenarioStepRef | None = None


def _walk(node: Any) -> Iterator[Mapping[str, Any]]:
    if isinstance(node, Mapping):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)


def _text(node: Any) -> str:
    if isinstance(node, str):
        return node
    return json.dumps(node, sort_keys=True, ensure_ascii=False, default=str)


def opening(body: Mapping[str, Any]) -> str:
    """A digest of how the conversation starts (its system prompt and first user turn), or "".

    Later turns of one conversation resend the same opening, so it identifies the session
    when the client names none.
    """
    head: list[Any] = []
    for key in ("system", "instructions", "systemInstruction"):
        if key in body:
            head.append(body[key])
    turns = body.get("messages") or body.get("contents") or body.get("input")
    if isinstance(turns, str):
        head.append(turns)
    elif isinstance(turns, list):
        for item in turns:
            head.append(item)
            if isinstance(item, Mapping) and item.get("role") in ("user", None):
                break
    if not head:
        return ""
    return hashlib.sha256(_text(head).encode()).hexdigest()[:16]


def from_request(body: Mapping[str, Any]) -> Exchange:
    """The request's side of an exchange."""
    found = Exchange(opening=opening(body))
    previous = body.get("previous_response_id")
    if isinstance(previous, str) and previous:
        found.previous_response_id = previous
    for obj in _walk({k: v for k, v in body.items() if k in ("messages", "input", "contents")}):
        if isinstance(obj.get("tool_call_id"), str):
            found.results.append(ToolRef(obj["tool_call_id"], str(obj.get("name", ""))))
        elif obj.get("type") == "function_call_output" and isinstance(obj.get("call_id"), str):
            found.results.append(ToolRef(obj["call_id"]))
        elif obj.get("type") == "tool_result" and isinstance(obj.get("tool_use_id"), str):
            found.results.append(ToolRef(obj["tool_use_id"]))
        elif isinstance(obj.get("functionResponse"), Mapping):
            response = obj["functionResponse"]
            name = str(response.get("name", ""))
            found.results.append(ToolRef(str(response.get("id") or name), name))
    return found


def add_response(found: Exchange, doc: Any) -> None:
    """Add what one response document (a body, a stream chunk or event) says."""
    if isinstance(doc, Mapping):
        kind = doc.get("object") or doc.get("type")
        rid = doc.get("id")
        if found.response_id is None and isinstance(rid, str) and kind in ("response", "chat.completion", "message"):
            found.response_id = rid
        inner = doc.get("response") or doc.get("message")
        if found.response_id is None and isinstance(inner, Mapping) and isinstance(inner.get("id"), str):
            found.response_id = inner["id"]
    seen = {c.call_id for c in found.calls}
    for obj in _walk(doc):
        ref: ToolRef | None = None
        if obj.get("type") == "function_call" and isinstance(obj.get("call_id"), str):
            ref = ToolRef(obj["call_id"], str(obj.get("name", "")))
        elif obj.get("type") == "tool_use" and isinstance(obj.get("id"), str):
            ref = ToolRef(obj["id"], str(obj.get("name", "")))
        elif isinstance(obj.get("tool_calls"), list):
            for call in obj["tool_calls"]:
                if isinstance(call, Mapping) and isinstance(call.get("id"), str) and call["id"] not in seen:
                    function = call.get("function")
                    name = str(function.get("name", "")) if isinstance(function, Mapping) else ""
                    found.calls.append(ToolRef(call["id"], name))
                    seen.add(call["id"])
        elif isinstance(obj.get("functionCall"), Mapping):
            call = obj["functionCall"]
            name = str(call.get("name", ""))
            ref = ToolRef(str(call.get("id") or name), name)
        if ref is not None and ref.call_id not in seen:
            found.calls.append(ref)
            seen.add(ref.call_id)


def stream_documents(data: bytes) -> Iterator[Any]:
    """The JSON documents of a recorded stream: SSE ``data:`` lines, or JSON lines (Ollama)."""
    for line in data.decode("utf-8", "replace").splitlines():
        text = line[5:].strip() if line.startswith("data:") else line.strip()
        if not text or text == "[DONE]" or text[0] not in "{[":
            continue
        try:
            yield json.loads(text)
        except ValueError:
            continue
