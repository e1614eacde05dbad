"""JSON asked for in the system prompt (instructor's Anthropic JSON mode), via the anthropic SDK."""

from __future__ import annotations

import re

import anthropic

from tests.engine import prompt_shapes as shapes

MODEL = "claude-sonnet-4-5"


def test_instructor_json_mode_in_the_system_prompt(anthropic_client: anthropic.Anthropic) -> None:
    for _ in range(5):
        message = anthropic_client.messages.create(
            model=MODEL,
            max_tokens=1024,
            system=shapes.instructor_json_system(shapes.UserDetail),
            messages=[{"role": "user", "content": "Extract: Jason is 25 years old"}],
        )
        assert message.stop_reason == "end_turn"
        text = "".join(block.text for block in message.content if block.type == "text")
        shapes.UserDetail.model_validate_json(text)


def test_md_json_and_langchain_shapes(anthropic_client: anthropic.Anthropic) -> None:
    fenced = anthropic_client.messages.create(
        model=MODEL,
        max_tokens=1024,
        system=shapes.instructor_json_system(shapes.Task),
        messages=[{"role": "user", "content": "Ana: fix login.\n\n" + shapes.INSTRUCTOR_MD_JSON_USER}],
    )
    text = fenced.content[0].text if fenced.content[0].type == "text" else ""
    match = re.fullmatch(r"```json\n(.*)\n```", text, re.DOTALL)
    assert match is not None, text
    shapes.Task.model_validate_json(match.group(1))
    with anthropic_client.messages.stream(
        model=MODEL,
        max_tokens=1024,
        messages=[{"role": "user", "content": "A user. " + shapes.langchain_pydantic_instructions(shapes.UserDetail)}],
    ) as stream:
        streamed = stream.get_final_text()
    shapes.UserDetail.model_validate_json(streamed)
