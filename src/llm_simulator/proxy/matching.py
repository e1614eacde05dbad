"""How a request finds its cassette entry: one key function per ``proxy.replay_match`` strategy.

Keys are made from the normalised request (``cassette.normalised_request``: the same
redaction as when recording), so a recorded request and its replayed twin give the same key.
Every key starts with the method, the path and the query (less Gemini's ``key``), so a
streamed and a non-streamed request never share an entry (OpenAI's and Anthropic's
``stream`` is part of the body, which every strategy includes; Gemini's is in the path).

- ``exact``: the whole JSON body, keys sorted;
- ``model_messages``: the model, the conversation (``messages``, ``input`` or ``contents``),
  the system prompt (``system``, ``instructions``, ``systemInstruction``) and ``stream``:
  sampling settings and tools may differ;
- ``last_user``: the text of the last user message and ``stream`` only;
- ``custom``: the values at the dotted paths of ``proxy.replay_key`` (``custom_key``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

Key = str
KeyOf = Callable[[dict[str, Any]], Key]

CONVERSATION = ("messages", "input", "contents", "prompt")
SYSTEM = ("system", "instructions", "systemInstruction", "system_instruction")


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _route(request: dict[str, Any]) -> list[Any]:
    query = {name: value for name, value in request.get("query", {}).items() if name != "key"}
    return [request.get("method"), request.get("path"), query]


def exact(request: dict[str, Any]) -> Key:
    """Method, path, query and the whole body."""
    return _canonical([*_route(request), request.get("json", request.get("body_b64"))])


def model_messages(request: dict[str, Any]) -> Key:
    """Method, path, query, model, conversation, system prompt and ``stream``."""
    body = request.get("json") or {}
    picked = {name: body[name] for name in ("model", "stream", *CONVERSATION, *SYSTEM) if name in body}
    return _canonical([*_route(request), picked])


def last_user(request: dict[str, Any]) -> Key:
    """Method, path, query, ``stream`` and the last user message's text."""
    body = request.get("json") or {}
    return _canonical([*_route(request), bool(body.get("stream")), last_user_text(body)])


def last_user_text(body: dict[str, Any]) -> str:
    """The text of the last user turn in any provider's request body ('' when there is none)."""
    for name in CONVERSATION:
        turns = body.get(name)
        if isinstance(turns, str):
            return turns
        if isinstance(turns, list):
            for turn in reversed(turns):
                if isinstance(turn, dict) and turn.get("role", "user") == "user":
                    return _text_of(turn.get("content", turn.get("parts")))
    return ""


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


_MISSING = object()


def pick(node: Any, parts: list[str]) -> Any:
    """The value at a dotted path's ``parts`` (None when absent).

    A segment names an object's key or a list's index (``-1`` is the last item); ``*`` takes
    every key's or item's value in turn and gives the list of what each holds.
    """
    for depth, part in enumerate(parts):
        if part == "*":
            items = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
            return [pick(item, parts[depth + 1 :]) for item in items]
        if isinstance(node, dict):
            node = node.get(part, _MISSING)
        elif isinstance(node, list) and part.lstrip("-").isdigit() and -len(node) <= int(part) < len(node):
            node = node[int(part)]
        else:
            node = _MISSING
        if node is _MISSING:
            return None
    return node


def custom_key(paths: tuple[str, ...]) -> KeyOf:
    """A key of method, path, query and the values at ``paths`` of the normalised request.

    Paths start at the normalised request (``json.model``, ``json.messages.-1.content``,
    ``query.alt``, ``headers.anthropic-beta``); config validation has checked their roots.
    """
    split = [path.split(".") for path in paths]

    def key_of(request: dict[str, Any]) -> Key:
        return _canonical([*_route(request), [pick(request, parts) for parts in split]])

    return key_of


def strategy(match: str, paths: tuple[str, ...]) -> KeyOf:
    """The key function of ``proxy.replay_match`` (``custom``: of the ``proxy.replay_key`` paths)."""
    return custom_key(paths) if match == "custom" else STRATEGIES[match]


STRATEGIES: dict[str, KeyOf] = {"exact": exact, "model_messages": model_messages, "last_user": last_user}
