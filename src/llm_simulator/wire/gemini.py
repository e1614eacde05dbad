"""Reading Gemini's answers: the visible text of a candidate and the output-token count."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def candidate_text(candidate: Mapping[str, Any]) -> str:
    """The visible text of a Gemini candidate (thought summaries are not part of the answer)."""
    content = candidate.get("content")
    parts = content.get("parts") if isinstance(content, dict) else None
    if not isinstance(parts, list):
        return ""
    return "".join(
        p["text"] for p in parts if isinstance(p, dict) and isinstance(p.get("text"), str) and not p.get("thought")
    )


def output_tokens(usage: Mapping[str, Any]) -> int:
    """Generated tokens of a ``usageMetadata``: candidates + thoughts.

    Thoughts are added so the count matches OpenAI's ``completion_tokens``, which includes
    reasoning tokens.
    """
    return int(usage.get("candidatesTokenCount") or 0) + int(usage.get("thoughtsTokenCount") or 0)
