"""Finding the JSON a prompt asks for: instructor's and LangChain's prompt shapes, and refusals."""

from __future__ import annotations

import json

from llm_simulator.core.types import Message
from llm_simulator.engine import prompt_json
from llm_simulator.engine.prompt_json import PromptJson, requested
from tests.engine import prompt_shapes as shapes


def _ask(*messages: tuple[str, str], json_mode: bool = False) -> PromptJson | None:
    return requested(tuple(Message(role, text) for role, text in messages), json_mode)


def test_instructor_json_mode_system_message() -> None:
    found = _ask(("system", shapes.instructor_json_system(shapes.UserDetail)), ("user", "Jason is 25"), json_mode=True)
    assert found == PromptJson(shapes.UserDetail.model_json_schema(), fenced=False)


def test_instructor_md_json_asks_for_a_fence() -> None:
    user = "Extract: Jason is 25 years old\n\n" + shapes.INSTRUCTOR_MD_JSON_USER
    found = _ask(("system", shapes.instructor_json_system(shapes.Task)), ("user", user))
    assert found is not None and found.fenced
    assert found.schema == shapes.Task.model_json_schema()


def test_instructor_json_mode_in_plain_text_is_not_fenced() -> None:
    # Anthropic's JSON mode: the schema in the system prompt, no response_format.
    found = _ask(("system", shapes.instructor_json_system(shapes.Task)), ("user", "Fix the login bug, Ana, urgent"))
    assert found is not None and not found.fenced and found.schema is not None


def test_langchain_pydantic_parser_takes_the_real_schema_not_the_example() -> None:
    text = "Tell me about a user.\n" + shapes.langchain_pydantic_instructions(shapes.UserDetail)
    found = _ask(("system", "You are helpful."), ("user", text))
    assert found is not None and found.schema is not None
    properties = found.schema["properties"]
    assert isinstance(properties, dict) and set(properties) == {"name", "age", "email", "tags"}
    assert found.schema["type"] == "object"  # LangChain leaves "type" out; an object is meant
    assert not found.fenced  # the schema's code block is not a request to fence the answer


def test_langchain_json_parser_says_no_fences() -> None:
    found = _ask(("user", "Extract the task. " + shapes.langchain_json_instructions(shapes.Task)))
    assert found is not None and not found.fenced
    assert set(found.schema or {}) >= {"properties", "required", "type"}


def test_langchain_json_parser_without_a_model_asks_for_any_object() -> None:
    assert _ask(("user", "Name three colours. " + shapes.LANGCHAIN_JSON_NO_SCHEMA)) == PromptJson(None)


def test_ordinary_prompts_ask_for_nothing() -> None:
    assert _ask(("system", "You are a helpful assistant."), ("user", "Hello there")) is None
    assert _ask(("user", "What is JSON? Explain the format briefly.")) is None
    assert _ask(("user", 'Is {"a": 1} valid json?')) is None  # JSON in the prompt, but no schema
    assert _ask(("user", "hi"), json_mode=True) == PromptJson(None)


def test_only_the_system_messages_and_the_last_user_message_are_read() -> None:
    old = ("user", shapes.instructor_json_system(shapes.Task))
    assert _ask(old, ("assistant", "ok"), ("user", "thanks")) is None
    developer = ("developer", shapes.instructor_json_system(shapes.Task))
    assert (_ask(developer, ("user", "go")) or PromptJson(None)).schema == shapes.Task.model_json_schema()


def test_bad_schemas_in_the_prompt_are_ignored() -> None:
    broken = 'Respond in JSON matching {"type": "object", "properties": {"a": {"type": "strin"}}}'
    assert _ask(("user", broken)) == PromptJson(None)  # asked for JSON; the schema is invalid
    truncated = 'Return JSON for this schema: {"type": "object", "properties": {"a": '
    assert _ask(("user", truncated)) == PromptJson(None)
    contradiction = {
        "type": "object",
        "properties": {"a": {"type": "string", "minLength": 5, "maxLength": 2}},
        "required": ["a"],
    }
    assert _ask(("user", "Return JSON: " + json.dumps(contradiction))) == PromptJson(None)


def test_pathological_prompts_stay_cheap() -> None:
    many = "Return json. " + '{"a": ' * 5000
    assert _ask(("user", many)) == PromptJson(None)
    huge = "Return json for " + json.dumps({"type": "object", "properties": {"a": {"type": "string"}}})
    huge += " " * prompt_json.MAX_TEXT
    assert _ask(("user", huge)) == PromptJson(None)  # too long to search: any object
