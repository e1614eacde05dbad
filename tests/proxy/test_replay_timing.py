"""Replay re-timed by the simulator, fresh ids, custom match keys: record once through a proxy, replay offline.

Timing assertions are lower bounds only (a wait never ends early), so they hold on a loaded box.
"""

from __future__ import annotations

import datetime
import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from llm_simulator.config.loader import ConfigError, load_config
from llm_simulator.proxy.replay import CassetteError, check_cassettes
from llm_simulator.testing import SimulatorHandle, start_simulator
from tests.proxy.conftest import paced_config, proxy_config

PACED = paced_config(100, 20)
CHAT: Any = [{"role": "user", "content": "time me"}]
TOOL: Any = {
    "type": "function",
    "function": {"name": "lookup", "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}},
}
STEP_MS = 40.0
ENGINE: dict[str, Any] = {
    "kv_blocks": 10_000,
    "max_num_seqs": 1,
    "max_waiting": 16,
    "step": {
        "step_ms": STEP_MS,
        "weights_ms": 0.0,
        "prefill_ms_per_token": 0.0,
        "kv_ms_per_token": 0.0,
        "overlap": 0.0,
        "jitter_sigma": 0.0,
        "front_ms": 0.0,
    },
    "models": ["paced-gpt"],
}


def _client(sim: SimulatorHandle) -> openai.OpenAI:
    return openai.OpenAI(base_url=sim.openai_base_url, api_key="k", max_retries=0)


def _tool_turns(client: openai.OpenAI) -> tuple[str, str]:
    """A two-turn tool conversation; the second turn quotes the first turn's tool call id."""
    first = client.chat.completions.create(
        model="paced-gpt",
        messages=CHAT,
        tools=[TOOL],
        tool_choice="required",
        max_tokens=20,
    )
    calls = first.choices[0].message.tool_calls
    assert calls
    call = calls[0]
    messages: Any = [
        *CHAT,
        {
            "role": "assistant",
            "tool_calls": [{"id": call.id, "type": "function", "function": {"name": "lookup", "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": call.id, "content": "found"},
    ]
    second = client.chat.completions.create(model="paced-gpt", messages=messages, max_tokens=5)
    return call.id, second.choices[0].message.content or ""


@pytest.fixture(scope="module")
def cassettes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("cassettes")
    with (
        start_simulator(PACED) as upstream,
        start_simulator(proxy_config(upstream, record_dir=str(directory))) as proxy,
        _client(proxy) as client,
    ):
        client.chat.completions.create(model="paced-gpt", messages=CHAT, max_tokens=5)
        list(client.chat.completions.create(model="paced-gpt", messages=CHAT, max_tokens=5, stream=True))
        _tool_turns(client)
        httpx.get(f"{proxy.url}/v1beta/models", params=[("pageSize", "2"), ("pageSize", "3")], timeout=10)
    return directory


def _entries(directory: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for path in directory.glob("*.jsonl") for line in path.read_text().splitlines()]


def _replay(directory: Path, **proxy: Any) -> dict[str, Any]:
    return {**PACED, "proxy": {"replay_dir": str(directory), "replay_miss": "error", **proxy}}


def _stream_seconds(sim: SimulatorHandle) -> tuple[float, float]:
    """Seconds to the first and the last byte of the replayed stream."""
    started = time.monotonic()
    times = []
    body = {"model": "paced-gpt", "messages": CHAT, "max_tokens": 5, "stream": True}
    with httpx.stream("POST", f"{sim.openai_base_url}/chat/completions", json=body, timeout=60) as response:
        assert response.status_code == 200
        for _ in response.iter_raw():
            times.append(time.monotonic() - started)
    return times[0], times[-1]


def test_repeated_query_parameters_are_kept(cassettes: Path) -> None:
    listed = next(e for e in _entries(cassettes) if e["request"]["path"] == "/v1beta/models")
    assert listed["request"]["query"] == {"pageSize": ["2", "3"]}


def test_model_timing_re_times_a_replayed_stream_by_the_latency_profile(cassettes: Path) -> None:
    slow = {
        "latency.profiles": {
            "paced": {"ttft": {"type": "fixed", "value_ms": 900}, "itl": {"type": "fixed", "value_ms": 100}}
        }
    }
    with start_simulator({**_replay(cassettes, replay_timing="model"), **slow}) as replay:
        first, last = _stream_seconds(replay)
    # Recorded, the first chunk came after ~100 ms and the fifth token 80 ms later; re-timed, 900 ms and 400 ms.
    assert first >= 0.9 * 0.95
    assert last - first >= 4 * 0.100 * 0.9


def test_model_timing_under_load_waits_for_the_engine(cassettes: Path) -> None:
    config = {**_replay(cassettes, replay_timing="model"), "engine": {"deployments": {"one": ENGINE}}}
    with start_simulator(config) as replay:
        alone = _stream_seconds(replay)[1]
        with ThreadPoolExecutor(4) as pool:
            lasts = [last for _, last in pool.map(lambda _: _stream_seconds(replay), range(4))]
    # One sequence at a time: the last of four waits for the others' five decode steps each.
    assert alone >= 5 * STEP_MS / 1000 * 0.9
    assert max(lasts) >= 4 * 5 * STEP_MS / 1000 * 0.9


def test_ids_and_timestamps_are_fresh_by_default_and_recorded_on_request(cassettes: Path) -> None:
    recorded = next(e for e in _entries(cassettes) if "body" in e and '"lookup"' not in json.dumps(e["request"]))
    body = json.loads(recorded["body"]["text"])
    with start_simulator(_replay(cassettes, replay_time_scale=0)) as replay, _client(replay) as client:
        answers = [client.chat.completions.create(model="paced-gpt", messages=CHAT, max_tokens=5) for _ in range(2)]
    assert answers[0].id != answers[1].id != body["id"]
    assert all(a.id.startswith("chatcmpl-") and len(a.id) == len(body["id"]) for a in answers)
    now = datetime.datetime.now(datetime.UTC).timestamp()
    assert all(abs(a.created - now) < 120 for a in answers)
    with (
        start_simulator(_replay(cassettes, replay_time_scale=0, replay_ids="recorded")) as replay,
        _client(replay) as client,
    ):
        same = client.chat.completions.create(model="paced-gpt", messages=CHAT, max_tokens=5)
    assert (same.id, same.created) == (body["id"], body["created"])


def test_a_conversation_quoting_a_fresh_id_still_matches(cassettes: Path) -> None:
    recorded = next(e for e in _entries(cassettes) if '"tool"' in json.dumps(e["request"]))
    recorded_call = recorded["request"]["json"]["messages"][-1]["tool_call_id"]
    with start_simulator(_replay(cassettes, replay_time_scale=0)) as replay, _client(replay) as client:
        fresh_call, answer = _tool_turns(client)  # strict mode: a miss would raise
    assert fresh_call != recorded_call and fresh_call.startswith("call_")
    assert answer


def test_a_custom_key_matches_on_the_chosen_paths(cassettes: Path) -> None:
    custom = _replay(
        cassettes, replay_time_scale=0, replay_match="custom", replay_key=["json.messages.-1.content", "json.stream"]
    )
    with start_simulator(custom) as replay, _client(replay) as client:
        other = client.chat.completions.create(model="other-model", messages=CHAT, max_tokens=99, temperature=0.1)
        assert other.choices[0].message.content
        with pytest.raises(openai.NotFoundError, match="No cassette entry"):
            client.chat.completions.create(model="paced-gpt", messages=[{"role": "user", "content": "new"}])


def test_an_unknown_match_key_path_is_refused_up_front() -> None:
    with pytest.raises(ConfigError, match=r"unknown match key path 'body\.model'"):
        load_config(None, {}, {"proxy.replay_match": "custom", "proxy.replay_key": ["body.model"]})
    with pytest.raises(ConfigError, match="replay_key is needed"):
        load_config(None, {}, {"proxy.replay_match": "custom"})


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("[1, 2]", "not a JSON object"),
        ('{"request": "GET /", "status": 200}', "no request object"),
        ('{"request": {}, "status": 200, "chunks": "data: x"}', "chunks is not a list"),
        ('{"request": {}, "status": "ok"}', "invalid literal"),
    ],
)
def test_a_malformed_cassette_entry_names_its_file_line_and_fault(tmp_path: Path, line: str, says: str) -> None:
    (tmp_path / "c.jsonl").write_text('{"request": {}, "status": 200, "body": {"text": "{}"}}\n' + line + "\n")
    with pytest.raises(CassetteError, match=rf"c\.jsonl:2 is not a cassette entry \(.*{says}"):
        check_cassettes(load_config(None, {}, {"proxy.replay_dir": str(tmp_path)}))


def test_a_latency_multiplier_stretches_a_recorded_replay(cassettes: Path) -> None:
    entry = next(e for e in _entries(cassettes) if "chunks" in e)
    recorded_last_s = entry["chunks"][-1]["ms"] / 1000
    with start_simulator(_replay(cassettes)) as replay, replay.chaos(latency_multiplier=3, providers=["openai"]):
        _, last = _stream_seconds(replay)
    assert last >= 3 * recorded_last_s * 0.95
