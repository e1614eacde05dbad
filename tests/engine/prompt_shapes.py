"""The prompt texts instructor and LangChain write when the output format lives in the prompt.

Reproduced from instructor 1.17 (JSON / MD_JSON modes) and langchain-core 1.8
(``PydanticOutputParser`` and ``JsonOutputParser`` format instructions), so the tests send
what those libraries send.
"""

from __future__ import annotations

import json
from textwrap import dedent

import pydantic


class Task(pydantic.BaseModel):
    """One extracted task."""

    title: str
    assignee: str | None = None
    priority: int = pydantic.Field(ge=1, le=5)


class UserDetail(pydantic.BaseModel):
    name: str
    age: int
    email: str | None = None
    tags: list[str] = []


def instructor_json_system(model: type[pydantic.BaseModel]) -> str:
    """instructor's JSON (and MD_JSON) mode system message."""
    return dedent(
        f"""
        As a genius expert, your task is to understand the content and provide
        the parsed objects in json that match the following json_schema:\n

        {json.dumps(model.model_json_schema(), indent=2, ensure_ascii=False)}

        Make sure to return an instance of the JSON, not the schema itself
        """
    )


INSTRUCTOR_MD_JSON_USER = "Return the correct JSON response within a ```json codeblock. not the JSON_SCHEMA"

_EXAMPLE = (
    'As an example, for the schema {"properties": {"foo": {"title": "Foo", "description": "a list of strings", '
    '"type": "array", "items": {"type": "string"}}}, "required": ["foo"]}'
)


def _reduced(model: type[pydantic.BaseModel]) -> str:
    schema = dict(model.model_json_schema())
    schema.pop("title", None)
    schema.pop("type", None)
    return json.dumps(schema, ensure_ascii=False)


def langchain_pydantic_instructions(model: type[pydantic.BaseModel]) -> str:
    """``PydanticOutputParser(pydantic_object=model).get_format_instructions()``."""
    return (
        "The output should be formatted as a JSON instance that conforms to the JSON schema below.\n\n"
        f"{_EXAMPLE}\n"
        'the object {"foo": ["bar", "baz"]} is a well-formatted instance of the schema. The object '
        '{"properties": {"foo": ["bar", "baz"]}} is not well-formatted.\n\n'
        f"Here is the output schema:\n```\n{_reduced(model)}\n```"
    )


def langchain_json_instructions(model: type[pydantic.BaseModel]) -> str:
    """``JsonOutputParser(pydantic_object=model).get_format_instructions()``."""
    return (
        "STRICT OUTPUT FORMAT:\n"
        "- Return only the JSON value that conforms to the schema. Do not include any additional text, "
        "explanations, headings, or separators.\n"
        "- Do not wrap the JSON in Markdown or code fences (no ``` or ```json).\n"
        '- Do not prepend or append any text (e.g., do not write "Here is the JSON:").\n'
        "- The response must be a single top-level JSON value exactly as required by the schema "
        "(object/array/etc.), with no trailing commas or comments.\n\n"
        "The output should be formatted as a JSON instance that conforms to the JSON schema below.\n\n"
        f"{_EXAMPLE} "
        'the object {"foo": ["bar", "baz"]} is a well-formatted instance of the schema. The object '
        '{"properties": {"foo": ["bar", "baz"]}} is not well-formatted.\n\n'
        "Here is the output schema (shown in a code block for readability only — do not include any "
        f"backticks or Markdown in your output):\n```\n{_reduced(model)}\n```"
    )


LANGCHAIN_JSON_NO_SCHEMA = "Return a JSON object."
