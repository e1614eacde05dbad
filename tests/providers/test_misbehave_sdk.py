"""Model misbehaviour chaos through the official SDKs on a real socket: what an agent sees.

Every kind is forced with the control header (``x-simulator-chaos: misbehave=<kind>``) on
OpenAI chat completions and Responses, Anthropic Messages and Gemini generateContent,
non-streamed and streamed through each SDK's own stream helper. Each request is reduced to
an ``Seen`` (finish reason, text, calls, ids, refusal, or the exception the SDK raised)
and checked against what docs/chaos.md's table "What your agent will see" says.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import anthropic
import httpx
import openai
import orjson
import pydantic
import pytest
from google import genai
from google.genai import types

from llm_simulator.core.faults import MISBEHAVIOURS
from llm_simulator.engine.chaos.misbehave import REFUSAL_TEXT, SENTENCE, UNKNOWN_TOOL_NAME
from tests.live import LiveServer, live_server

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
    "required": ["city"],
    "additionalProperties": False,
}
OPENAI_TOOLS: Any = [{"type": "function", "function": {"name": "get_weather", "parameters": SCHEMA}}]
RESPONSES_TOOLS: Any = [{"type": "function", "name": "get_weather", "parameters": SCHEMA, "strict": False}]
ANTHROPIC_TOOLS: Any = [{"name": "get_weather", "input_schema": SCHEMA}]
APIS = ("chat", "responses", "anthropic", "gemini")


@dataclass
class Seen:
    """What the SDK handed the caller, reduced to what the checks need."""

    finish: str | None = None
    text: str = ""
    calls: list[tuple[str, Any]] = field(default_factory=list)  # (name, arguments as the SDK gives them)
    ids: list[str] = field(default_factory=list)
    refusal: str | None = None
    reasoning_tokens: int = 0
    raised: BaseException | None = None


def header(kind: str) -> dict[str, str]:
    return {"x-simulator-chaos": f"misbehave={kind}"}


@pytest.fixture(scope="module")
def live() -> Iterator[LiveServer]:
    with live_server("--no-latency", "--seed", "3") as server:
        yield server


def gemini(live: LiveServer, kind: str) -> genai.Client:
    return genai.Client(
        api_key="k", http_options=types.HttpOptions(base_url=live.url, api_version="v1beta", headers=header(kind))
    )


def _caught(call: Callable[[], Seen]) -> Seen:
    try:
        return call()
    except Exception as exc:  # the SDK's reaction is what the test documents
        return Seen(raised=exc)


def see_chat(oai: openai.OpenAI, kind: str, stream: bool) -> Seen:
    args: Any = {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "What is the weather in Paris?"}],
        "tools": OPENAI_TOOLS,
        "extra_headers": header(kind),
    }

    def call() -> Seen:
        if stream:
            with oai.chat.completions.stream(**args) as events:
                completion: Any = events.get_final_completion()
        else:
            completion = oai.chat.completions.create(**args)
        choice = completion.choices[0]
        calls = choice.message.tool_calls or []
        usage = completion.usage
        return Seen(
            choice.finish_reason,
            choice.message.content or "",
            [(c.function.name, c.function.arguments) for c in calls],
            [c.id for c in calls],
            choice.message.refusal,
            usage.completion_tokens_details.reasoning_tokens if usage and usage.completion_tokens_details else 0,
        )

    return _caught(call)


def see_responses(oai: openai.OpenAI, kind: str, stream: bool) -> Seen:
    args: Any = {
        "model": "gpt-4o-mini",
        "input": "What is the weather in Paris?",
        "tools": RESPONSES_TOOLS,
        "extra_headers": header(kind),
    }

    def call() -> Seen:
        if stream:
            with oai.responses.stream(**args) as events:
                response: Any = events.get_final_response()
        else:
            response = oai.responses.create(**args)
        seen = Seen(response.status, response.output_text)
        for item in response.output:
            if item.type == "function_call":
                seen.calls.append((item.name, item.arguments))
                seen.ids.append(item.call_id)
            elif item.type == "message":
                seen.refusal = next((p.refusal for p in item.content if p.type == "refusal"), seen.refusal)
        seen.reasoning_tokens = response.usage.output_tokens_details.reasoning_tokens if response.usage else 0
        return seen

    return _caught(call)


def see_anthropic(claude: anthropic.Anthropic, kind: str, stream: bool) -> Seen:
    args: Any = {
        "model": "claude-haiku-4-5",
        "max_tokens": 400,
        "messages": [{"role": "user", "content": "What is the weather in Paris?"}],
        "tools": ANTHROPIC_TOOLS,
        "extra_headers": header(kind),
    }

    def call() -> Seen:
        if stream:
            with claude.messages.stream(**args) as events:
                message: Any = events.get_final_message()
        else:
            message = claude.messages.create(**args)
        seen = Seen(message.stop_reason)
        for block in message.content:
            if block.type == "text":
                seen.text += block.text
            elif block.type == "tool_use":
                seen.calls.append((block.name, block.input))
                seen.ids.append(block.id)
            elif block.type == "thinking":
                seen.reasoning_tokens += 1
        return seen

    return _caught(call)


def see_gemini(live: LiveServer, kind: str, stream: bool) -> Seen:
    client = gemini(live, kind)
    tool = types.Tool(
        function_declarations=[types.FunctionDeclaration(name="get_weather", parameters_json_schema=SCHEMA)]
    )
    config = types.GenerateContentConfig(
        tools=[tool], automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True)
    )

    def call() -> Seen:
        if stream:
            chunks = list(
                client.models.generate_content_stream(model="gemini-2.0-flash", contents="Weather?", config=config)
            )
        else:
            chunks = [client.models.generate_content(model="gemini-2.0-flash", contents="Weather?", config=config)]
        seen = Seen()
        for chunk in chunks:
            feedback = chunk.prompt_feedback
            if feedback is not None and feedback.block_reason is not None:
                seen.refusal = f"prompt:{feedback.block_reason.value}"
            candidate = (chunk.candidates or [types.Candidate()])[0]
            if candidate.finish_reason is not None:
                seen.finish = candidate.finish_reason.value
            if candidate.safety_ratings:
                seen.refusal = ",".join(r.category.value for r in candidate.safety_ratings if r.blocked and r.category)
            for part in candidate.content.parts or [] if candidate.content else []:
                if part.function_call is not None:
                    seen.calls.append((part.function_call.name or "", part.function_call.args))
                elif part.text and not part.thought:
                    seen.text += part.text
            usage = chunk.usage_metadata
            seen.reasoning_tokens = (usage.thoughts_token_count or 0) if usage else 0
        return seen

    try:
        return _caught(call)
    finally:
        client.close()


def see(api: str, kind: str, stream: bool, oai: openai.OpenAI, claude: anthropic.Anthropic, live: LiveServer) -> Seen:
    if api == "chat":
        return see_chat(oai, kind, stream)
    if api == "responses":
        return see_responses(oai, kind, stream)
    if api == "anthropic":
        return see_anthropic(claude, kind, stream)
    return see_gemini(live, kind, stream)


def _json_args(arguments: Any) -> Any:
    """Arguments as a value: OpenAI's are JSON text (raises when they are not JSON)."""
    return orjson.loads(arguments) if isinstance(arguments, str) else arguments


# -- one check per kind: what each SDK returns or raises -----------------------------------------


def check_invalid_tool_arguments(api: str, stream: bool, seen: Seen) -> None:
    if api == "anthropic" and stream:
        # The SDK's stream accumulator parses input_json_delta and gives up.
        assert isinstance(seen.raised, ValueError) and "Unable to parse tool parameter JSON" in str(seen.raised)
        return
    assert seen.raised is None
    if api == "gemini":  # Gemini never sends a call it cannot parse: MALFORMED_FUNCTION_CALL, no call
        assert seen.finish == "MALFORMED_FUNCTION_CALL" and seen.calls == []
        return
    name, arguments = seen.calls[0]
    assert name == "get_weather"
    if api == "anthropic":  # a non-streamed tool_use input is always an object: empty here
        assert arguments == {} and seen.finish == "tool_use"
        return
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(arguments)
    assert seen.finish == ("tool_calls" if api == "chat" else "completed")


def check_schema_violation(api: str, stream: bool, seen: Seen) -> None:
    assert seen.raised is None
    name, arguments = seen.calls[0]
    value = _json_args(arguments)
    assert name == "get_weather" and "city" not in value  # the required property is missing
    assert value["days"] == "forty-two" and value["unexpected_field"] is True


def check_unknown_tool(api: str, stream: bool, seen: Seen) -> None:
    assert seen.raised is None
    assert [name for name, _ in seen.calls] == [UNKNOWN_TOOL_NAME]
    assert _json_args(seen.calls[0][1]) == {"confirm": True}


def check_duplicate_tool_call_ids(api: str, stream: bool, seen: Seen) -> None:
    if api == "responses" and stream:
        # The Responses stream helper keys function calls by call_id and refuses a duplicate.
        assert isinstance(seen.raised, RuntimeError) and "conflicting output identities" in str(seen.raised)
        return
    assert seen.raised is None
    assert len(seen.calls) == 2
    if api == "gemini":  # Gemini's calls carry no ids: two calls of one tool
        assert seen.ids == []
    else:
        assert len(seen.ids) == 2 and seen.ids[0] == seen.ids[1]


def check_length_in_tool_call(api: str, stream: bool, seen: Seen) -> None:
    if api == "chat" and stream:
        assert isinstance(seen.raised, openai.LengthFinishReasonError)
        return
    if api == "responses" and stream:
        # The helper's final response needs response.completed; an incomplete one ends the stream.
        assert isinstance(seen.raised, RuntimeError) and "response.completed" in str(seen.raised)
        return
    assert seen.raised is None
    assert seen.finish == {"chat": "length", "responses": "incomplete", "anthropic": "max_tokens"}.get(
        api, "MAX_TOKENS"
    )
    name, arguments = seen.calls[0]
    assert name == "get_weather"
    if api in ("anthropic", "gemini"):  # cut JSON becomes an empty object
        assert arguments == {}
    else:
        with pytest.raises(orjson.JSONDecodeError):
            orjson.loads(arguments)


def check_empty(api: str, stream: bool, seen: Seen) -> None:
    assert seen.raised is None
    assert seen.text == "" and seen.calls == [] and seen.refusal is None
    assert seen.finish == {"chat": "stop", "responses": "completed", "anthropic": "end_turn"}.get(api, "STOP")


def check_refusal(api: str, stream: bool, seen: Seen) -> None:
    assert seen.raised is None
    if api == "gemini":  # blocked candidate: no content, SAFETY and the blocking rating
        assert seen.finish == "SAFETY" and seen.text == ""
        assert seen.refusal == "HARM_CATEGORY_DANGEROUS_CONTENT"
    elif api == "anthropic":  # the text is ordinary text; stop_reason says refusal
        assert seen.finish == "refusal" and seen.text == REFUSAL_TEXT
    else:  # OpenAI: no content, the refusal field
        assert seen.refusal == REFUSAL_TEXT and seen.text == ""
        assert seen.finish == ("stop" if api == "chat" else "completed")


def check_prompt_blocked(api: str, stream: bool, seen: Seen) -> None:
    if api != "gemini":  # a refusal elsewhere
        check_refusal(api, stream, seen)
        return
    # No candidate at all: the prompt's feedback says why; response.text is None.
    assert seen.raised is None
    assert seen.refusal == "prompt:SAFETY" and seen.finish is None and seen.text == "" and seen.calls == []


def check_reasoning_only(api: str, stream: bool, seen: Seen) -> None:
    if api == "chat" and stream:
        assert isinstance(seen.raised, openai.LengthFinishReasonError)
        return
    if api == "responses" and stream:
        assert isinstance(seen.raised, RuntimeError) and "response.completed" in str(seen.raised)
        return
    assert seen.raised is None
    assert seen.text == "" and seen.calls == [] and seen.reasoning_tokens > 0
    assert seen.finish == {"chat": "length", "responses": "incomplete", "anthropic": "max_tokens"}.get(
        api, "MAX_TOKENS"
    )


def check_interleaved(api: str, stream: bool, seen: Seen) -> None:
    assert seen.raised is None
    assert seen.text == "Let me look that up. While that runs, one more check."
    assert [name for name, _ in seen.calls] == ["get_weather", "get_weather"]
    assert seen.finish == {"chat": "tool_calls", "responses": "completed", "anthropic": "tool_use"}.get(api, "STOP")


def check_truncated(api: str, stream: bool, seen: Seen) -> None:
    assert seen.raised is None
    assert seen.text.startswith(SENTENCE) and seen.text.endswith("almost tw")
    assert seen.finish == {"chat": "stop", "responses": "completed", "anthropic": "end_turn"}.get(api, "STOP")


def check_repeated(api: str, stream: bool, seen: Seen) -> None:
    assert seen.raised is None
    assert seen.text.count(SENTENCE) == 6


def check_wrong_json(api: str, stream: bool, seen: Seen) -> None:
    # Without a structured-output request the model sends text that is not JSON.
    assert seen.raised is None
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(seen.text)


CHECKS: dict[str, Callable[[str, bool, Seen], None]] = {
    "invalid_tool_arguments": check_invalid_tool_arguments,
    "schema_violation": check_schema_violation,
    "unknown_tool": check_unknown_tool,
    "duplicate_tool_call_ids": check_duplicate_tool_call_ids,
    "length_in_tool_call": check_length_in_tool_call,
    "empty": check_empty,
    "refusal": check_refusal,
    "prompt_blocked": check_prompt_blocked,
    "reasoning_only": check_reasoning_only,
    "interleaved": check_interleaved,
    "truncated": check_truncated,
    "repeated": check_repeated,
    "wrong_json": check_wrong_json,
}


def test_every_kind_has_a_check() -> None:
    assert set(CHECKS) == set(MISBEHAVIOURS)


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize("kind", MISBEHAVIOURS)
def test_what_the_sdk_sees(
    kind: str, api: str, stream: bool, oai: openai.OpenAI, claude: anthropic.Anthropic, live: LiveServer
) -> None:
    seen = see(api, kind, stream, oai, claude, live)
    CHECKS[kind](api, stream, seen)


# -- structured output: each SDK's own parser meets wrong JSON ------------------------------------


class Weather(pydantic.BaseModel):
    city: str
    days: int


def test_openai_parse_raises_on_wrong_json(oai: openai.OpenAI) -> None:
    with pytest.raises(pydantic.ValidationError):
        oai.chat.completions.parse(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "weather as json"}],
            response_format=Weather,
            extra_headers=header("wrong_json"),
        )
    with pytest.raises(pydantic.ValidationError, match="EOF while parsing"):  # an empty answer is no JSON either
        oai.responses.parse(
            model="gpt-4o-mini", input="weather as json", text_format=Weather, extra_headers=header("empty")
        )


def test_openai_parse_sees_a_refusal(oai: openai.OpenAI) -> None:
    completion = oai.chat.completions.parse(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "weather as json"}],
        response_format=Weather,
        extra_headers=header("refusal"),
    )
    message = completion.choices[0].message
    assert message.parsed is None and message.refusal == REFUSAL_TEXT


def test_anthropic_structured_output_and_forced_tool(claude: anthropic.Anthropic) -> None:
    with pytest.raises(pydantic.ValidationError):
        claude.messages.parse(
            model="claude-haiku-4-5",
            max_tokens=200,
            messages=[{"role": "user", "content": "weather as json"}],
            output_format=Weather,
            extra_headers=header("wrong_json"),
        )
    forced = claude.messages.create(
        model="claude-haiku-4-5",
        max_tokens=200,
        messages=[{"role": "user", "content": "weather"}],
        tools=ANTHROPIC_TOOLS,
        tool_choice={"type": "tool", "name": "get_weather"},
        extra_headers=header("wrong_json"),
    )
    block = forced.content[0]
    assert block.type == "tool_use" and "city" not in block.input and block.input["unexpected_field"] is True


def test_gemini_response_schema_wrong_json(live: LiveServer) -> None:
    client = gemini(live, "wrong_json")
    try:
        response = client.models.generate_content(
            model="gemini-2.0-flash",
            contents="weather",
            config=types.GenerateContentConfig(response_mime_type="application/json", response_schema=Weather),
        )
    finally:
        client.close()
    assert response.parsed is None  # google-genai leaves parsed empty when validation fails
    assert orjson.loads(response.text or "")["days"] == "forty-two"


# -- per rule, not only per request ---------------------------------------------------------------


def test_a_chaos_rule_misbehaves_for_its_model_only(live: LiveServer, oai: openai.OpenAI) -> None:
    rules = {"enabled": True, "rules": [{"name": "refuse-4o", "models": ["gpt-4o"], "misbehave": "refusal"}]}
    before = httpx.get(live.url + "/admin/chaos").json()["injections"].get("misbehave:refusal", 0)
    assert httpx.put(live.url + "/admin/chaos", json=rules).status_code == 200
    try:
        refused = oai.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
        normal = oai.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
        status = httpx.get(live.url + "/admin/chaos").json()
    finally:
        httpx.put(live.url + "/admin/chaos", json={"enabled": False, "rules": []})
    assert refused.choices[0].message.refusal == REFUSAL_TEXT and refused.choices[0].message.content is None
    assert normal.choices[0].message.refusal is None and normal.choices[0].message.content
    assert status["injections"]["misbehave:refusal"] == before + 1


def test_bad_misbehave_values_are_provider_shaped_400s(oai: openai.OpenAI, claude: anthropic.Anthropic) -> None:
    with pytest.raises(openai.BadRequestError, match="misbehave"):
        oai.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], extra_headers=header("sulk")
        )
    with pytest.raises(anthropic.BadRequestError, match="misbehave"):
        claude.messages.create(
            model="claude-haiku-4-5",
            max_tokens=10,
            messages=[{"role": "user", "content": "hi"}],
            extra_headers={"x-simulator-chaos": "misbehave=refusal; error=rate_limit"},
        )
