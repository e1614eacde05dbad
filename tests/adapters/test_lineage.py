"""Conversation lineage: agent loops through the official SDKs become sessions, turns, response
chains and tool calls in a bounded graph, queryable and exportable at /admin/lineage, assertable
from the SDK's ``Lineage`` view, and primed from an exported graph (a file source or the admin API)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest

from llm_simulator.adapters import AdapterRegistry
from llm_simulator.config.schema import SimulatorConfig
from llm_simulator.engine.simulator import Simulator
from llm_simulator.sdk import Lineage
from llm_simulator.testing import SimulatorHandle, start_simulator

WEATHER: Any = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}},
}
FORCE: Any = {"type": "function", "function": {"name": "get_weather"}}


@pytest.fixture
def sim() -> Iterator[SimulatorHandle]:
    with start_simulator({"adapters": {"lineage": {"enabled": True, "max_sessions": 5}}}) as handle:
        yield handle


def agent_turns(client: openai.OpenAI, question: str, *, pass_result: bool) -> None:
    """A two-call agent: the model asks for a tool; the agent answers with (or without) its result."""
    messages: Any = [{"role": "user", "content": question}]
    first = client.chat.completions.create(model="gpt-4o", messages=messages, tools=[WEATHER], tool_choice=FORCE)
    call = first.choices[0].message.tool_calls[0]  # type: ignore[index]
    if pass_result:
        messages.append(first.choices[0].message.model_dump(exclude_none=True))
        messages.append({"role": "tool", "tool_call_id": call.id, "content": '{"temp_c": 21}'})
    else:
        # The agent drops the call from its history (the API refuses a call left unanswered).
        messages.append({"role": "user", "content": "never mind"})
    client.chat.completions.create(model="gpt-4o", messages=messages, tools=[WEATHER])


def test_agent_loop_lineage_and_the_tool_result_assertion(sim: SimulatorHandle) -> None:
    client = openai.OpenAI(base_url=sim.openai_base_url, api_key="k", max_retries=0)
    try:
        agent_turns(client, "weather in Paris?", pass_result=True)
        agent_turns(client, "weather in Oslo?", pass_result=False)
    finally:
        client.close()
    graph = sim.lineage()
    assert len(graph.sessions) == 2  # recognised by how each conversation opens
    paris, oslo = (s for s in graph.sessions)
    assert [t["model"] for t in graph.turns(paris)] == ["gpt-4o", "gpt-4o"]
    assert Lineage(sim.admin.lineage(paris).raw).result_passed_back("get_weather")
    assert not sim.lineage(oslo).result_passed_back("get_weather")
    assert len(graph.edges_of("next")) == 2 and len(graph.edges_of("result_in")) == 1
    # Paris: the call, then a text answer to its result (the Oslo agent may be asked for another call).
    assert len(sim.lineage(paris).edges_of("requested")) == 1


def test_streams_header_sessions_and_response_chains(sim: SimulatorHandle) -> None:
    claude = anthropic.Anthropic(
        base_url=sim.url, api_key="k", max_retries=0, default_headers={"x-session-id": "job-7"}
    )
    openai_client = openai.OpenAI(base_url=sim.openai_base_url, api_key="k", max_retries=0)
    try:
        tools: Any = [{"name": "lookup", "input_schema": {"type": "object", "properties": {}}}]
        with claude.messages.stream(
            model="claude-3-5-haiku-latest",
            max_tokens=50,
            messages=[{"role": "user", "content": "find it"}],
            tools=tools,
            tool_choice={"type": "tool", "name": "lookup"},
        ) as stream:
            message = stream.get_final_message()
        tool_use = next(b for b in message.content if b.type == "tool_use")
        turns: Any = [
            {"role": "user", "content": "something else entirely"},
            {"role": "assistant", "content": [tool_use.model_dump()]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool_use.id, "content": "42"}]},
        ]
        claude.messages.create(model="claude-3-5-haiku-latest", max_tokens=20, messages=turns, tools=tools)
        first = openai_client.responses.create(model="gpt-4o", input="step one")
        second = openai_client.responses.create(model="gpt-4o", input="step two", previous_response_id=first.id)
    finally:
        claude.close()
        openai_client.close()
    job = sim.lineage("job-7")
    assert job.sessions == ["job-7"] and len(job.turns()) == 2  # two openings, one header session
    assert job.result_passed_back(call_id=tool_use.id)  # the call came from a stream's events
    chain = sim.lineage()
    continues = chain.edges_of("continues")
    assert len(continues) == 1
    later, earlier = continues[0]
    assert chain.nodes[earlier]["response_id"] == first.id and chain.nodes[later]["response_id"] == second.id
    assert chain.nodes[later]["session"] == chain.nodes[earlier]["session"]  # the chain names the session


def test_exports_priming_bounds_and_bad_input(sim: SimulatorHandle, tmp_path: Path) -> None:
    base = f"{sim.url}/admin/lineage"
    for i in range(7):
        httpx.post(
            f"{sim.openai_base_url}/chat/completions",
            json={"model": "gpt-4o", "messages": [{"role": "user", "content": f"q{i}"}]},
        )
    health = httpx.get(f"{sim.url}/admin/adapters").json()["adapters"]["lineage"]
    assert health["sessions"] == 5 and health["sessions_dropped"] == 2  # max_sessions 5
    graphml = ET.fromstring(httpx.get(base, params={"format": "graphml"}).content)
    assert len(graphml.findall(".//{http://graphml.graphdrawing.org/xmlns}node")) == 10  # 5 sessions × (session + turn)
    assert httpx.get(base, params={"format": "dot"}).text.startswith("digraph lineage {")
    assert httpx.get(base, params={"format": "xml"}).status_code == 400
    assert httpx.get(base, params={"session": "nope"}).status_code == 404
    exported = httpx.get(base).json()
    session = exported["sessions"][-1]["id"]
    assert httpx.delete(base).json() == {"sessions": 0}
    bad = httpx.post(base, content=b'{"nodes": [{"id": 1}], "edges": []}')
    assert bad.status_code == 400 and "nodes[0]" in bad.json()["error"]["message"]
    assert httpx.post(base, json=exported).json() == {"primed_sessions": 5}
    httpx.post(
        f"{sim.openai_base_url}/chat/completions",
        json={"model": "gpt-4o", "messages": [{"role": "user", "content": "continue"}]},
        headers={"x-session-id": session},
    )
    primed = sim.lineage(session)
    assert [t["seq"] for t in primed.turns()] == [1, 2] and len(primed.edges_of("next")) == 1
    (tmp_path / "lineage.json").write_text(json.dumps(exported))


async def test_file_source_primes_and_garbage_keeps_the_last_good(tmp_path: Path) -> None:
    source = tmp_path / "lineage.json"
    graph = {
        "nodes": [
            {"id": "session:old", "session": "old", "kind": "session"},
            {"id": "turn:r1", "session": "old", "kind": "turn", "seq": 1, "response_id": "resp_1"},
        ],
        "edges": [{"source": "session:old", "target": "turn:r1", "type": "has_turn"}],
    }
    source.write_text(json.dumps(graph))
    config = SimulatorConfig.model_validate(
        {"adapters": {"lineage": {"enabled": True, "sources": [{"file": str(source)}]}}}
    )
    registry = AdapterRegistry(config, Simulator(config))
    registry.start()
    try:
        await registry.refresh()
        adapter = registry.get("lineage")
        assert adapter is not None and adapter.health()["sessions"] == 1
        source.write_text("<html>oops</html>")
        await registry.refresh()
        health = adapter.health()
        assert health["status"] == "degraded" and "not a JSON lineage graph" in health["sources"][0]["last_error"]
        assert health["sessions"] == 1
    finally:
        await registry.aclose()


SCENARIO = """
scenarios:
  - name: weather-agent
    match: {message: weather in Lyon}
    steps:
      - name: call the tool
        respond:
          tool_calls:
            - name: get_weather
              arguments: {city: Lyon}
      - name: answer from the result
        match: {has_tool_result: true}
        respond:
          text: It is 18 degrees in Lyon.
"""


def test_scenario_steps_are_nodes_each_turn_points_at(sim: SimulatorHandle) -> None:
    client = openai.OpenAI(base_url=sim.openai_base_url, api_key="k", max_retries=0)
    try:
        with sim.fixtures(SCENARIO):
            messages: Any = [{"role": "user", "content": "weather in Lyon?"}]
            first = client.chat.completions.create(model="gpt-4o", messages=messages, tools=[WEATHER])
            call = first.choices[0].message.tool_calls[0]  # type: ignore[index]
            assert call.function.name == "get_weather"  # type: ignore[union-attr]
            messages.append(first.choices[0].message.model_dump(exclude_none=True))
            messages.append({"role": "tool", "tool_call_id": call.id, "content": '{"temp_c": 18}'})
            second = client.chat.completions.create(model="gpt-4o", messages=messages, tools=[WEATHER])
            assert second.choices[0].message.content == "It is 18 degrees in Lyon."
        # An unscripted conversation: turns without a step.
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hello"}])
    finally:
        client.close()
    graph = sim.lineage()
    (session,) = [s for s in graph.sessions if graph.steps(s)]
    assert graph.steps(session) == [
        ("weather-agent", 0, "call the tool"),
        ("weather-agent", 1, "answer from the result"),
    ]
    assert graph.steps() == graph.steps(session)  # the unscripted turn took none
    taken = graph.edges_of("took_step")
    assert len(taken) == 2
    turns = [t["id"] for t in graph.turns(session)]
    assert [a for a, _ in taken] == turns  # an edge from each turn of the session, in order
    assert {graph.nodes[b]["kind"] for _, b in taken} == {"scenario_step"}
    assert graph.result_passed_back("get_weather")
    dot = httpx.get(sim.url + "/admin/lineage", params={"format": "dot"}, timeout=5)
    assert dot.status_code == 200 and "took_step" in dot.text and "shape=note" in dot.text
