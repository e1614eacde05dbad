"""Structured outputs (``output_config.format``, the beta ``output_format``) and strict tools, via the SDK.

The answer is one text block of JSON valid for the schema, ending ``end_turn``; streamed, it
arrives as ``text_delta`` events. ``messages.parse`` (GA and beta) turns it into the model.
"""

from __future__ import annotations

import json
from typing import Any, Literal

import anthropic
import jsonschema
import pytest
from pydantic import BaseModel, Field

from tests.providers.anthropic.helpers import MODEL

CONTACT: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "email": {"type": "string", "format": "email"},
        "plan": {"type": "string", "enum": ["Free", "Pro", "Enterprise"]},
        "seats": {"type": "integer"},
        "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        "demo": {"anyOf": [{"type": "string", "format": "date"}, {"type": "null"}]},
    },
    "required": ["name", "email", "plan", "seats", "tags", "demo"],
    "additionalProperties": False,
}
FORMAT: Any = {"format": {"type": "json_schema", "schema": CONTACT}}
ASK: list[Any] = [{"role": "user", "content": "Extract: John Smith (john@example.com) wants the Enterprise plan."}]
BETA = "structured-outputs-2025-11-13"


class Address(BaseModel):
    city: str
    country: str


class Contact(BaseModel):
    name: str
    email: str
    plan: Literal["Free", "Pro", "Enterprise"]
    addresses: list[Address]
    vip: bool | None = None


def _json_text(message: Any) -> Any:
    (block,) = message.content
    assert block.type == "text"
    return json.loads(block.text)


def test_create_with_output_config_returns_schema_valid_json(anthropic_client: anthropic.Anthropic) -> None:
    message = anthropic_client.messages.create(model=MODEL, max_tokens=1024, messages=ASK, output_config=FORMAT)
    assert message.stop_reason == "end_turn"
    jsonschema.validate(_json_text(message), CONTACT)
    assert message.usage.output_tokens > 0


def test_streamed_output_config_arrives_as_text_deltas(anthropic_client: anthropic.Anthropic) -> None:
    with anthropic_client.messages.stream(model=MODEL, max_tokens=1024, messages=ASK, output_config=FORMAT) as stream:
        deltas = [e.delta.text for e in stream if e.type == "content_block_delta" and e.delta.type == "text_delta"]
        message = stream.get_final_message()
    assert len(deltas) > 1
    assert message.stop_reason == "end_turn"
    (block,) = message.content
    assert block.type == "text" and "".join(deltas) == block.text
    jsonschema.validate(json.loads(block.text), CONTACT)


def test_seeded_stream_and_non_stream_agree(anthropic_client: anthropic.Anthropic) -> None:
    seed = {"x-simulator-seed": "11"}
    whole = anthropic_client.messages.create(
        model=MODEL, max_tokens=1024, messages=ASK, output_config=FORMAT, extra_headers=seed
    )
    with anthropic_client.messages.stream(
        model=MODEL, max_tokens=1024, messages=ASK, output_config=FORMAT, extra_headers=seed
    ) as stream:
        streamed = stream.get_final_message()
    assert _json_text(streamed) == _json_text(whole)


def test_max_tokens_cuts_the_json_short(anthropic_client: anthropic.Anthropic) -> None:
    message = anthropic_client.messages.create(model=MODEL, max_tokens=3, messages=ASK, output_config=FORMAT)
    assert message.stop_reason == "max_tokens"
    (block,) = message.content
    assert block.type == "text"
    with pytest.raises(json.JSONDecodeError):
        json.loads(block.text)


def test_messages_parse_with_a_pydantic_model(anthropic_client: anthropic.Anthropic) -> None:
    parsed = anthropic_client.messages.parse(model=MODEL, max_tokens=2048, messages=ASK, output_format=Contact)
    assert parsed.stop_reason == "end_turn"
    contact = parsed.parsed_output
    assert isinstance(contact, Contact)
    assert contact.plan in ("Free", "Pro", "Enterprise")


def test_messages_stream_with_output_format(anthropic_client: anthropic.Anthropic) -> None:
    with anthropic_client.messages.stream(model=MODEL, max_tokens=2048, messages=ASK, output_format=Contact) as stream:
        message = stream.get_final_message()
    assert isinstance(message.parsed_output, Contact)


async def test_async_parse(async_anthropic_client: anthropic.AsyncAnthropic) -> None:
    parsed = await async_anthropic_client.messages.parse(
        model=MODEL, max_tokens=2048, messages=ASK, output_format=Contact
    )
    assert isinstance(parsed.parsed_output, Contact)


def test_beta_parse(anthropic_client: anthropic.Anthropic) -> None:
    parsed = anthropic_client.beta.messages.parse(
        model=MODEL, max_tokens=2048, messages=ASK, output_format=Contact, betas=[BETA]
    )
    assert isinstance(parsed.parsed_output, Contact)


def test_beta_output_format_with_the_beta_header(anthropic_client: anthropic.Anthropic) -> None:
    # litellm's spelling: the top-level output_format with the structured-outputs beta header.
    message = anthropic_client.beta.messages.create(
        model=MODEL,
        max_tokens=1024,
        messages=ASK,
        betas=[BETA],
        extra_body={"output_format": {"type": "json_schema", "schema": CONTACT}},
    )
    assert message.stop_reason == "end_turn"
    jsonschema.validate(_json_text(message), CONTACT)


def test_thinking_comes_before_the_json(anthropic_client: anthropic.Anthropic) -> None:
    message = anthropic_client.messages.create(
        model=MODEL,
        max_tokens=8000,
        messages=ASK,
        output_config=FORMAT,
        thinking={"type": "enabled", "budget_tokens": 1024},
    )
    assert [b.type for b in message.content] == ["thinking", "text"]
    text = message.content[1]
    assert text.type == "text"
    jsonschema.validate(json.loads(text.text), CONTACT)


STRICT_TOOL: Any = {
    "name": "book_demo",
    "strict": True,
    "input_schema": {
        "type": "object",
        "properties": {
            "email": {"type": "string", "format": "email"},
            "when": {"type": "string", "format": "date-time"},
            "attendees": {"type": "array", "items": {"type": "string"}},
            "room": {"$ref": "#/$defs/room"},
        },
        "required": ["email", "when", "attendees", "room"],
        "additionalProperties": False,
        "$defs": {"room": {"type": "string", "enum": ["A", "B"]}},
    },
}


def test_strict_tool_input_validates(anthropic_client: anthropic.Anthropic) -> None:
    for seed in range(5):
        message = anthropic_client.messages.create(
            model=MODEL,
            max_tokens=1024,
            messages=ASK,
            tools=[STRICT_TOOL],
            tool_choice={"type": "tool", "name": "book_demo"},
            extra_headers={"x-simulator-seed": str(seed)},
        )
        assert message.stop_reason == "tool_use"
        (block,) = message.content
        assert block.type == "tool_use" and block.name == "book_demo"
        jsonschema.validate(block.input, STRICT_TOOL["input_schema"])


def test_strict_tool_with_output_config(anthropic_client: anthropic.Anthropic) -> None:
    message = anthropic_client.messages.create(
        model=MODEL,
        max_tokens=1024,
        messages=ASK,
        output_config=FORMAT,
        tools=[STRICT_TOOL],
        tool_choice={"type": "none"},
    )
    assert message.stop_reason == "end_turn"
    jsonschema.validate(_json_text(message), CONTACT)


class Booking(BaseModel):
    guests: int = Field(ge=2, le=6)
    nights: float = Field(gt=0, lt=3)
    code: str = Field(min_length=6, max_length=8)
    rooms: list[str] = Field(min_length=2, max_length=3)


def test_parse_honours_constraints_the_sdk_moved_into_descriptions(anthropic_client: anthropic.Anthropic) -> None:
    # transform_schema drops ge/le/min_length… (structured outputs refuse them) and appends them
    # to the descriptions; the answer still follows them, so parse's validation passes.
    for seed in range(8):
        parsed = anthropic_client.messages.parse(
            model=MODEL,
            max_tokens=1024,
            messages=ASK,
            output_format=Booking,
            extra_headers={"x-simulator-seed": str(seed)},
        )
        assert isinstance(parsed.parsed_output, Booking)
