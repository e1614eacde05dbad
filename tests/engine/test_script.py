"""Fixtures: the file format and its errors, matching, rules, scenario sessions, and plans."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson
import pytest

from llm_simulator.config import load_config
from llm_simulator.config.loader import ConfigError
from llm_simulator.core.errors import ErrorKind
from llm_simulator.core.types import (
    Endpoint,
    FinishReason,
    GenerationRequest,
    Message,
    ScriptedReply,
    ScriptedToolCall,
    SegmentKind,
    ToolSpec,
)
from llm_simulator.engine.script import FixtureError, Script, fixtures_from_data, parse_fixtures
from llm_simulator.engine.simulator import Simulator
from llm_simulator.infra.clock import FakeClock

ASK = Message("user", "What is the weather in Paris?")
CALL = Message("assistant", "get_weather {}")
RESULT = Message("tool", '{"temp_c": 18}')


def request(*messages: Message, model: str = "gpt-4o", **kw: Any) -> GenerationRequest:
    msgs = messages or (Message("user", "hello"),)
    fields: dict[str, Any] = {"endpoint": Endpoint.CHAT, "follows_tool_result": msgs[-1].role == "tool", **kw}
    return GenerationRequest(model=model, messages=msgs, prompt_tokens=5, **fields)


def script_of(document: str, **kw: Any) -> Script:
    script = Script(FakeClock(), **kw)
    script.load(parse_fixtures(document), replace=True)
    return script


def text_of(
    script: Script, req: GenerationRequest, provider: str = "openai", headers: Mapping[str, str] | None = None
) -> str | None:
    reply = script.resolve(provider, req, headers or {})
    return None if reply is None else reply.text


# -- Loading and validation -------------------------------------------------------------------


def test_yaml_and_json_documents_load_the_same() -> None:
    yaml_doc = "rules:\n  - match: {message: hi}\n    respond: {text: hello}\n"
    json_doc = '{"rules": [{"match": {"message": "hi"}, "respond": {"text": "hello"}}]}'
    assert parse_fixtures(yaml_doc) == parse_fixtures(json_doc) == parse_fixtures(json_doc, "f.json")
    assert parse_fixtures("") == fixtures_from_data(None)


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ("rules: [{name: slow, respond: {}}]", "rules[0] ('slow'): respond: give at least one of"),
        ("rules: [{respond: {text: a}, mtch: {}}]", "rules[0]: mtch: unknown key"),
        ("rules: [{respond: {text: a, json: 1}}]", "rules[0]: respond: give text or json, not both"),
        ("rules: [{respond: {text: a, error: {status: 429}}}]", "an error cannot be combined"),
        ("rules: [{respond: {error: {message: x}}}]", "rules[0]: respond.error: give a status, a kind, or both"),
        ("rules: [{respond: {error: {status: 200}}}]", "respond.error.status: Input should be greater than"),
        ("rules: [{respond: {error: {kind: nope}}}]", "respond.error.kind: Input should be"),
        ("rules: [{respond: {delay_ms: -1}}]", "respond.delay_ms"),
        ("rules: [{respond: {tool_calls: []}}]", "tool_calls must list at least one call"),
        ("rules: [{match: {message: {regex: '('}}, respond: {text: a}}]", "rules[0]: match.message: invalid regex"),
        ("rules: [{match: {message: {}}, respond: {text: a}}]", "give exactly one of equals, contains, regex"),
        ("rules: [{match: {provider: azure}, respond: {text: a}}]", "rules[0]: match.provider[0]: Input should be"),
        ("rules: [{match: {turn: -1}, respond: {text: a}}]", "match.turn"),
        (
            "scenarios: [{name: a, steps: [{respond: {text: x}}, {name: two, respond: {tool_calls: [{nme: f}]}}]}]",
            "scenarios[0] ('a') steps[1] ('two'): respond.tool_calls[0].nme: unknown key",
        ),
        ("scenarios: [{name: a, steps: []}]", "scenarios[0] ('a'): steps: Tuple should have at least 1 item"),
        ("scenarios: [{name: a, steps: [{respond: {text: x}}], after_last: loop}]", "after_last"),
        (
            "scenarios: [{name: a, steps: [{respond: {text: x}}]}, {name: a, steps: [{respond: {text: y}}]}]",
            "two scenarios are named 'a'",
        ),
        ("[1, 2]", "the top level must be a mapping"),
        ("rules: [", "not valid YAML"),
    ],
)
def test_invalid_documents_name_the_rule_and_key(document: str, expected: str) -> None:
    with pytest.raises(FixtureError) as info:
        parse_fixtures(document, "doc.yaml")
    assert expected in str(info.value)
    assert str(info.value).startswith("doc.yaml")


def test_invalid_json_file_is_reported_as_json() -> None:
    with pytest.raises(FixtureError, match=r"f\.json: not valid JSON"):
        parse_fixtures("{rules: [}", "f.json")


def test_error_kind_and_status_imply_each_other() -> None:
    def error_of(spec: str) -> tuple[ErrorKind, int | None, str]:
        reply = script_of(f"rules: [{{respond: {{error: {spec}}}}}]").resolve("openai", request(), {})
        assert reply is not None and reply.error is not None
        return reply.error.kind, reply.error.status, reply.error.message

    assert error_of("{status: 429}")[:2] == (ErrorKind.RATE_LIMIT, None)
    assert error_of("{status: 529}")[:2] == (ErrorKind.OVERLOADED, None)
    assert error_of("{status: 418}")[:2] == (ErrorKind.INVALID_REQUEST, 418)
    assert error_of("{status: 502}")[:2] == (ErrorKind.SERVER_ERROR, 502)
    assert error_of("{kind: timeout}")[:2] == (ErrorKind.TIMEOUT, None)
    assert error_of("{type: unavailable, message: down}") == (ErrorKind.UNAVAILABLE, None, "down")
    assert "Rate limit" in error_of("{status: 429}")[2]


def test_json_and_tool_arguments_are_compact_json() -> None:
    script = script_of(
        """
rules:
  - match: {message: structured}
    respond: {json: {a: [1, 2], b: null}}
  - respond:
      tool_calls:
        - {name: f, arguments: {x: 1, y: "two"}}
        - {name: g, arguments: '{"broken": '}
        - {name: h}
"""
    )
    assert text_of(script, request(Message("user", "structured please"))) == '{"a":[1,2],"b":null}'
    reply = script.resolve("openai", request(), {})
    assert reply is not None
    assert reply.tool_calls == (
        ScriptedToolCall("f", '{"x":1,"y":"two"}'),
        ScriptedToolCall("g", '{"broken": '),
        ScriptedToolCall("h", "{}"),
    )


# -- Matching ---------------------------------------------------------------------------------


def test_message_tests_apply_to_the_last_user_message() -> None:
    script = script_of(
        """
rules:
  - {match: {message: {equals: exact}}, respond: {text: equals}}
  - {match: {message: {regex: '^order #\\d+$', ignore_case: true}}, respond: {text: regex}}
  - {match: {message: {contains: CASE, ignore_case: true}}, respond: {text: nocase}}
  - {match: {message: weather}, respond: {text: contains}}
"""
    )
    assert text_of(script, request(Message("user", "exact"))) == "equals"
    assert text_of(script, request(Message("user", "exact!"))) is None
    assert text_of(script, request(Message("user", "ORDER #12"))) == "regex"
    assert text_of(script, request(Message("user", "in any case"))) == "nocase"
    assert text_of(script, request(ASK)) == "contains"
    # The last *user* message: tool results and assistant turns are not it.
    assert text_of(script, request(ASK, CALL, RESULT)) == "contains"
    assert text_of(script, request(Message("user", "weather"), Message("user", "exact"))) == "equals"


def test_provider_model_endpoint_turn_tool_result_and_header_conditions() -> None:
    script = script_of(
        """
rules:
  - {match: {provider: [anthropic, google]}, respond: {text: not-openai}}
  - {match: {model: 'gpt-4o-mini*'}, respond: {text: mini}}
  - {match: {endpoint: completion}, respond: {text: legacy}}
  - {match: {headers: {X-Tenant: acme}}, respond: {text: exact-header}}
  - {match: {headers: {x-tenant: {regex: '^ac'}}}, respond: {text: regex-header}}
  - {match: {has_tool_result: true}, respond: {text: after-tool}}
  - {match: {turn: 1}, respond: {text: second-turn}}
"""
    )
    assert text_of(script, request(), "anthropic") == "not-openai"
    assert text_of(script, request(), "gemini") == "not-openai"
    assert text_of(script, request(model="gpt-4o-mini-2024-07-18")) == "mini"
    assert text_of(script, request(endpoint=Endpoint.COMPLETION)) == "legacy"
    assert text_of(script, request(), headers={"x-tenant": "acme"}) == "exact-header"
    assert text_of(script, request(), headers={"x-tenant": "acorn"}) == "regex-header"
    assert text_of(script, request(), headers={"x-tenant": "other"}) is None
    assert text_of(script, request(ASK, CALL, RESULT)) == "after-tool"
    assert text_of(script, request(ASK, Message("assistant", "sunny"), Message("user", "And tomorrow?"))) == (
        "second-turn"
    )
    assert text_of(script, request(ASK)) is None


def test_first_matching_rule_wins_and_times_limits_a_rule() -> None:
    script = script_of(
        """
rules:
  - {name: once, match: {message: hi}, times: 2, respond: {error: {status: 429}}}
  - {match: {message: hi}, respond: {text: first}}
  - {match: {message: hi}, respond: {text: second}}
"""
    )
    hi = request(Message("user", "hi"))
    first, second = script.resolve("openai", hi, {}), script.resolve("openai", hi, {})
    assert first is not None and first.error is not None and first.source == "rule 0 'once'"
    assert second is not None and second.error is not None
    assert text_of(script, hi) == "first"
    view = script.fixtures_view()
    assert [rule["hits"] for rule in view["rules"]] == [2, 1, 0]
    assert view["rules"][0]["match"] == {"message": {"contains": "hi"}}


def test_delay_only_reply_keeps_generation() -> None:
    reply = script_of("rules: [{respond: {delay_ms: 250}}]").resolve("openai", request(), {})
    assert reply is not None and not reply.has_content and reply.delay_s == 0.25


def test_append_keeps_and_replace_drops_rules_and_sessions() -> None:
    script = script_of("rules: [{match: {message: a}, respond: {text: A}}]")
    script.load(parse_fixtures("rules: [{match: {message: b}, respond: {text: B}}]"), replace=False)
    assert text_of(script, request(Message("user", "a"))) == "A"
    assert text_of(script, request(Message("user", "b"))) == "B"
    assert [r["index"] for r in script.fixtures_view()["rules"]] == [0, 1]
    script.load(parse_fixtures("scenarios: [{name: s, steps: [{respond: {text: S}}]}]"), replace=False)
    assert text_of(script, request(Message("user", "a"))) == "S"
    with pytest.raises(FixtureError, match="scenario 's' is already loaded"):
        script.load(parse_fixtures("scenarios: [{name: s, steps: [{respond: {text: T}}]}]"), replace=False)
    script.load(parse_fixtures("rules: [{respond: {text: only}}]"), replace=True)
    assert script.sessions_view() == [] and text_of(script, request(Message("user", "a"))) == "only"
    script.clear()
    assert not script.active and script.resolve("openai", request(), {}) is None


# -- Scenarios --------------------------------------------------------------------------------

AGENT = """
scenarios:
  - name: agent
    match: {message: weather}
    after_last: {after_last}
    steps:
      - name: call
        respond: {tool_calls: [{name: get_weather, arguments: {city: Paris}}]}
      - name: answer
        match: {has_tool_result: true}
        respond: {text: Sunny.}
rules:
  - respond: {text: from-rule}
"""


def agent(after_last: str = "fall_through", **kw: Any) -> Script:
    return script_of(AGENT.replace("{after_last}", after_last), **kw)


def test_scenario_plays_steps_in_order_per_session_and_records_them() -> None:
    script = agent()
    session = {"x-simulator-session": "run-1"}
    first = script.resolve("anthropic", request(ASK, tools=(ToolSpec("get_weather"),)), session)
    assert first is not None and [c.name for c in first.tool_calls] == ["get_weather"]
    # Another session starts at step 0, independently.
    other = script.resolve("anthropic", request(ASK), {"x-simulator-session": "run-2"})
    assert other is not None and other.tool_calls
    assert text_of(script, request(ASK, CALL, RESULT), "anthropic", session) == "Sunny."
    # Past the last step: fall through to the rules.
    assert text_of(script, request(ASK, CALL, RESULT, Message("user", "more weather")), "anthropic", session) == (
        "from-rule"
    )
    view = script.session_view("run-1")
    assert view is not None
    assert (view["scenario"], view["next_step"], view["steps"], view["done"], view["source"]) == (
        "agent",
        2,
        2,
        True,
        "header",
    )
    history = view["history"]
    assert [(h["step"], h["outcome"]) for h in history] == [(0, "answered"), (1, "answered"), (None, "past_end")]
    assert history[0]["received"]["tools"] == ["get_weather"]
    assert history[0]["received"]["has_tool_result"] is False
    assert history[1]["received"]["tool_results"] == ['{"temp_c": 18}']
    assert history[1]["received"]["last_user_text"] == ASK.text
    assert history[1]["reply"] == {"source": "scenario 'agent' step 1 'answer'", "text": "Sunny."}
    assert history[0]["reply"]["tool_calls"] == [{"name": "get_weather", "arguments": '{"city":"Paris"}'}]
    assert history[2]["received"]["turn"] == 1
    assert {s["id"] for s in script.sessions_view()} == {"run-1", "run-2"}
    assert script.fixtures_view()["scenarios"][0]["sessions"] == 2


def test_step_mismatch_falls_through_without_consuming_the_step() -> None:
    script = agent()
    script.resolve("openai", request(ASK), {})
    # Step 1 wants a tool result; a plain question gets the rule and step 1 waits.
    assert text_of(script, request(ASK, Message("assistant", "?"), Message("user", "weather again"))) == "from-rule"
    assert text_of(script, request(ASK, CALL, RESULT)) == "Sunny."
    (view,) = script.sessions_view()
    assert [(h["step"], h["outcome"]) for h in view["history"]] == [(0, "answered"), (1, "mismatch"), (1, "answered")]
    assert view["history"][1]["reply"] is None


def test_sessions_without_header_follow_the_conversation_content() -> None:
    script = agent()
    assert script.resolve("openai", request(ASK), {}) is not None
    assert text_of(script, request(ASK, CALL, RESULT)) == "Sunny."
    # Another model, provider or opening question is another conversation.
    assert script.resolve("openai", request(ASK, model="gpt-4o-mini"), {}) is not None
    assert script.resolve("gemini", request(ASK), {}) is not None
    ids = [s["id"] for s in script.sessions_view()]
    assert len(ids) == 3 and all(i.startswith("content-") for i in ids)
    assert script.clear_sessions() == 3 and script.sessions_view() == []
    # A conversation the scenario's match rejects gets no session.
    assert text_of(script, request(Message("user", "hello"))) == "from-rule"
    assert script.sessions_view() == []


@pytest.mark.parametrize(
    ("after_last", "expected"),
    [("repeat_last", ("Sunny.", "repeated")), ("restart", (None, "restarted")), ("error", (None, "exhausted"))],
)
def test_after_last(after_last: str, expected: tuple[str | None, str]) -> None:
    script = agent(after_last)
    headers = {"x-simulator-session": "s"}
    script.resolve("openai", request(ASK), headers)
    script.resolve("openai", request(ASK, CALL, RESULT), headers)
    reply = script.resolve("openai", request(ASK, CALL, RESULT), headers)
    assert reply is not None and reply.text == expected[0]
    view = script.session_view("s")
    assert view is not None and view["history"][-1]["outcome"] == expected[1]
    if after_last == "restart":
        assert reply.tool_calls and view["next_step"] == 1
    if after_last == "error":
        assert reply.error is not None and reply.error.code == "scenario_exhausted"
        assert reply.error.kind is ErrorKind.INVALID_REQUEST and "all 2 steps" in reply.error.message


def test_custom_session_header_and_lru_bound() -> None:
    script = agent(session_header="X-Run", max_sessions=2)
    for run in ("a", "b", "c"):
        script.resolve("openai", request(ASK), {"x-run": run})
    assert [s["id"] for s in script.sessions_view()] == ["b", "c"]
    assert script.drop_session("b") and not script.drop_session("b")
    assert script.session_view("zzz") is None


# -- Plans from scripted replies ------------------------------------------------------------


@pytest.fixture(scope="module")
def sim() -> Simulator:
    return Simulator(load_config(flags={"latency.enabled": False}))


def plan_of(sim: Simulator, reply: ScriptedReply, **kw: Any) -> Any:
    spec = sim.resolve_model("gpt-4o", "openai")
    assert spec is not None
    return sim.plan(request(scripted=reply, **kw), spec, 5)


def test_scripted_text_is_exact_and_honours_limits_and_stops(sim: Simulator) -> None:
    text = "The quick brown fox jumps over the lazy dog."
    whole = plan_of(sim, ScriptedReply(text=text))
    assert whole.choices[0].text == text and whole.choices[0].finish_reason is FinishReason.STOP
    exact = plan_of(sim, ScriptedReply(text=text), max_tokens=whole.completion_tokens)
    assert exact.choices[0].finish_reason is FinishReason.STOP
    cut = plan_of(sim, ScriptedReply(text=text), max_tokens=3)
    assert cut.completion_tokens == 3 and cut.choices[0].finish_reason is FinishReason.LENGTH
    assert text.startswith(cut.choices[0].text)
    stopped = plan_of(sim, ScriptedReply(text=text), stop=(" jumps",))
    assert stopped.choices[0].text == "The quick brown fox"
    assert stopped.choices[0].finish_reason is FinishReason.STOP_SEQUENCE
    many = plan_of(sim, ScriptedReply(text="Same."), n=3, logprobs=True, top_logprobs=2)
    assert [c.text for c in many.choices] == ["Same."] * 3
    assert all(c.logprobs is not None and len(c.logprobs) == len(c.tokens) for c in many.choices)
    empty = plan_of(sim, ScriptedReply(text=""))
    assert empty.completion_tokens == 0 and empty.choices[0].finish_reason is FinishReason.STOP


def test_scripted_tool_calls_follow_text_with_seeded_ids(sim: Simulator) -> None:
    reply = ScriptedReply(
        text="Checking.", tool_calls=(ScriptedToolCall("a", '{"x":1}'), ScriptedToolCall("b", '{"y":"long value"}'))
    )
    plan = plan_of(sim, reply)
    choice = plan.choices[0]
    assert choice.finish_reason is FinishReason.TOOL_CALLS and choice.text == "Checking."
    assert [s.kind for s in choice.segments] == [SegmentKind.TEXT, SegmentKind.TOOL_CALL, SegmentKind.TOOL_CALL]
    assert [(c.name, c.arguments) for c in choice.tool_calls] == [("a", '{"x":1}'), ("b", '{"y":"long value"}')]
    assert [c.id for c in plan_of(sim, reply).choices[0].tool_calls] == [c.id for c in choice.tool_calls]
    assert len({c.id for c in choice.tool_calls}) == 2
    text_tokens = choice.segments[0].stop
    cut = plan_of(sim, reply, max_tokens=text_tokens + 2).choices[0]
    assert cut.finish_reason is FinishReason.LENGTH and [c.name for c in cut.tool_calls] == ["a"]
    assert len(cut.tokens) == text_tokens + 2
    # A stop sequence in the text ends the choice before any call.
    stopped = plan_of(sim, reply, stop=(".",)).choices[0]
    assert stopped.finish_reason is FinishReason.STOP_SEQUENCE and stopped.tool_calls == []


def test_delay_only_reply_plans_generated_text(sim: Simulator) -> None:
    plain = plan_of(sim, ScriptedReply(delay_s=0.5), seed=1)
    assert plain.choices[0].text and plain.choices[0].finish_reason in (FinishReason.STOP, FinishReason.LENGTH)


# -- Configuration ------------------------------------------------------------------------------


def test_config_files_are_loaded_relative_to_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "fx").mkdir()
    (tmp_path / "fx" / "a.yaml").write_text("rules: [{respond: {text: from-file}}]\n")
    (tmp_path / "b.json").write_text(
        orjson.dumps({"scenarios": [{"name": "s", "steps": [{"respond": {"text": "x"}}]}]}).decode()
    )
    config_file = tmp_path / "sim.yaml"
    config_file.write_text("fixtures: {files: [fx/a.yaml, b.json], session_header: X-Run}\n")
    config = load_config(config_file)
    assert config.fixtures.files == (str(tmp_path / "fx" / "a.yaml"), str(tmp_path / "b.json"))
    assert config.fixtures.session_header == "x-run"
    sim = Simulator(config)
    view = sim.script.fixtures_view()
    assert len(view["rules"]) == 1 and view["scenarios"][0]["name"] == "s"
    assert view["rules"][0]["origin"] == str(tmp_path / "fx" / "a.yaml")


def test_bad_fixture_files_stop_the_start(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules: [{name: oops, respond: {txt: hi}}]\n")
    with pytest.raises(
        ConfigError, match=r"(?s)fixtures\.files: .*bad\.yaml.*rules\[0\] \('oops'\): respond\.txt: unknown key"
    ):
        Simulator(load_config(flags={"fixtures.files": [str(bad)]}))
    with pytest.raises(ConfigError, match="cannot read fixtures file"):
        Simulator(load_config(flags={"fixtures.files": [str(tmp_path / "missing.yaml")]}))
    with pytest.raises(ConfigError, match=r"fixtures\.session_header"):
        load_config(flags={"fixtures.session_header": "bad header"})


def test_fixtures_environment_variable_is_a_list() -> None:
    config = load_config(environ={"LLM_SIMULATOR_FIXTURES": "a.yaml, b.json"})
    assert config.fixtures.files == ("a.yaml", "b.json")
