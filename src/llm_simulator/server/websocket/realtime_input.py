"""The Realtime session's state as the Responses request a ``response.create`` sends.

Conversation items (``conversation.item.create``, committed audio, earlier answers) become
Responses input items; the session's instructions, tools, tool choice and output cap (or a
``response.create``'s own) become the request's fields. Spoken input has no transcript in a
simulator: it stands in the prompt as ``[speech: N ms]``.
"""

from __future__ import annotations

from typing import Any

# The Responses API's smallest max_output_tokens; a smaller Realtime cap is raised to it.
MIN_OUTPUT_TOKENS = 16


def default_session(model: str, session_id: str, expires_at: int) -> dict[str, Any]:
    """A new Realtime session's configuration, as ``session.created`` reports it."""
    return {
        "type": "realtime",
        "object": "realtime.session",
        "id": session_id,
        "model": model,
        "output_modalities": ["audio"],
        "instructions": "",
        "tools": [],
        "tool_choice": "auto",
        "max_output_tokens": "inf",
        "tracing": None,
        "truncation": "auto",
        "prompt": None,
        "expires_at": expires_at,
        "audio": {
            "input": {
                "format": {"type": "audio/pcm", "rate": 24_000},
                "transcription": None,
                "noise_reduction": None,
                "turn_detection": {
                    "type": "server_vad",
                    "threshold": 0.5,
                    "prefix_padding_ms": 300,
                    "silence_duration_ms": 500,
                    "create_response": True,
                    "interrupt_response": True,
                    "idle_timeout_ms": None,
                },
            },
            "output": {"format": {"type": "audio/pcm", "rate": 24_000}, "voice": "alloy", "speed": 1.0},
        },
        "include": None,
    }


def merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``update`` laid over it, nested objects merged key by key."""
    merged = dict(base)
    for key, value in update.items():
        old = merged.get(key)
        merged[key] = merge(old, value) if isinstance(old, dict) and isinstance(value, dict) else value
    return merged


def _text_of(content: Any) -> str:
    """The text of a Realtime item's content parts (speech as its placeholder)."""
    if not isinstance(content, list):
        return ""
    texts: list[str] = []
    for part in content:
        if not isinstance(part, dict):
            continue
        kind = part.get("type")
        if kind in ("input_text", "output_text", "text"):
            texts.append(str(part.get("text", "")))
        elif kind in ("input_audio", "output_audio", "audio"):
            texts.append(str(part.get("transcript") or f"[speech: {part.get('duration_ms', 0)} ms]"))
    return "\n".join(texts)


def to_responses_input(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Realtime conversation items as Responses input items (unknown kinds are left out)."""
    out: list[dict[str, Any]] = []
    for item in items:
        kind = item.get("type")
        if kind == "message":
            role = item.get("role", "user")
            out.append(
                {
                    "role": role if role in ("user", "assistant", "system") else "user",
                    "content": _text_of(item.get("content")),
                }
            )
        elif kind == "function_call":
            out.append(
                {
                    "type": "function_call",
                    "call_id": item.get("call_id", ""),
                    "name": item.get("name", ""),
                    "arguments": item.get("arguments", ""),
                }
            )
        elif kind == "function_call_output":
            out.append(
                {
                    "type": "function_call_output",
                    "call_id": item.get("call_id", ""),
                    "output": str(item.get("output", "")),
                }
            )
    return out


def responses_body(session: dict[str, Any], options: dict[str, Any], items: list[dict[str, Any]]) -> dict[str, Any]:
    """The streamed ``/v1/responses`` body of one Realtime response."""
    effective = merge(session, {k: v for k, v in options.items() if v is not None})
    body: dict[str, Any] = {
        "model": session["model"],
        "input": to_responses_input(items) or [{"role": "user", "content": ""}],
        "stream": True,
        "store": False,
    }
    if effective.get("instructions"):
        body["instructions"] = effective["instructions"]
    tools = [
        {k: v for k, v in tool.items() if k in ("type", "name", "description", "parameters")}
        for tool in effective.get("tools") or []
        if isinstance(tool, dict) and tool.get("type") == "function"
    ]
    if tools:
        body["tools"] = tools
        body["tool_choice"] = effective.get("tool_choice", "auto")
    cap = effective.get("max_output_tokens")
    if isinstance(cap, int):
        body["max_output_tokens"] = max(cap, MIN_OUTPUT_TOKENS)
    return body
