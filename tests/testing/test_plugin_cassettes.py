"""The plugin's record/replay mode: record each test's traffic from an upstream once, replay it offline after."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from llm_simulator.testing import SimulatorHandle, start_simulator

pytest_plugins = ["pytester"]

INI = """\
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
filterwarnings = error
"""
TESTS = """
import pytest

ASK = [{"role": "user", "content": "what is recorded?"}]

def test_chat(llm_simulator, openai_client):
    reply = openai_client.chat.completions.create(model="gpt-4o-mini", messages=ASK, max_tokens=8)
    assert reply.choices[0].message.content
    print("ANSWER=" + reply.choices[0].message.content)

@pytest.mark.llm_simulator(cassette="shared-claude")
def test_named(anthropic_client):
    message = anthropic_client.messages.create(model="claude-haiku-4-5", max_tokens=8, messages=ASK)
    assert message.content[0].text
"""


@pytest.fixture(scope="module")
def upstream() -> Iterator[SimulatorHandle]:
    with start_simulator({"generation.strategy": "fixed", "generation.fixed_text": "from the upstream"}) as sim:
        yield sim


@pytest.fixture
def inner(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini(INI)
    pytester.makepyfile(test_recorded=TESTS)
    return pytester


def test_record_when_missing_then_replay_offline(inner: pytest.Pytester, upstream: SimulatorHandle) -> None:
    cassettes = inner.path / "cassettes"
    first = inner.runpytest("-s", "--llm-simulator-cassettes", str(cassettes), "--llm-simulator-upstream", upstream.url)
    first.assert_outcomes(passed=2)
    first.stdout.fnmatch_lines(["*ANSWER=from the upstream*"])
    recorded = sorted(p.relative_to(cassettes).parent.as_posix() for p in cassettes.rglob("*.jsonl"))
    assert recorded == ["shared-claude", "test_recorded/test_chat"]
    upstream_seen = len(upstream.requests())
    # No upstream now, and replay only: the answers come from the cassettes.
    second = inner.runpytest("-s", "--llm-simulator-cassettes", str(cassettes), "--llm-simulator-record", "none")
    second.assert_outcomes(passed=2)
    second.stdout.fnmatch_lines(["*ANSWER=from the upstream*"])
    assert len(upstream.requests()) == upstream_seen


def test_a_missing_cassette_fails_clearly(inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LLM_SIMULATOR_PROXY", raising=False)
    result = inner.runpytest("--llm-simulator-cassettes", "cassettes", "--llm-simulator-record", "none")
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(["*no cassette at*--llm-simulator-record none*"])
    result = inner.runpytest("--llm-simulator-cassettes", "cassettes")
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(["*no upstream to record it from*"])


def test_a_request_the_cassette_lacks_is_the_providers_404(inner: pytest.Pytester, upstream: SimulatorHandle) -> None:
    cassettes = inner.path / "cassettes"
    inner.runpytest("--llm-simulator-cassettes", str(cassettes), "--llm-simulator-upstream", upstream.url)
    entry = next(cassettes.rglob("test_chat/*.jsonl"))
    line = json.loads(entry.read_text())
    line["request"]["json"]["messages"][0]["content"] = "something else"
    entry.write_text(json.dumps(line) + "\n")
    result = inner.runpytest("--llm-simulator-cassettes", str(cassettes), "--llm-simulator-record", "none")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*NotFoundError*No cassette entry matches POST /v1/chat/completions*"])


def test_record_all_records_again(inner: pytest.Pytester, upstream: SimulatorHandle) -> None:
    cassettes = inner.path / "cassettes"
    args = ["--llm-simulator-cassettes", str(cassettes), "--llm-simulator-upstream", upstream.url]
    inner.runpytest(*args).assert_outcomes(passed=2)
    before = len(upstream.requests())
    inner.runpytest(*args, "--llm-simulator-record", "all").assert_outcomes(passed=2)
    assert len(upstream.requests()) == before + 2
    assert all(len(p.read_text().splitlines()) == 1 for p in Path(cassettes).rglob("*.jsonl"))
