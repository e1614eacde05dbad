"""JSON asked for in the prompt (instructor, LangChain), via the openai SDK."""

from __future__ import annotations

import re

import openai

from tests.engine import prompt_shapes as shapes

FENCED = re.compile(r"^```json\n(.*)\n```$", re.DOTALL)


def test_instructor_json_mode_answers_an_instance_of_the_schema(client: openai.OpenAI) -> None:
    for seed in range(8):
        completion = client.chat.completions.create(
            model="gpt-4o",
            messages=[
                {"role": "system", "content": shapes.instructor_json_system(shapes.UserDetail)},
                {"role": "user", "content": "Extract: Jason is 25 years old"},
            ],
            response_format={"type": "json_object"},
            seed=seed,
        )
        content = completion.choices[0].message.content or ""
        user = shapes.UserDetail.model_validate_json(content)  # what instructor does
        assert user.name and user.age >= 0
        assert completion.choices[0].finish_reason == "stop"


def test_instructor_md_json_mode_answers_in_a_json_code_block(client: openai.OpenAI) -> None:
    messages: list[openai.types.chat.ChatCompletionMessageParam] = [
        {"role": "system", "content": shapes.instructor_json_system(shapes.Task)},
        {"role": "user", "content": "Ana must fix the login bug today.\n\n" + shapes.INSTRUCTOR_MD_JSON_USER},
    ]
    whole = client.chat.completions.create(model="gpt-4o-mini", messages=messages, seed=3)
    match = FENCED.match(whole.choices[0].message.content or "")
    assert match is not None, whole.choices[0].message.content
    task = shapes.Task.model_validate_json(match.group(1))
    assert 1 <= task.priority <= 5
    chunks = client.chat.completions.create(model="gpt-4o-mini", messages=messages, seed=3, stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == whole.choices[0].message.content


def test_langchain_format_instructions_in_plain_text(client: openai.OpenAI) -> None:
    for instructions in (
        shapes.langchain_pydantic_instructions(shapes.UserDetail),
        shapes.langchain_json_instructions(shapes.UserDetail),
    ):
        completion = client.chat.completions.create(
            model="gpt-4.1",
            messages=[{"role": "user", "content": f"Make up a user.\n{instructions}"}],
        )
        content = completion.choices[0].message.content or ""
        assert not content.startswith("```")
        shapes.UserDetail.model_validate_json(content)


def test_responses_json_object_with_the_schema_in_the_instructions(client: openai.OpenAI) -> None:
    response = client.responses.create(
        model="gpt-4o",
        instructions=shapes.instructor_json_system(shapes.Task),
        input="Ana must fix the login bug today.",
        text={"format": {"type": "json_object"}},
    )
    shapes.Task.model_validate_json(response.output_text)


def test_ordinary_chat_is_unchanged(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "What is JSON?"}], max_tokens=20
    )
    assert not (completion.choices[0].message.content or "").startswith(("{", "```"))
