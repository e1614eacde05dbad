"""A ``GenerateContentResponse`` answered whole: its candidates' parts and its ``usageMetadata``.

The streamed chunks (``chunks.py``) share the usage and the function-call arguments.
"""

from __future__ import annotations

from typing import Any

import orjson

from llm_simulator.core.types import ChoicePlan, FinishReason, GenerationPlan, SegmentKind, ToolCall
from llm_simulator.providers.caching import gemini_cached_tokens
from llm_simulator.providers.gemini.blocking import (
    PROMPT_FEEDBACK,
    blocked_candidate,
    finish_reason,
    malformed,
    prompt_blocked,
)
from llm_simulator.providers.gemini.common import escape_line_breaks


def prompt_details(prompt_tokens: int) -> list[dict[str, Any]]:
    """``promptTokensDetails``: every prompt token counted as text."""
    return [{"modality": "TEXT", "tokenCount": prompt_tokens}]


def usage_metadata(
    prompt_tokens: int, candidates_tokens: int | None, thoughts_tokens: int = 0, cached_tokens: int = 0
) -> dict[str, Any]:
    """``usageMetadata``; without ``candidates_tokens`` the mid-stream form (prompt only).

    Thinking tokens are reported apart (``thoughtsTokenCount``), not in the candidates'
    count, and the total adds them. Implicit-cache hits (``cached_tokens``, part of the
    prompt count) appear only when there are some, as the API leaves the fields out.
    """
    if candidates_tokens is None:
        return {
            "promptTokenCount": prompt_tokens,
            "totalTokenCount": prompt_tokens,
            "promptTokensDetails": prompt_details(prompt_tokens),
        }
    usage: dict[str, Any] = {"promptTokenCount": prompt_tokens}
    # Zero is left out, as the API's JSON leaves out every zero count: a candidate whose
    # budget went to thinking reports no candidates' count at all.
    if candidates_tokens:
        usage["candidatesTokenCount"] = candidates_tokens
    usage["totalTokenCount"] = prompt_tokens + candidates_tokens + thoughts_tokens
    if cached_tokens:
        usage["cachedContentTokenCount"] = cached_tokens
    usage["promptTokensDetails"] = prompt_details(prompt_tokens)
    if cached_tokens:
        usage["cacheTokensDetails"] = prompt_details(cached_tokens)
    if thoughts_tokens:
        usage["thoughtsTokenCount"] = thoughts_tokens
    return usage


def plan_usage(plan: GenerationPlan) -> dict[str, Any]:
    """The final ``usageMetadata`` of a plan (its cached tokens are known once its timeline opened)."""
    thoughts = sum(c.reasoning_tokens for c in plan.choices)
    cached = gemini_cached_tokens(plan.request.model, plan.cached_tokens)
    return usage_metadata(plan.request.prompt_tokens, plan.completion_tokens - thoughts, thoughts, cached)


def function_args(call: ToolCall) -> dict[str, Any]:
    """A call's ``args`` object (``{}`` when max tokens cut its JSON short)."""
    try:
        value = orjson.loads(call.arguments)
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def candidate_parts(choice: ChoicePlan, include_thoughts: bool) -> list[dict[str, Any]]:
    """A finished candidate's parts: thoughts (if asked for), text, function calls; none if nothing shows."""
    if not choice.segments:
        return [{"text": choice.text}] if choice.text else []
    parts: list[dict[str, Any]] = []
    for segment in choice.segments:
        text = "".join(choice.tokens[segment.start : segment.stop])
        if segment.kind is SegmentKind.REASONING:
            if include_thoughts and text:
                parts.append({"text": text, "thought": True})
        elif segment.tool_call is not None:
            if choice.finish_reason is FinishReason.LENGTH or not malformed(segment.tool_call):
                parts.append(
                    {"functionCall": {"name": segment.tool_call.name, "args": function_args(segment.tool_call)}}
                )
        elif text:
            parts.append({"text": text})
    return parts


def candidate_content(choice: ChoicePlan, include_thoughts: bool) -> dict[str, Any]:
    """A finished candidate's ``content``: without ``parts`` when nothing shows.

    A candidate whose whole budget went to hidden thinking (or that a stop sequence cut
    before its first token) has no parts on the API, not an empty text part: the SDKs'
    chats leave such a turn out of the history they send back, and a turn with an empty
    text part would be refused (``contents.py``) as the API refuses it.
    """
    parts = candidate_parts(choice, include_thoughts)
    return {"parts": parts, "role": "model"} if parts else {"role": "model"}


def render_response(plan: GenerationPlan, response_id: str, include_thoughts: bool = False) -> bytes:
    """The complete ``GenerateContentResponse``."""
    request = plan.request
    candidates = [
        blocked_candidate(choice.index)
        if choice.finish_reason is FinishReason.REFUSAL
        else {
            "content": candidate_content(choice, include_thoughts),
            "finishReason": finish_reason(choice),
            "index": choice.index,
        }
        for choice in plan.choices
    ]
    payload = {
        "candidates": candidates,
        "usageMetadata": plan_usage(plan),
        "modelVersion": request.model,
        "responseId": response_id,
    }
    if prompt_blocked(plan):
        del payload["candidates"]
        payload = {
            "promptFeedback": PROMPT_FEEDBACK,
            **payload,
            "usageMetadata": usage_metadata(request.prompt_tokens, None),
        }
    return escape_line_breaks(orjson.dumps(payload))
