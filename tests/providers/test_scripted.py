"""Scripted fixtures over a real socket through the three official SDKs.

The server loads the examples of docs/fixtures.md (through ``fixtures.files`` in a config
file) plus a few rules of this module; every SDK sees fixed text, provider-shaped errors,
delays, header and turn matching, and the three-step agent scenario, whose record the admin
API then shows.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest
import yaml
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from tests.docs_examples import fixture_example
from tests.live import LiveServer, live_server

OPENAI_MODEL = "gpt-4o-mini"
ANTHROPIC_MODEL = "claude-haiku-4-5"
GEMINI_MODEL = "gemini-2.0-flash"
SESSION = "x-simulator-session"
# Rules of this module, before the documented ones: a 429 for every provider.
EXTRA_RULES = """
rules:
  - name: always-429
    match: {message: please rate limit me}
    respond: {error: {status: 429, message: Too many requests (test).}}
"""
DOC_EXAMPLES = ("text", "errors", "delay", "turns", "tools", "agent")


def fixtures_document() -> dict[str, list[Any]]:
    merged: dict[str, list[Any]] = {"rules": [], "scenarios": []}
    for text in (EXTRA_RULES, *(fixture_example(name) for name in DOC_EXAMPLES)):
        doc = yaml.safe_load(text)
        merged["rules"] += doc.get("rules", [])
        merged["scenarios"] += doc.get("scenarios", [])
    return merged


@pytest.fixture(scope="module")
def scripted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A latency-free simulator whose config file loads the fixtures (a path relative to it)."""
    root = tmp_path_factory.mktemp("scripted")
    (root / "fixtures.yaml").write_text(yaml.safe_dump(fixtures_document(), allow_unicode=True), encoding="utf-8")
    (root / "sim.yaml").write_text("fixtures:\n  files: [fixtures.yaml]\n")
    with live_server("--no-latency", "--config", str(root / "sim.yaml")) as live:
        yield live


@pytest.fixture(scope="module")
def oai(scripted: LiveServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(
        base_url=scripted.openai_base, api_key="k", max_retries=0, _strict_response_validation=True
    ) as client:
        yield client


@pytest.fixture(scope="module")
def claude(scripted: LiveServer) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(
        base_url=scripted.url, api_key="k", max_retries=0, _strict_response_validation=True
    ) as client:
        yield client


def gemini_client(server: LiveServer, headers: dict[str, str] | None = None) -> genai.Client:
    return genai.Client(
        api_key="k", http_options=types.HttpOptions(base_url=server.url, api_version="v1beta", headers=headers)
    )


@pytest.fixture(scope="module")
def gem(scripted: LiveServer) -> Iterator[genai.Client]:
    with gemini_client(scripted) as client:
        yield client


def openai_text(client: openai.OpenAI, text: str, *, stream: bool = False, **kw: Any) -> str:
    messages: Any = [{"role": "user", "content": text}]
    if stream:
        chunks = client.chat.completions.create(model=OPENAI_MODEL, messages=messages, stream=True, **kw)
        return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    reply = client.chat.completions.create(model=OPENAI_MODEL, messages=messages, **kw)
    return reply.choices[0].message.content or ""


def anthropic_text(client: anthropic.Anthropic, text: str, *, stream: bool = False, **kw: Any) -> str:
    messages: Any = [{"role": "user", "content": text}]
    if stream:
        with client.messages.stream(model=ANTHROPIC_MODEL, max_tokens=200, messages=messages, **kw) as events:
            message = events.get_final_message()
    else:
        message = client.messages.create(model=ANTHROPIC_MODEL, max_tokens=200, messages=messages, **kw)
    return "".join(block.text for block in message.content if block.type == "text")


def gemini_text(client: genai.Client, text: str, *, stream: bool = False) -> str:
    if stream:
        return "".join(c.text or "" for c in client.models.generate_content_stream(model=GEMINI_MODEL, contents=text))
    return client.models.generate_content(model=GEMINI_MODEL, contents=text).text or ""


# -- Rules ------------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
def test_fixed_text_on_the_responses_api(oai: openai.OpenAI, stream: bool) -> None:
    if stream:
        with oai.responses.stream(model=OPENAI_MODEL, input="hello there") as events:
            text = events.get_final_response().output_text
    else:
        text = oai.responses.create(model=OPENAI_MODEL, input="hello there").output_text
    assert text == "Hello! How can I help you today?"


@pytest.mark.parametrize("stream", [False, True])
def test_fixed_text_for_substring_and_regex_on_every_sdk(
    oai: openai.OpenAI, claude: anthropic.Anthropic, gem: genai.Client, stream: bool
) -> None:
    greeting = "Hello! How can I help you today?"
    assert openai_text(oai, "hello there", stream=stream) == greeting
    assert anthropic_text(claude, "hello there", stream=stream) == greeting
    assert gemini_text(gem, "hello there", stream=stream) == greeting
    shipped = "Your order has shipped."
    assert openai_text(oai, "Where is ORDER #42?", stream=stream) == shipped
    assert anthropic_text(claude, "where is order #42", stream=stream) == shipped
    assert gemini_text(gem, "order #42 status?", stream=stream) == shipped


def test_scripted_text_still_honours_max_tokens(oai: openai.OpenAI, claude: anthropic.Anthropic) -> None:
    reply = oai.chat.completions.create(
        model=OPENAI_MODEL, messages=[{"role": "user", "content": "hello"}], max_completion_tokens=2
    )
    assert reply.choices[0].finish_reason == "length" and reply.usage is not None
    assert reply.usage.completion_tokens == 2 and (reply.choices[0].message.content or "").startswith("Hello")
    message = claude.messages.create(
        model=ANTHROPIC_MODEL, max_tokens=2, messages=[{"role": "user", "content": "hello"}]
    )
    assert message.stop_reason == "max_tokens" and message.usage.output_tokens == 2


def test_error_rule_is_rendered_in_each_providers_shape(
    oai: openai.OpenAI, claude: anthropic.Anthropic, gem: genai.Client
) -> None:
    ask = "please rate limit me"
    with pytest.raises(openai.RateLimitError) as openai_error:
        openai_text(oai, ask)
    assert openai_error.value.status_code == 429 and "Too many requests" in openai_error.value.message
    with pytest.raises(openai.RateLimitError):
        openai_text(oai, ask, stream=True)
    with pytest.raises(anthropic.RateLimitError) as anthropic_error:
        anthropic_text(claude, ask)
    assert anthropic_error.value.body is not None
    assert anthropic_error.value.body["error"]["type"] == "rate_limit_error"  # type: ignore[index]
    with pytest.raises(genai_errors.ClientError) as gemini_error:
        gemini_text(gem, ask)
    assert gemini_error.value.code == 429 and gemini_error.value.status == "RESOURCE_EXHAUSTED"
    assert gemini_error.value.message == "Too many requests (test)."
    # Anthropic's own overloaded error (529) for the documented rule.
    with pytest.raises(anthropic.OverloadedError) as overloaded:
        anthropic_text(claude, "overload now", stream=True)
    assert overloaded.value.status_code == 529


def test_times_limits_a_rule(oai: openai.OpenAI) -> None:
    header = {"x-test-case": "rate-limit"}
    with pytest.raises(openai.RateLimitError, match="Slow down"):
        openai_text(oai, "hi", extra_headers=header)
    assert openai_text(oai, "hi", extra_headers=header)  # the rule is spent: a generated answer


@pytest.mark.parametrize("sdk", ["openai", "anthropic", "gemini"])
def test_delay_rule_postpones_the_first_token(
    oai: openai.OpenAI, claude: anthropic.Anthropic, gem: genai.Client, sdk: str
) -> None:
    started = time.monotonic()
    if sdk == "openai":
        text = openai_text(oai, "slow please", stream=True)
    elif sdk == "anthropic":
        text = anthropic_text(claude, "slow please", stream=True)
    else:
        text = gemini_text(gem, "slow please", stream=True)
    assert time.monotonic() - started >= 0.35  # 400 ms scripted, minus timer slack
    assert text  # the answer itself is generated


def test_delay_then_error(gem: genai.Client) -> None:
    started = time.monotonic()
    with pytest.raises(genai_errors.ServerError) as error:
        gemini_text(gem, "slow failure")
    assert time.monotonic() - started >= 0.25
    assert error.value.code == 504 and error.value.status == "DEADLINE_EXCEEDED"


def test_header_and_turn_matching(scripted: LiveServer, oai: openai.OpenAI, claude: anthropic.Anthropic) -> None:
    acme = {"x-tenant": "acme-eu"}
    first: Any = [{"role": "user", "content": "hi"}]
    second: Any = [*first, {"role": "assistant", "content": "Welcome."}, {"role": "user", "content": "more"}]
    reply = oai.chat.completions.create(model=OPENAI_MODEL, messages=first, extra_headers=acme)
    assert reply.choices[0].message.content == "Welcome to ACME support."
    reply = oai.chat.completions.create(model=OPENAI_MODEL, messages=second, extra_headers=acme)
    assert reply.choices[0].message.content == "Anything else?"
    message = claude.messages.create(model=ANTHROPIC_MODEL, max_tokens=50, messages=second, extra_headers=acme)
    assert message.content[0].type == "text" and message.content[0].text == "Anything else?"
    with gemini_client(scripted, acme) as client:
        assert gemini_text(client, "hi") == "Welcome to ACME support."
    other = oai.chat.completions.create(model=OPENAI_MODEL, messages=first, extra_headers={"x-tenant": "globex"})
    assert other.choices[0].message.content not in ("Welcome to ACME support.", "Anything else?")


def test_text_then_tool_call_on_every_sdk(oai: openai.OpenAI, claude: anthropic.Anthropic, gem: genai.Client) -> None:
    ask = "weather in Rome?"
    arguments = {"city": "Paris", "unit": "celsius"}
    reply = oai.chat.completions.create(model=OPENAI_MODEL, messages=[{"role": "user", "content": ask}])
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content == "Let me check."
    (call,) = choice.message.tool_calls or []
    assert call.type == "function" and call.function.name == "get_weather"
    assert call.function.arguments == '{"city":"Paris","unit":"celsius"}'
    with oai.chat.completions.stream(model=OPENAI_MODEL, messages=[{"role": "user", "content": ask}]) as stream:
        final = stream.get_final_completion().choices[0].message
    assert final.content == "Let me check."
    assert [(c.function.name, c.function.arguments) for c in final.tool_calls or []] == [
        ("get_weather", call.function.arguments)
    ]
    with claude.messages.stream(
        model=ANTHROPIC_MODEL, max_tokens=200, messages=[{"role": "user", "content": ask}]
    ) as events:
        message = events.get_final_message()
    assert message.stop_reason == "tool_use"
    assert [block.type for block in message.content] == ["text", "tool_use"]
    tool_use = message.content[1]
    assert tool_use.type == "tool_use" and tool_use.input == arguments
    response = gem.models.generate_content(model=GEMINI_MODEL, contents=ask)
    assert response.text == "Let me check."
    assert [(c.name, c.args) for c in response.function_calls or []] == [("get_weather", arguments)]


def test_json_reply(oai: openai.OpenAI) -> None:
    assert openai_text(oai, "answer as json") == '{"answer":42,"sources":[]}'


# -- The three-step agent scenario ------------------------------------------------------------

ASK = "What is the weather in Paris?"
TOOL_RESULT = '{"temp_c": 18}'
ANSWER = "It is 18 °C and sunny in Paris."
FOLLOW_UP = "And tomorrow?"
TOMORROW = "Tomorrow looks rainy."
WEATHER_SCHEMA: dict[str, Any] = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


def run_openai_agent(client: openai.OpenAI, session: str) -> list[str]:
    headers = {SESSION: session}
    tools: Any = [{"type": "function", "function": {"name": "get_weather", "parameters": WEATHER_SCHEMA}}]
    messages: list[Any] = [{"role": "user", "content": ASK}]
    with client.chat.completions.stream(
        model=OPENAI_MODEL, messages=messages, tools=tools, extra_headers=headers
    ) as stream:
        first = stream.get_final_completion().choices[0]
    assert first.finish_reason == "tool_calls"
    (call,) = first.message.tool_calls or []
    assert call.type == "function" and call.function.name == "get_weather"
    assert call.function.arguments == '{"city":"Paris"}'
    messages += [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": call.id, "type": "function", "function": call.function.model_dump()}],
        },
        {"role": "tool", "tool_call_id": call.id, "content": TOOL_RESULT},
    ]
    second = client.chat.completions.create(model=OPENAI_MODEL, messages=messages, tools=tools, extra_headers=headers)
    answer = second.choices[0].message.content or ""
    messages += [{"role": "assistant", "content": answer}, {"role": "user", "content": FOLLOW_UP}]
    third = client.chat.completions.create(model=OPENAI_MODEL, messages=messages, tools=tools, extra_headers=headers)
    return [call.function.name, answer, third.choices[0].message.content or ""]


def run_anthropic_agent(client: anthropic.Anthropic, session: str) -> list[str]:
    headers = {SESSION: session}
    tools: Any = [{"name": "get_weather", "input_schema": WEATHER_SCHEMA}]
    messages: list[Any] = [{"role": "user", "content": ASK}]
    kwargs: dict[str, Any] = {"model": ANTHROPIC_MODEL, "max_tokens": 300, "tools": tools, "extra_headers": headers}
    with client.messages.stream(messages=messages, **kwargs) as events:
        first = events.get_final_message()
    assert first.stop_reason == "tool_use"
    (block,) = first.content
    assert block.type == "tool_use" and block.input == {"city": "Paris"}
    messages += [
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": block.id, "name": block.name, "input": block.input}],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": block.id, "content": TOOL_RESULT}]},
    ]
    second = client.messages.create(messages=messages, **kwargs)
    answer = "".join(b.text for b in second.content if b.type == "text")
    messages += [{"role": "assistant", "content": answer}, {"role": "user", "content": FOLLOW_UP}]
    third = client.messages.create(messages=messages, **kwargs)
    return [block.name, answer, "".join(b.text for b in third.content if b.type == "text")]


def run_gemini_agent(server: LiveServer, session: str) -> list[str]:
    tool = types.Tool(
        function_declarations=[types.FunctionDeclaration(name="get_weather", parameters_json_schema=WEATHER_SCHEMA)]
    )
    config = types.GenerateContentConfig(tools=[tool])
    contents: list[Any] = [types.Content(role="user", parts=[types.Part.from_text(text=ASK)])]
    with gemini_client(server, {SESSION: session}) as client:
        chunks = list(client.models.generate_content_stream(model=GEMINI_MODEL, contents=contents, config=config))
        calls = [call for chunk in chunks for call in chunk.function_calls or []]
        assert [(c.name, c.args) for c in calls] == [("get_weather", {"city": "Paris"})]
        contents += [
            types.Content(role="model", parts=[types.Part(function_call=calls[0])]),
            types.Content(
                role="user",
                parts=[types.Part.from_function_response(name="get_weather", response={"temp_c": 18})],
            ),
        ]
        second = client.models.generate_content(model=GEMINI_MODEL, contents=contents, config=config)
        answer = second.text or ""
        contents += [
            types.Content(role="model", parts=[types.Part.from_text(text=answer)]),
            types.Content(role="user", parts=[types.Part.from_text(text=FOLLOW_UP)]),
        ]
        third = client.models.generate_content(model=GEMINI_MODEL, contents=contents, config=config)
        return [calls[0].name or "", answer, third.text or ""]


@pytest.mark.parametrize("sdk", ["openai", "anthropic", "gemini"])
def test_three_step_agent_scenario_and_its_record(
    scripted: LiveServer, oai: openai.OpenAI, claude: anthropic.Anthropic, sdk: str
) -> None:
    session = f"agent-{sdk}"
    if sdk == "openai":
        outputs = run_openai_agent(oai, session)
    elif sdk == "anthropic":
        outputs = run_anthropic_agent(claude, session)
    else:
        outputs = run_gemini_agent(scripted, session)
    assert outputs == ["get_weather", ANSWER, TOMORROW]

    view = httpx.get(f"{scripted.url}/admin/sessions/{session}").json()
    assert (view["scenario"], view["source"], view["next_step"], view["done"]) == ("weather-agent", "header", 3, True)
    history = view["history"]
    assert [(h["step"], h["step_name"], h["outcome"]) for h in history] == [
        (0, "call the tool", "answered"),
        (1, "answer from the result", "answered"),
        (2, "follow-up", "answered"),
    ]
    received = [h["received"] for h in history]
    assert {r["provider"] for r in received} == {sdk}
    assert [r["has_tool_result"] for r in received] == [False, True, False]
    assert [r["turn"] for r in received] == [0, 0, 1]
    assert [r["last_user_text"] for r in received] == [ASK, ASK, FOLLOW_UP]
    assert [r["tools"] for r in received] == [["get_weather"]] * 3
    assert received[0]["tool_results"] == [] and received[2]["tool_results"] == []
    (result,) = received[1]["tool_results"]
    assert "18" in result
    assert history[1]["reply"]["text"] == ANSWER

    # Past the last step the scenario says "error": a 400 in the provider's shape.
    if sdk == "openai":
        with pytest.raises(openai.BadRequestError, match=r"has no step 4"):
            openai_text(oai, ASK, extra_headers={SESSION: session})


def test_admin_lists_the_file_fixtures(scripted: LiveServer) -> None:
    listed = httpx.get(f"{scripted.url}/admin/fixtures").json()
    names = [rule.get("name") for rule in listed["rules"]]
    assert names[:3] == ["always-429", "greeting", "order-status"]
    assert all(Path(rule["origin"]).name == "fixtures.yaml" for rule in listed["rules"])
    assert [s["name"] for s in listed["scenarios"]] == ["weather-agent"]
