"""Model misbehaviour in process: the replies each kind builds, their layout, and bad input."""

from __future__ import annotations

import random

import orjson
import pytest
from pydantic import ValidationError

from llm_simulator.config import load_config
from llm_simulator.config.chaos import ChaosRule
from llm_simulator.core.errors import SimulatorError
from llm_simulator.core.faults import MISBEHAVIOURS, Misbehaviour
from llm_simulator.core.types import (
    Endpoint,
    FinishReason,
    GenerationRequest,
    Message,
    OutputFormat,
    OutputKind,
    ScriptedPart,
    ScriptedReply,
    ScriptedToolCall,
    SegmentKind,
    ToolChoice,
    ToolChoiceMode,
    ToolSpec,
)
from llm_simulator.engine.chaos.control import parse_control
from llm_simulator.engine.chaos.controller import ChaosController, RequestFacts
from llm_simulator.engine.chaos.misbehave import misbehaving_reply, violating
from llm_simulator.engine.script import parse_fixtures
from llm_simulator.engine.simulator import Simulator
from llm_simulator.infra.clock import FakeClock

WEATHER = ToolSpec(
    "get_weather",
    parameters={
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
        "required": ["city"],
    },
)
CLOCK = ToolSpec("get_time", parameters={"type": "object", "properties": {"tz": {"type": "string"}}})


def req(**kw: object) -> GenerationRequest:
    base: dict[str, object] = {
        "model": "gpt-4o",
        "endpoint": Endpoint.CHAT,
        "messages": (Message("user", "hello"),),
        "prompt_tokens": 5,
        "tools": (WEATHER, CLOCK),
    }
    base.update(kw)
    return GenerationRequest(**base)  # type: ignore[arg-type]


def reply(kind: str, **kw: object) -> ScriptedReply:
    return misbehaving_reply(Misbehaviour(kind), req(**kw), random.Random(1))


def calls(scripted: ScriptedReply) -> list[ScriptedToolCall]:
    return [part.call for part in scripted.parts if part.call is not None]


def test_every_kind_builds_a_named_reply() -> None:
    for kind in MISBEHAVIOURS:
        built = reply(kind)
        assert built.parts and built.source == f"chaos misbehave {kind}"


def test_call_kinds_target_the_forced_tool_else_the_first() -> None:
    assert calls(reply("schema_violation"))[0].name == "get_weather"
    forced = reply("schema_violation", tool_choice=ToolChoice(ToolChoiceMode.NAMED, "get_time"))
    assert calls(forced)[0].name == "get_time"
    assert calls(reply("invalid_tool_arguments", tools=()))[0].name == "lookup"  # no tools offered
    assert calls(reply("unknown_tool", tools=(ToolSpec("delete_all_records"),)))[0].name == "delete_all_records_x"


def test_call_kinds_break_what_they_say() -> None:
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(calls(reply("invalid_tool_arguments"))[0].arguments)
    first, second = calls(reply("duplicate_tool_call_ids"))
    assert first.id is not None and first.id == second.id
    cut = reply("length_in_tool_call")
    assert cut.finish is FinishReason.LENGTH
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(calls(cut)[0].arguments)
    assert [p.kind for p in reply("interleaved").parts] == [SegmentKind.TEXT, SegmentKind.TOOL_CALL] * 2


def test_violating_breaks_every_rule_of_the_schema() -> None:
    value = violating(
        {"type": "object", "properties": {"a": {"type": "STRING"}, "b": {"type": "boolean"}}, "required": ["a"]}
    )
    assert value == {"b": "yes", "unexpected_field": True}
    assert violating({}) == {"unexpected_field": True}


def test_wrong_json_follows_the_requested_format() -> None:
    schema: dict[str, object] = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    structured = reply("wrong_json", output=OutputFormat(OutputKind.JSON_SCHEMA, schema), tools=())
    assert orjson.loads(structured.parts[0].text) == {"unexpected_field": True}
    enum_schema: dict[str, object] = {"type": "string", "enum": ["A"]}
    enum = reply("wrong_json", output=OutputFormat(OutputKind.ENUM, enum_schema), tools=())
    assert enum.parts[0].text == "NOT_AN_OPTION"
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(reply("wrong_json", tools=()).parts[0].text)


def test_legacy_completions_get_the_text_parts_only() -> None:
    interleaved = reply("interleaved", endpoint=Endpoint.COMPLETION)
    assert {p.kind for p in interleaved.parts} == {SegmentKind.TEXT}
    assert [p.text for p in reply("unknown_tool", endpoint=Endpoint.COMPLETION).parts] == [""]


def test_a_fixture_delay_is_kept() -> None:
    built = reply("empty", scripted=ScriptedReply(text="fixture", delay_s=0.25))
    assert built.delay_s == 0.25 and built.parts[0].text == ""


# -- the planner lays out ordered parts --------------------------------------------------------


def plan(scripted: ScriptedReply, **kw: object) -> object:
    sim = Simulator(load_config(flags={"latency.enabled": False}))
    spec = sim.resolve_model("gpt-4o", "openai")
    assert spec is not None
    return sim.plan(req(scripted=scripted, **kw), spec, 7)


def test_parts_keep_their_order_and_ids() -> None:
    parts = (
        ScriptedPart(SegmentKind.TEXT, "Hello there. "),
        ScriptedPart(SegmentKind.TOOL_CALL, call=ScriptedToolCall("get_time", '{"tz":"UTC"}', "fixed")),
        ScriptedPart(SegmentKind.REASONING, "thinking"),
        ScriptedPart(SegmentKind.TEXT, "Done."),
    )
    choice = plan(ScriptedReply(parts=parts)).choices[0]  # type: ignore[attr-defined]
    assert [s.kind for s in choice.segments] == [p.kind for p in parts]
    assert choice.text == "Hello there. Done." and choice.reasoning == "thinking"
    assert choice.tool_calls[0].id == "fixed" and choice.finish_reason is FinishReason.TOOL_CALLS


def test_parts_are_cut_by_the_token_limit() -> None:
    parts = (ScriptedPart(SegmentKind.TEXT, "one two three four five six seven eight"),)
    choice = plan(ScriptedReply(parts=parts, finish=FinishReason.STOP), max_tokens=3).choices[0]  # type: ignore[attr-defined]
    assert len(choice.tokens) == 3 and choice.finish_reason is FinishReason.LENGTH


def test_an_empty_reply_is_one_empty_text() -> None:
    choice = plan(ScriptedReply(parts=(ScriptedPart(SegmentKind.TEXT, ""),))).choices[0]  # type: ignore[attr-defined]
    assert choice.tokens == [] and choice.finish_reason is FinishReason.STOP
    assert [(s.kind, s.start, s.stop) for s in choice.segments] == [(SegmentKind.TEXT, 0, 0)]


def test_overrides_with_generated_content() -> None:
    generated = plan(ScriptedReply(finish=FinishReason.REFUSAL, system_fingerprint="fp_x"))
    assert generated.system_fingerprint == "fp_x"  # type: ignore[attr-defined]
    assert generated.choices[0].finish_reason is FinishReason.REFUSAL  # type: ignore[attr-defined]


# -- configuration, the control header and fixtures: bad input named ---------------------------


def test_a_rule_with_misbehave_alone_is_valid_and_decides() -> None:
    rule = ChaosRule(misbehave="refusal")
    controller = ChaosController(
        load_config().chaos.model_copy(update={"enabled": True, "rules": (rule,)}), FakeClock(), 1
    )
    verdict = controller.decide(RequestFacts("openai", "chat", "gpt-4o", "k", {}))
    assert verdict.misbehave is Misbehaviour.REFUSAL and verdict.error is None
    assert controller.injections["misbehave:refusal"] == 1


def test_misbehave_and_an_error_exclude_each_other() -> None:
    with pytest.raises(ValidationError, match="give an error or misbehave, not both"):
        ChaosRule(misbehave="refusal", error_type="rate_limit")
    with pytest.raises(ValidationError, match="misbehave"):
        ChaosRule(misbehave="sulk")


def test_the_control_header_names_a_bad_kind() -> None:
    assert parse_control("misbehave=empty", "x-simulator-chaos")[0].misbehave == "empty"
    with pytest.raises(SimulatorError, match="misbehave"):
        parse_control("misbehave=sulk", "x-simulator-chaos")


@pytest.mark.parametrize(
    ("respond", "message"),
    [
        ({"text": "a", "parts": [{"text": "b"}]}, "parts replace text, json and tool_calls"),
        ({"parts": []}, "parts must list at least one part"),
        ({"parts": [{"text": "a", "reasoning": "b"}]}, "give exactly one of text, reasoning, tool_call"),
        ({"error": {"status": 500}, "model": "m"}, "an error cannot be combined with parts or response overrides"),
        ({"finish_reason": "done"}, "finish_reason"),
        ({"usage": {"input_tokens": -1}}, "input_tokens"),
    ],
)
def test_bad_fixture_overrides_are_named(respond: dict[str, object], message: str) -> None:
    document = orjson.dumps({"rules": [{"name": "bad", "respond": respond}]}).decode()
    with pytest.raises(ValueError, match=message):
        parse_fixtures(document, "bad.json")


def test_overrides_alone_are_a_valid_reply() -> None:
    fixtures = parse_fixtures('{"rules": [{"respond": {"id": "x-1", "usage": {"output_tokens": 3}}}]}', "ok.json")
    assert fixtures.rules[0].respond.to_reply("r").response_id == "x-1"
