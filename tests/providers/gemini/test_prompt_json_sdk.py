"""JSON asked for in the prompt, and application/json without a schema, via google-genai."""

from __future__ import annotations

import json

from google import genai
from google.genai import types

from tests.engine import prompt_shapes as shapes
from tests.providers.gemini.helpers import CHAT_MODEL


def test_json_mime_type_without_a_schema_uses_the_prompt_schema(genai_client: genai.Client) -> None:
    config = types.GenerateContentConfig(
        system_instruction=shapes.instructor_json_system(shapes.UserDetail), response_mime_type="application/json"
    )
    response = genai_client.models.generate_content(model=CHAT_MODEL, contents="Jason is 25", config=config)
    shapes.UserDetail.model_validate_json(response.text or "")


def test_json_mime_type_without_any_schema_is_an_object(genai_client: genai.Client) -> None:
    config = types.GenerateContentConfig(response_mime_type="application/json")
    response = genai_client.models.generate_content(model=CHAT_MODEL, contents="Three colours", config=config)
    assert isinstance(json.loads(response.text or ""), dict)


def test_langchain_instructions_in_plain_text(genai_client: genai.Client) -> None:
    prompt = "Make up a task. " + shapes.langchain_json_instructions(shapes.Task)
    response = genai_client.models.generate_content(model=CHAT_MODEL, contents=prompt)
    shapes.Task.model_validate_json(response.text or "")
    chunks = genai_client.models.generate_content_stream(model=CHAT_MODEL, contents=prompt)
    shapes.Task.model_validate_json("".join(chunk.text or "" for chunk in chunks))
