"""The handle and runners used directly (this suite runs with the plugin too)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import anthropic
import httpx
import openai
import pytest

import llm_simulator.testing as testing
from llm_simulator.sdk import AuthenticationError, BadRequestError, Client, OverloadedError, RateLimitError
from llm_simulator.testing import DEFAULT_CONFIG, SimulatorHandle, merge_config, start_simulator

KEYED_RULE = {"name": "vip-slow", "api_keys": ["sk-vip-*"], "latency_multiplier": 2.0}


def test_merge_config_nested_dotted_and_lists_replaced() -> None:
    merged = merge_config(
        DEFAULT_CONFIG,
        {"latency.multiplier": 0.5, "chaos": {"rules": [{"error_type": "timeout"}]}},
        {"latency": {"enabled": True}, "chaos.rules": [{"error_type": "rate_limit"}]},
        None,
    )
    assert merged["latency"] == {"enabled": True, "multiplier": 0.5}
    assert merged["chaos"] == {"rules": [{"error_type": "rate_limit"}]}
    assert merged["telemetry"] == {"request_log": {"enabled": True}}
    assert DEFAULT_CONFIG["latency"] == {"enabled": False}  # the defaults are not mutated
    assert merge_config({"a.b.c": 1, "a": {"b": {"d": 2}}}) == {"a": {"b": {"c": 1, "d": 2}}}


def test_the_default_fixture(llm_simulator: SimulatorHandle) -> None:
    assert llm_simulator.in_process
    assert llm_simulator.url.startswith("http://127.0.0.1:")
    assert llm_simulator.openai_base_url == llm_simulator.url + "/v1"
    assert llm_simulator.anthropic_base_url == llm_simulator.gemini_base_url == llm_simulator.url
    assert llm_simulator.config.latency.enabled is False
    assert llm_simulator.config.seed == DEFAULT_CONFIG["seed"]
    assert repr(llm_simulator) == f"<SimulatorHandle {llm_simulator.url} (in-process)>"
    assert llm_simulator.server.app is not None
    assert llm_simulator.admin.ready() is True


@pytest.mark.llm_simulator(config={"chaos": {"enabled": False, "rules": [KEYED_RULE]}})
def test_chaos_block_adds_rules_and_restores_exactly(llm_simulator: SimulatorHandle) -> None:
    before = llm_simulator.admin.chaos()
    with llm_simulator.chaos(error_type="rate_limit", providers=["openai"], retry_after_s=0.5) as state:
        assert state["enabled"] is True
        assert [r.get("name", "") for r in state["rules"]] == ["", "vip-slow"]  # the block's first
        with pytest.raises(RateLimitError) as caught:
            llm_simulator.client.chat("hi")
        assert caught.value.retry_after_s == 0.5
        assert llm_simulator.client.chat("hi", provider="anthropic").text  # not matched by the rule
    after = llm_simulator.admin.chaos()
    assert (after["enabled"], after["probability"], after["preset"]) == (False, None, None)
    assert after["rules"] == before["rules"]
    # Exact: the key filter is intact (the admin view masks it; the live rule is compared).
    assert llm_simulator.server.app is not None
    assert llm_simulator.server.app.sim.chaos.rules[0].api_keys == ("sk-vip-*",)
    assert llm_simulator.client.chat("hi").text


def test_chaos_block_forms(llm_simulator: SimulatorHandle) -> None:
    with llm_simulator.chaos("full_outage", probability=1.0) as state:
        assert (state["preset"], state["probability"]) == ("full_outage", 1.0)
        with pytest.raises(OverloadedError):
            llm_simulator.client.chat("hi", provider="gemini")
    bad_key = [{"error_type": "authentication", "providers": ["anthropic"]}]
    with llm_simulator.chaos(bad_key), pytest.raises(AuthenticationError):
        llm_simulator.client.chat("hi", provider="anthropic")
    state = llm_simulator.admin.chaos()
    assert (state["enabled"], state["probability"], state["preset"], state["rules"]) == (False, None, None, [])
    with pytest.raises(TypeError, match="needs a rule"), llm_simulator.chaos():
        pass
    with pytest.raises(TypeError, match="not both"), llm_simulator.chaos({"error_type": "timeout"}, delay_ms=5):
        pass
    # An invalid rule is refused by the server, naming the key, and nothing changes.
    with pytest.raises(BadRequestError, match="error_typo"), llm_simulator.chaos(error_typo="x"):
        pass
    assert llm_simulator.admin.chaos()["enabled"] is False


def test_fixtures_block_and_config_files_come_back(tmp_path: Path, llm_simulator_factory: object) -> None:
    config_rules = tmp_path / "base.yaml"
    config_rules.write_text("rules:\n  - match: {message: ping}\n    respond: {text: pong}\n")
    sim = llm_simulator_factory({"fixtures.files": [str(config_rules)]})  # type: ignore[operator]
    assert sim.client.chat("ping").text == "pong"
    block = {"rules": [{"match": {"message": "ping"}, "respond": {"text": "PONG!"}}]}
    with sim.fixtures(block) as loaded:
        assert loaded["total"] == {"rules": 1, "scenarios": 0}  # replaced
        assert sim.client.chat("ping").text == "PONG!"
    assert sim.client.chat("ping").text == "pong"
    with sim.fixtures("rules:\n  - match: {message: other}\n    respond: {text: added}\n", replace=False):
        assert (sim.client.chat("ping").text, sim.client.chat("other").text) == ("pong", "added")
    assert len(sim.admin.fixtures()["rules"]) == 1


def test_requests_are_inspectable(llm_simulator: SimulatorHandle, openai_client: openai.OpenAI) -> None:
    openai_client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "one"}])
    openai_client.embeddings.create(model="text-embedding-3-small", input=["two"])
    everything = llm_simulator.requests()
    assert [r["path"] for r in everything] == ["/v1/chat/completions", "/v1/embeddings"]
    assert llm_simulator.requests(model="gpt-4o")[0]["body"]["messages"][0]["content"] == "one"
    assert llm_simulator.requests(path="/v1/embeddings")[0]["body"]["input"] == ["two"]
    assert llm_simulator.requests(since=everything[0]["seq"]) == everything[1:]
    llm_simulator.clear_requests()
    assert llm_simulator.requests() == []


@pytest.mark.llm_simulator(
    config={
        "chaos": {"enabled": True, "rules": [{"name": "base", "models": ["gpt-4o"], "error_type": "timeout"}]},
        "rate_limits": {"enabled": True},
    }
)
def test_reset_returns_to_the_config(llm_simulator: SimulatorHandle) -> None:
    admin = llm_simulator.admin
    admin.set_chaos(enabled=False, probability=0.5, rules=[], preset="rate_limit_stress")
    admin.load_fixtures({"rules": [{"respond": {"text": "scripted"}}]})
    assert llm_simulator.client.chat("x").text == "scripted"
    llm_simulator.reset()
    state = admin.chaos()
    assert (state["enabled"], state["probability"], state["preset"]) == (True, None, None)
    assert [r["name"] for r in state["rules"]] == ["base"]
    assert admin.fixtures()["rules"] == []
    assert llm_simulator.requests() == []
    assert admin.stats()["models"] == []
    assert llm_simulator.client.chat("x").text != "scripted"


@pytest.mark.llm_simulator(
    config={"auth": {"require_auth": True, "api_keys": ["sk-user-1"], "admin_keys": ["sk-admin-1"]}}
)
def test_keys_come_from_the_auth_config(llm_simulator: SimulatorHandle, anthropic_client: anthropic.Anthropic) -> None:
    assert (llm_simulator.api_key, llm_simulator.admin_key) == ("sk-user-1", "sk-admin-1")
    message = anthropic_client.messages.create(
        model="claude-haiku-4-5", max_tokens=4, messages=[{"role": "user", "content": "hi"}]
    )
    assert message.usage.output_tokens == 4
    assert llm_simulator.client.chat("hi", provider="gemini").text
    assert llm_simulator.admin.auth_status()["require_auth"] is True
    with Client(llm_simulator.url, api_key="wrong", retry=None) as stranger, pytest.raises(AuthenticationError):
        stranger.chat("hi")


def test_simulators_are_isolated(llm_simulator_factory: object) -> None:
    one = llm_simulator_factory()  # type: ignore[operator]
    two = llm_simulator_factory()  # type: ignore[operator]
    assert one.url != two.url
    with one.chaos(error_type="server_error"):
        assert two.client.chat("unaffected").text
        assert two.admin.chaos()["enabled"] is False
    assert [r["status"] for r in two.requests()] == [200]
    assert one.requests() == []


def test_invalid_config_names_the_key() -> None:
    with pytest.raises(ValueError, match=r"latency\.multiplier"):
        start_simulator({"latency.multiplier": -1})
    with pytest.raises(ValueError, match="seeds: unknown key"):
        start_simulator({"seeds": 1}, subprocess=True)


def test_close_stops_the_server_and_frees_the_thread() -> None:
    with start_simulator() as sim:
        url = sim.url
        assert sim.client.chat("hi").text
        assert sim.server.running
    stopped = not sim.server.running
    assert stopped
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/health", timeout=2)
    sim.close()  # idempotent


def test_stopping_with_a_stream_open_is_bounded() -> None:
    sim = start_simulator({"latency.enabled": True})
    reader = Client(sim.url, retry=None)
    stream = reader.stream("Write a long story.", max_tokens=4000)
    next(stream)
    started = time.monotonic()
    sim.close()
    assert time.monotonic() - started < 8  # uvicorn's grace, then the drain deadline
    with pytest.raises(Exception):  # noqa: B017, PT011 - a 5xx frame or a cut, depending on timing
        stream.until_done()
    reader.close()


def test_subprocess_mode_end_to_end() -> None:
    config = {"chaos": {"rules": [KEYED_RULE]}, "generation.strategy": "echo"}
    with start_simulator(config, subprocess=True) as sim:
        assert not sim.in_process and sim.server.app is None
        assert repr(sim).endswith("(subprocess)>")
        assert sim.client.chat("over the wire", provider="anthropic").text == "over the wire"
        with sim.chaos(error_type="rate_limit"), pytest.raises(RateLimitError):
            sim.client.chat("x")
        state = sim.admin.chaos()
        assert state["enabled"] is False and [r["name"] for r in state["rules"]] == ["vip-slow"]
        assert [r["status"] for r in sim.requests()] == [200, 429]
        sim.reset()
        assert sim.requests() == []
    assert not sim.server.running


ORPHAN = """\
import sys, time
from llm_simulator.testing import start_simulator
sim = start_simulator(subprocess=True)
args = sim.server.process.args
print(sim.url, args[args.index("--config") + 1], flush=True)
time.sleep(60)
"""


def test_a_killed_test_process_leaves_no_server_behind() -> None:
    helper = subprocess.Popen([sys.executable, "-c", ORPHAN], stdout=subprocess.PIPE, text=True)
    assert helper.stdout is not None
    url, config = helper.stdout.readline().split()
    try:
        assert httpx.get(url + "/health", timeout=5).status_code == 200
        helper.kill()  # no teardown runs: the server's watchdog must notice
        helper.wait()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                httpx.get(url + "/health", timeout=0.5)
            except httpx.TransportError:
                break
            time.sleep(0.1)
        else:
            pytest.fail("the orphaned simulator is still serving")
    finally:
        helper.stdout.close()
        if helper.poll() is None:
            helper.kill()
            helper.wait()
        shutil.rmtree(Path(config).parent, ignore_errors=True)


def test_public_api_is_pinned_and_documented() -> None:
    assert set(testing.__all__) == {
        "DEFAULT_CONFIG",
        "InProcessServer",
        "LiveJournal",
        "ScopedSimulator",
        "SimulatorHandle",
        "SubprocessServer",
        "merge_config",
        "start_simulator",
        "test_id_for",
    }
    for name in testing.__all__:
        if name != "DEFAULT_CONFIG":
            assert getattr(testing, name).__doc__, name
    classes = (testing.SimulatorHandle, testing.InProcessServer, testing.SubprocessServer, testing.ScopedSimulator)
    for cls in (*classes, testing.LiveJournal):
        for attr, member in vars(cls).items():
            if not attr.startswith("_") and (callable(member) or isinstance(member, property)):
                assert member.__doc__, f"{cls.__name__}.{attr}"
