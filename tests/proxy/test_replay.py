"""Replay: record through the proxy, then answer offline from the cassettes, through the official SDKs.

The upstream paces its streams (TTFT 300 ms, ITL 60 ms) so the recording has real offsets;
the replayed chunks must arrive no earlier than recorded (a wait is never shorter than due)
and, on a loaded 2-core box, within a generous 1.5 s of it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest
from google import genai
from google.genai import types

from llm_simulator.config.loader import load_config
from llm_simulator.proxy.replay import CassetteError, check_cassettes
from llm_simulator.sdk import Client, JournalAssertionError, scope
from llm_simulator.testing import SimulatorHandle, start_simulator
from tests.proxy.conftest import paced_config, proxy_config

PACED = paced_config(300, 60, ("openai", "anthropic", "google"))
CHAT: Any = [{"role": "user", "content": "replay me"}]
LATE_S = 1.5  # how late a replayed chunk may be on a loaded box


def _openai(sim: SimulatorHandle) -> openai.OpenAI:
    return openai.OpenAI(base_url=sim.openai_base_url, api_key="k", max_retries=0, _strict_response_validation=True)


def _anthropic(sim: SimulatorHandle) -> anthropic.Anthropic:
    return anthropic.Anthropic(
        base_url=sim.anthropic_base_url, api_key="k", max_retries=0, _strict_response_validation=True
    )


def _gemini(sim: SimulatorHandle) -> genai.Client:
    return genai.Client(api_key="k", http_options=types.HttpOptions(base_url=sim.url, api_version="v1beta"))


def _exercise(sim: SimulatorHandle) -> dict[str, Any]:
    """One streamed and one whole answer per wire format, as each SDK reads them."""
    oa, claude, gem = _openai(sim), _anthropic(sim), _gemini(sim)
    out: dict[str, Any] = {}
    out["openai"] = (
        oa.chat.completions.create(model="paced-gpt", messages=CHAT, max_tokens=5).choices[0].message.content
    )
    stream = oa.chat.completions.create(model="paced-gpt", messages=CHAT, max_tokens=5, stream=True)
    out["openai_stream"] = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    out["claude"] = claude.messages.create(model="paced-claude", messages=CHAT, max_tokens=5).content[0].text  # type: ignore[union-attr]
    with claude.messages.stream(model="paced-claude", messages=CHAT, max_tokens=5) as events:
        out["claude_stream"] = events.get_final_text()
    config = types.GenerateContentConfig(max_output_tokens=5)
    out["gemini"] = gem.models.generate_content(model="paced-gemini", contents="replay me", config=config).text
    parts = gem.models.generate_content_stream(model="paced-gemini", contents="replay me", config=config)
    out["gemini_stream"] = "".join(p.text or "" for p in parts)
    for client in (oa, claude, gem):  # their sockets closed now, not by a later test's garbage collection
        client.close()
    return out


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    directory = tmp_path_factory.mktemp("cassettes")
    with (
        start_simulator(PACED) as upstream,
        start_simulator(proxy_config(upstream, record_dir=str(directory))) as proxy,
    ):
        answers = _exercise(proxy)
    return directory, answers


def test_strict_replay_answers_every_sdk_as_recorded(recorded: tuple[Path, dict[str, Any]]) -> None:
    directory, answers = recorded
    assert all(answers.values()), answers
    strict = {"proxy": {"replay_dir": str(directory), "replay_miss": "error"}}
    with start_simulator(strict) as replay:  # no upstream at all: offline
        assert _exercise(replay) == answers


def _chunk_times(url: str, body: dict[str, Any]) -> list[float]:
    started = time.monotonic()
    times = []
    with httpx.stream("POST", url, json=body, timeout=30) as response:
        assert response.status_code == 200
        for _ in response.iter_raw():
            times.append((time.monotonic() - started) * 1000)
    return times


def test_replayed_chunks_keep_the_recorded_offsets(recorded: tuple[Path, dict[str, Any]]) -> None:
    directory, _ = recorded
    entries = [json.loads(line) for path in directory.glob("*.jsonl") for line in path.read_text().splitlines()]
    entry = next(e for e in entries if e["request"]["path"] == "/v1/chat/completions" and "chunks" in e)
    recorded_ms = [c["ms"] for c in entry["chunks"]]
    assert recorded_ms[-1] - recorded_ms[0] >= 4 * 60 * 0.9  # the upstream's pacing was recorded
    with start_simulator({"proxy": {"replay_dir": str(directory), "replay_miss": "error"}}) as replay:
        times = _chunk_times(f"{replay.openai_base_url}/chat/completions", entry["request"]["json"])
    # Chunks may coalesce on the way; the last byte arrives no earlier than recorded, and not much later.
    assert recorded_ms[-1] - 5 <= times[-1] <= recorded_ms[-1] + LATE_S * 1000
    with start_simulator({"proxy": {"replay_dir": str(directory), "replay_time_scale": 0}}) as instant:
        times = _chunk_times(f"{instant.openai_base_url}/chat/completions", entry["request"]["json"])
    assert times[-1] < recorded_ms[-1] + LATE_S * 1000


def test_a_strict_miss_names_the_request(recorded: tuple[Path, dict[str, Any]]) -> None:
    directory, _ = recorded
    with start_simulator({"proxy": {"replay_dir": str(directory), "replay_miss": "error"}}) as replay:
        with _openai(replay) as client, pytest.raises(openai.NotFoundError) as caught:
            client.chat.completions.create(
                model="paced-gpt", messages=[{"role": "user", "content": "never recorded"}], max_tokens=5
            )
        assert "No cassette entry matches POST /v1/chat/completions" in caught.value.message
        assert "'never recorded'" in caught.value.message
        assert replay.requests(path="/v1/chat/completions")[-1]["status"] == 404
        claude = httpx.post(
            f"{replay.anthropic_base_url}/v1/messages",
            json={"model": "paced-claude", "max_tokens": 1, "messages": [{"role": "user", "content": "new"}]},
        )
        assert claude.status_code == 404 and claude.json()["error"]["type"] == "not_found_error"
        # A test's journal sees a cassette miss as unmatched, like a strict fixture miss.
        with Client(replay.url, retry=None, test_id="tests/replay::miss") as sdk:
            scoped = _openai(replay).with_options(**scope.openai_options("tests/replay::miss"))
            with scoped, pytest.raises(openai.NotFoundError):
                scoped.chat.completions.create(model="paced-gpt", messages=[{"role": "user", "content": "nope"}])
            journal = sdk.journal()
            assert [e["error_type"] for e in journal] == ["cassette_miss"]
            with pytest.raises(JournalAssertionError, match=r"1 request\(s\) matched no cassette entry"):
                journal.assert_no_unmatched()


def test_a_miss_falls_through_to_simulation(recorded: tuple[Path, dict[str, Any]]) -> None:
    directory, _ = recorded
    with start_simulator({"proxy": {"replay_dir": str(directory)}}) as replay, _openai(replay) as client:
        answer = client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "never recorded"}], max_tokens=3
        )
    assert answer.choices[0].message.content


def test_last_user_matching_ignores_the_rest(recorded: tuple[Path, dict[str, Any]]) -> None:
    directory, answers = recorded
    config = {"proxy": {"replay_dir": str(directory), "replay_match": "last_user", "replay_miss": "error"}}
    with start_simulator(config) as replay, _openai(replay) as client:
        messages: Any = [{"role": "system", "content": "be brief"}, *CHAT]
        answer = client.chat.completions.create(model="other", messages=messages, max_tokens=99)
    assert answer.choices[0].message.content == answers["openai"]


def test_a_bad_cassette_fails_up_front(tmp_path: Path) -> None:
    (tmp_path / "bad.jsonl").write_text('{"request": {}, "status": 200}\nnot json\n')
    config = load_config(None, {}, {"proxy.replay_dir": str(tmp_path)})
    with pytest.raises(CassetteError, match=r"bad\.jsonl:2"):
        check_cassettes(config)
    with pytest.raises(CassetteError, match="not a directory"):
        check_cassettes(load_config(None, {}, {"proxy.replay_dir": str(tmp_path / "absent")}))
