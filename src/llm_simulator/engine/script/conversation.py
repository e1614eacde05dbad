"""What fixtures match on: a request reduced to a few provider-neutral facts.

Tool results are turns of role ``tool`` (or ``function``) in every provider's neutral form,
so "the last user message" and "the user turn" mean the same thing whichever API carried
the conversation: a tool-result turn is never a user turn.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from llm_simulator.core.types import GenerationRequest

TOOL_ROLES = frozenset({"tool", "function"})
# Longest text kept in a session's record of what a step received.
SUMMARY_CHARS = 500


@dataclass(frozen=True, slots=True)
class Conversation:
    """The matchable facts of one request."""

    provider: str
    model: str
    endpoint: str
    headers: Mapping[str, str]  # lower-cased names
    last_user_text: str
    first_user_text: str
    system_text: str
    turn: int  # 0-based index of the last user turn
    has_tool_result: bool
    tool_results: tuple[str, ...]  # texts of the trailing tool-result turns
    tools: tuple[str, ...]  # names of the declared tools
    messages: int

    @classmethod
    def of(cls, provider: str, request: GenerationRequest, headers: Mapping[str, str]) -> Conversation:
        """Summarise ``request`` as served by ``provider``."""
        users = [m.text for m in request.messages if m.role == "user"]
        system = next((m.text for m in request.messages if m.role in ("system", "developer")), "")
        trailing: list[str] = []
        for message in reversed(request.messages):
            if message.role not in TOOL_ROLES:
                break
            trailing.append(message.text)
        return cls(
            provider=provider,
            model=request.model,
            endpoint=request.endpoint.value,
            headers=headers,
            last_user_text=users[-1] if users else "",
            first_user_text=users[0] if users else "",
            system_text=system,
            turn=max(len(users) - 1, 0),
            has_tool_result=request.follows_tool_result,
            tool_results=tuple(reversed(trailing)),
            tools=tuple(tool.name for tool in request.tools),
            messages=len(request.messages),
        )

    def content_key(self) -> str:
        """A session id from the conversation's opening (provider, model, system prompt, first user message).

        Every later request of the same conversation repeats that opening, so it maps to the
        same session without any header.
        """
        digest = hashlib.blake2b(digest_size=8)
        for part in (self.provider, self.model, self.system_text, self.first_user_text):
            digest.update(part.encode())
            digest.update(b"\x1f")
        return "content-" + digest.hexdigest()

    def summary(self) -> dict[str, Any]:
        """What a scenario step received, for the admin API (long texts shortened)."""
        return {
            "provider": self.provider,
            "model": self.model,
            "endpoint": self.endpoint,
            "messages": self.messages,
            "turn": self.turn,
            "last_user_text": _short(self.last_user_text),
            "has_tool_result": self.has_tool_result,
            "tool_results": [_short(text) for text in self.tool_results],
            "tools": list(self.tools),
        }


def _short(text: str) -> str:
    return text if len(text) <= SUMMARY_CHARS else text[:SUMMARY_CHARS] + "…"
