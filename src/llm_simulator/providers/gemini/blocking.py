"""How Gemini reports what it will not send: finish reasons, safety blocks, malformed calls.

A refused answer is a candidate with ``finishReason: SAFETY`` and the ratings that blocked
it, and no content; a refused prompt has no candidate at all, only ``promptFeedback``. A
call whose arguments are not a JSON object is never sent: the candidate ends with
``MALFORMED_FUNCTION_CALL`` (unless max tokens cut it, which stays ``MAX_TOKENS``).
"""

from __future__ import annotations

from typing import Any

import orjson

from llm_simulator.core.types import ChoicePlan, FinishReason, GenerationPlan, ToolCall

FINISH = {
    FinishReason.STOP: "STOP",
    FinishReason.STOP_SEQUENCE: "STOP",
    FinishReason.LENGTH: "MAX_TOKENS",
    FinishReason.TOOL_CALLS: "STOP",  # Gemini ends a function-calling turn with STOP
    FinishReason.REFUSAL: "SAFETY",
}
# A candidate blocked for safety: no content, the ratings that blocked it.
SAFETY_RATINGS: list[dict[str, Any]] = [
    {"category": "HARM_CATEGORY_HATE_SPEECH", "probability": "NEGLIGIBLE"},
    {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": True},
    {"category": "HARM_CATEGORY_HARASSMENT", "probability": "NEGLIGIBLE"},
    {"category": "HARM_CATEGORY_SEXUALLY_EXPLICIT", "probability": "NEGLIGIBLE"},
]


MALFORMED = "MALFORMED_FUNCTION_CALL"


def malformed(call: ToolCall) -> bool:
    """Whether a call's arguments are not a JSON object (Gemini then sends no call at all)."""
    try:
        return not isinstance(orjson.loads(call.arguments), dict)
    except orjson.JSONDecodeError:
        return True


def finish_reason(choice: ChoicePlan) -> str:
    """A candidate's ``finishReason``: ``MALFORMED_FUNCTION_CALL`` for a call that is not JSON.

    Only a call that ended by itself counts: one cut by max tokens keeps ``MAX_TOKENS``.
    """
    if choice.finish_reason is not FinishReason.LENGTH and any(malformed(c) for c in choice.tool_calls):
        return MALFORMED
    return FINISH[choice.finish_reason]


def blocked_candidate(index: int) -> dict[str, Any]:
    """A candidate the safety filters blocked: ``finishReason: SAFETY``, ratings, no content."""
    return {"finishReason": "SAFETY", "index": index, "safetyRatings": SAFETY_RATINGS}


# A prompt the safety filters blocked: no candidate at all, only this and the prompt's usage.
PROMPT_FEEDBACK: dict[str, Any] = {"blockReason": "SAFETY", "safetyRatings": SAFETY_RATINGS}


def prompt_blocked(plan: GenerationPlan) -> bool:
    """Whether the plan refuses the prompt itself (a misbehaviour ``prompt_blocked``)."""
    scripted = plan.request.scripted
    return scripted is not None and scripted.prompt_blocked
