"""Every example of docs/fixtures.md loads and does what the document says (in process)."""

from __future__ import annotations

from collections.abc import Mapping

from llm_simulator.core.errors import ErrorKind
from llm_simulator.core.types import Endpoint, FinishReason, GenerationRequest, Message, ScriptedReply, SegmentKind
from llm_simulator.engine.script import Script, parse_fixtures
from llm_simulator.infra.clock import FakeClock
from tests.docs_examples import fixture_example, fixture_examples


def script(name: str) -> Script:
    loaded = Script(FakeClock())
    loaded.load(parse_fixtures(fixture_example(name), f"{name}.json" if name == "json" else name), replace=True)
    return loaded


def resolve(
    loaded: Script, *messages: Message, provider: str = "openai", headers: Mapping[str, str] | None = None
) -> ScriptedReply | None:
    gen = GenerationRequest(
        model="gpt-4o",
        endpoint=Endpoint.CHAT,
        messages=messages,
        prompt_tokens=1,
        follows_tool_result=messages[-1].role == "tool",
    )
    return loaded.resolve(provider, gen, headers or {})


def user(text: str) -> Message:
    return Message("user", text)


def test_every_example_is_named_and_tested() -> None:
    assert set(fixture_examples()) == {"text", "errors", "delay", "turns", "tools", "json", "agent", "overrides"}


def test_overrides_example() -> None:
    loaded = script("overrides")
    pinned = resolve(loaded, user("pinned please"))
    assert pinned is not None and pinned.text == "Cut short"
    assert (pinned.response_id, pinned.model, pinned.system_fingerprint) == (
        "chatcmpl-fixture-1",
        "gpt-4o-2024-08-06",
        "fp_fixture",
    )
    assert pinned.usage is not None and (pinned.usage.input_tokens, pinned.usage.output_tokens) == (100, 7)
    assert pinned.finish is FinishReason.LENGTH
    trip = resolve(loaded, user("plan the trip to Paris"))
    assert trip is not None
    assert [part.kind for part in trip.parts] == [SegmentKind.TEXT, SegmentKind.TOOL_CALL] * 2
    calls = [part.call for part in trip.parts if part.call is not None]
    assert [(c.name, c.arguments, c.id) for c in calls] == [
        ("get_weather", '{"city":"Paris"}', "weather1"),
        ("find_trains", '{"to":"Paris"}', None),
    ]


def test_text_example() -> None:
    loaded = script("text")
    greeting = resolve(loaded, user("well hello there"))
    assert greeting is not None and greeting.text == "Hello! How can I help you today?"
    order = resolve(loaded, user("Where is ORDER #123?"))
    assert order is not None and order.text == "Your order has shipped."
    assert resolve(loaded, user("order 123")) is None


def test_errors_example() -> None:
    loaded = script("errors")
    header = {"x-test-case": "rate-limit"}
    first = resolve(loaded, user("hi"), headers=header)
    assert first is not None and first.error is not None
    assert (first.error.kind, first.error.message) == (ErrorKind.RATE_LIMIT, "Slow down.")
    assert resolve(loaded, user("hi"), headers=header) is None  # times: 1
    overloaded = resolve(loaded, user("overload me"), provider="anthropic")
    assert overloaded is not None and overloaded.error is not None and overloaded.error.kind is ErrorKind.OVERLOADED
    assert resolve(loaded, user("overload me"), provider="openai") is None


def test_delay_example() -> None:
    loaded = script("delay")
    slow = resolve(loaded, user("slow please"))
    assert slow is not None and slow.delay_s == 0.4 and not slow.has_content and slow.error is None
    failure = resolve(loaded, user("slow failure"))
    assert failure is not None and failure.delay_s == 0.3
    assert failure.error is not None and failure.error.kind is ErrorKind.TIMEOUT


def test_turns_example() -> None:
    loaded = script("turns")
    acme = {"x-tenant": "acme-eu"}
    first = resolve(loaded, user("hi"), headers=acme)
    second = resolve(loaded, user("hi"), Message("assistant", "..."), user("more"), headers=acme)
    assert first is not None and first.text == "Welcome to ACME support."
    assert second is not None and second.text == "Anything else?"
    assert resolve(loaded, user("hi"), headers={"x-tenant": "other"}) is None


def test_tools_example() -> None:
    loaded = script("tools")
    call = resolve(loaded, user("weather in Rome?"))
    assert call is not None and call.text == "Let me check."
    assert [(c.name, c.arguments) for c in call.tool_calls] == [("get_weather", '{"city":"Paris","unit":"celsius"}')]
    after = resolve(loaded, user("weather in Rome?"), Message("assistant", ""), Message("tool", "18"))
    assert after is None
    structured = resolve(loaded, user("answer as json"))
    assert structured is not None and structured.text == '{"answer":42,"sources":[]}'


def test_json_example() -> None:
    pong = resolve(script("json"), user("ping"))
    assert pong is not None and pong.text == "pong"


def test_agent_example() -> None:
    loaded = script("agent")
    ask = user("What is the weather in Paris?")
    session = {"x-simulator-session": "doc"}
    call = resolve(loaded, ask, headers=session)
    assert call is not None and [c.name for c in call.tool_calls] == ["get_weather"]
    answer = resolve(loaded, ask, Message("assistant", ""), Message("tool", "18"), headers=session)
    assert answer is not None and answer.text == "It is 18 °C and sunny in Paris."
    history = (ask, Message("assistant", ""), Message("tool", "18"), Message("assistant", "sunny"))
    follow_up = resolve(loaded, *history, user("And tomorrow?"), headers=session)
    assert follow_up is not None and follow_up.text == "Tomorrow looks rainy."
    exhausted = resolve(loaded, *history, user("And tomorrow?"), headers=session)
    assert exhausted is not None and exhausted.error is not None and exhausted.error.code == "scenario_exhausted"
