"""A planned choice as Messages content blocks: thinking, text and tool_use, in order."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Any

import orjson

from llm_simulator.core.types import ChoicePlan, SegmentKind, ToolCall

TOOL_ID_PREFIX = "toolu_01"
SIGNATURE_BYTES = 96


@dataclass(frozen=True, slots=True)
class Block:
    """Tokens ``start``..``stop`` of the choice form one content block."""

    kind: SegmentKind
    start: int
    stop: int
    call: ToolCall | None = None


def blocks_of(choice: ChoicePlan) -> list[Block]:
    """The choice's non-empty blocks (a lone empty text block when there is nothing else)."""
    if not choice.segments:
        return [Block(SegmentKind.TEXT, 0, len(choice.tokens))]
    blocks = [Block(s.kind, s.start, s.stop, s.tool_call) for s in choice.segments if s.stop > s.start]
    return blocks or [Block(SegmentKind.TEXT, 0, 0)]


def tool_use_id(call: ToolCall) -> str:
    """The ``toolu_01…`` id of a call (24 characters after the prefix, as the API's)."""
    return TOOL_ID_PREFIX + call.id[:22]


def signature(thinking: str) -> str:
    """An opaque, stable signature for a thinking block (base64, like the API's)."""
    digest = hashlib.blake2b(thinking.encode(), digest_size=64).digest()
    return base64.b64encode((digest * 2)[:SIGNATURE_BYTES]).decode()


def tool_input(call: ToolCall) -> Any:
    """The call's ``input`` object; ``{}`` when max tokens cut its JSON short."""
    try:
        value = orjson.loads(call.arguments)
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def content_block(choice: ChoicePlan, block: Block) -> dict[str, Any]:
    """One finished content block of the final Message."""
    text = "".join(choice.tokens[block.start : block.stop])
    if block.kind is SegmentKind.REASONING:
        return {"type": "thinking", "thinking": text, "signature": signature(text)}
    if block.call is not None:
        return {
            "type": "tool_use",
            "id": tool_use_id(block.call),
            "name": block.call.name,
            "input": tool_input(block.call),
        }
    return {"type": "text", "text": text}


def opening_block(block: Block) -> dict[str, Any]:
    """The empty block ``content_block_start`` announces."""
    if block.kind is SegmentKind.REASONING:
        return {"type": "thinking", "thinking": "", "signature": ""}
    if block.call is not None:
        return {"type": "tool_use", "id": tool_use_id(block.call), "name": block.call.name, "input": {}}
    return {"type": "text", "text": ""}
