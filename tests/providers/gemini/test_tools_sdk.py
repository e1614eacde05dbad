"""Function calling, structured output and thinking through google-genai."""

from __future__ import annotations

from typing import Any

import httpx
import jsonschema
import pytest
from google import genai
from google.genai import types
from pydantic import BaseModel

from tests.providers.gemini.helpers import assert_google_error

THINKING_MODEL = "gemini-2.5-flash"
PLAIN_MODEL = "gemini-2.0-flash"


class Recipe(BaseModel):
    """A structured answer the SDK parses into ``response.parsed``."""

    name: str
    minutes: int
    ingredients: list[str]


WEATHER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["C", "F"]}},
    "required": ["city", "unit"],
}
WEATHER = types.FunctionDeclaration(
    name="get_weather", description="Current weather", parameters_json_schema=WEATHER_SCHEMA
)
TOOLS: list[Any] = [types.Tool(function_declarations=[WEATHER])]
FORCED = types.ToolConfig(function_calling_config=types.FunctionCallingConfig(mode=types.FunctionCallingConfigMode.ANY))


def test_function_call_args_are_a_dict_valid_for_the_schema(default_client: genai.Client) -> None:
    config = types.GenerateContentConfig(tools=TOOLS, tool_config=FORCED)
    reply = default_client.models.generate_content(model=PLAIN_MODEL, contents="Weather in Rome?", config=config)
    calls = reply.function_calls or []
    assert calls and calls[0].name == "get_weather"
    assert isinstance(calls[0].args, dict)
    jsonschema.validate(calls[0].args, WEATHER_SCHEMA)
    assert reply.candidates and reply.candidates[0].finish_reason == types.FinishReason.STOP


def test_streamed_function_call_arrives_whole(default_client: genai.Client) -> None:
    config = types.GenerateContentConfig(tools=TOOLS, tool_config=FORCED, seed=4)
    whole = default_client.models.generate_content(model=PLAIN_MODEL, contents="Weather?", config=config)
    chunks = list(default_client.models.generate_content_stream(model=PLAIN_MODEL, contents="Weather?", config=config))
    streamed = [call for chunk in chunks for call in chunk.function_calls or []]
    assert [(c.name, c.args) for c in streamed] == [(c.name, c.args) for c in whole.function_calls or []]


def test_parsed_is_the_pydantic_model(default_client: genai.Client) -> None:
    config = types.GenerateContentConfig(response_mime_type="application/json", response_schema=Recipe)
    reply = default_client.models.generate_content(model=PLAIN_MODEL, contents="A recipe", config=config)
    assert isinstance(reply.parsed, Recipe)


def test_streamed_json_joins_to_a_valid_instance(default_client: genai.Client) -> None:
    schema = Recipe.model_json_schema()
    config = types.GenerateContentConfig(response_mime_type="application/json", response_json_schema=schema)
    chunks = default_client.models.generate_content_stream(model=PLAIN_MODEL, contents="A recipe", config=config)
    Recipe.model_validate_json("".join(chunk.text or "" for chunk in chunks))


def test_enum_mime_type_answers_with_one_value(default_client: genai.Client) -> None:
    schema = types.Schema(type=types.Type.STRING, enum=["red", "green", "blue"])
    config = types.GenerateContentConfig(response_mime_type="text/x.enum", response_schema=schema)
    reply = default_client.models.generate_content(model=PLAIN_MODEL, contents="A colour", config=config)
    assert reply.text in ("red", "green", "blue")


def test_thinking_models_report_thought_tokens_and_parts(default_client: genai.Client) -> None:
    config = types.GenerateContentConfig(
        thinking_config=types.ThinkingConfig(thinking_budget=512, include_thoughts=True)
    )
    reply = default_client.models.generate_content(model=THINKING_MODEL, contents="Think", config=config)
    usage = reply.usage_metadata
    assert usage is not None and usage.thoughts_token_count
    assert 0.4 * 512 - 1 <= usage.thoughts_token_count <= 512
    assert (
        usage.total_token_count
        == (usage.prompt_token_count or 0) + (usage.candidates_token_count or 0) + usage.thoughts_token_count
    )
    parts = reply.candidates[0].content.parts if reply.candidates and reply.candidates[0].content else []
    assert parts and parts[0].thought and not parts[-1].thought
    assert reply.text and reply.text == parts[-1].text  # .text leaves thoughts out


def test_thinking_budget_zero_turns_thinking_off(default_client: genai.Client) -> None:
    config = types.GenerateContentConfig(thinking_config=types.ThinkingConfig(thinking_budget=0))
    reply = default_client.models.generate_content(model=THINKING_MODEL, contents="Quick", config=config)
    assert reply.usage_metadata is not None and reply.usage_metadata.thoughts_token_count is None


def test_agent_loop_ends_with_text(default_client: genai.Client) -> None:
    config = types.GenerateContentConfig(tools=TOOLS, tool_config=FORCED)
    question = types.Content(role="user", parts=[types.Part(text="Weather in Oslo?")])
    first = default_client.models.generate_content(model=PLAIN_MODEL, contents=[question], config=config)
    assert first.candidates and first.candidates[0].content
    call = (first.function_calls or [])[0]
    answer = types.Part.from_function_response(name=call.name or "", response={"result": "snow"})
    history = [question, first.candidates[0].content, types.Content(role="user", parts=[answer])]
    final = default_client.models.generate_content(
        model=PLAIN_MODEL, contents=history, config=types.GenerateContentConfig(tools=TOOLS)
    )
    assert not final.function_calls and final.text


@pytest.mark.parametrize(
    "body",
    [
        {"tools": [{"functionDeclarations": [{"name": "9bad"}]}]},
        {"tools": [{"functionDeclarations": [{"name": "f", "parameters": {"type": "strnig"}}]}]},
        {"tools": [{"unknownTool": {}}]},
        {
            "toolConfig": {"functionCallingConfig": {"mode": "SOMETIMES"}},
            "tools": [{"functionDeclarations": [{"name": "f"}]}],
        },
        {
            "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["g"]}},
            "tools": [{"functionDeclarations": [{"name": "f"}]}],
        },
        {"generationConfig": {"responseSchema": {"type": "OBJECT"}}},
        {"generationConfig": {"responseMimeType": "application/xml"}},
        {
            "generationConfig": {
                "responseMimeType": "application/json",
                "responseSchema": {"type": "OBJECT", "properties": 4},
            }
        },
    ],
)
def test_bad_tools_and_schemas_are_400s(http: httpx.Client, body: dict[str, Any]) -> None:
    request = {"contents": [{"role": "user", "parts": [{"text": "Hi"}]}], **body}
    response = http.post(f"/v1beta/models/{PLAIN_MODEL}:generateContent", json=request)
    assert_google_error(response, 400, "INVALID_ARGUMENT")


@pytest.mark.parametrize(
    ("model", "thinking"),
    [
        ("gemini-2.5-pro", {"thinkingBudget": 0}),
        ("gemini-2.5-pro", {"thinkingBudget": 64}),
        ("gemini-2.5-flash", {"thinkingBudget": 100_000}),
        ("gemini-2.5-flash", {"thinkingBudget": 2_000_000_000}),
        ("gemini-2.5-flash", {"thinkingLevel": "EXTREME"}),
        ("gemini-2.0-flash", {"thinkingBudget": 512}),
    ],
)
def test_thinking_budgets_outside_the_models_range_are_400s(
    http: httpx.Client, model: str, thinking: dict[str, Any]
) -> None:
    request = {"contents": [{"parts": [{"text": "Hi"}]}], "generationConfig": {"thinkingConfig": thinking}}
    response = http.post(f"/v1beta/models/{model}:generateContent", json=request)
    assert_google_error(response, 400, "INVALID_ARGUMENT")


def test_enum_mime_type_needs_an_enum_schema(http: httpx.Client) -> None:
    config = {
        "responseMimeType": "text/x.enum",
        "responseSchema": {"type": "OBJECT", "properties": {"a": {"type": "STRING"}}},
    }
    request = {"contents": [{"parts": [{"text": "Hi"}]}], "generationConfig": config}
    response = http.post(f"/v1beta/models/{PLAIN_MODEL}:generateContent", json=request)
    assert_google_error(response, 400, "INVALID_ARGUMENT")
