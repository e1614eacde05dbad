"""``llm-simulator cassette``: list, inspect, prune, to-fixtures (served back through the SDKs), to-profile."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest
from google import genai
from google.genai import types

from llm_simulator.cli.main import main
from llm_simulator.config.loader import load_config
from llm_simulator.testing import start_simulator
from tests.proxy.conftest import paced_config, proxy_config

PACED = paced_config(150, 25, ("openai", "anthropic", "google"))
TOOL: Any = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}}}


def _say(n: int) -> Any:
    return [{"role": "user", "content": f"question {n}"}]


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    directory = tmp_path_factory.mktemp("cassettes")
    said: dict[str, Any] = {}
    with (
        start_simulator(PACED) as upstream,
        start_simulator(proxy_config(upstream, record_dir=str(directory))) as proxy,
        openai.OpenAI(base_url=proxy.openai_base_url, api_key="k", max_retries=0) as oa,
        anthropic.Anthropic(base_url=proxy.anthropic_base_url, api_key="k", max_retries=0) as claude,
    ):
        for n in range(4):
            stream = oa.chat.completions.create(model="paced-gpt", messages=_say(n), max_tokens=8, stream=True)
            said[f"openai-{n}"] = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
        call = oa.chat.completions.create(model="paced-gpt", messages=_say(9), tools=[TOOL], tool_choice="required")
        assert call.choices[0].message.tool_calls
        said["tool"] = call.choices[0].message.tool_calls[0].function.name  # type: ignore[union-attr]
        with claude.messages.stream(model="paced-claude", messages=_say(5), max_tokens=8) as events:
            said["claude"] = events.get_final_text()
        gem = genai.Client(api_key="k", http_options=types.HttpOptions(base_url=proxy.url, api_version="v1beta"))
        parts = gem.models.generate_content_stream(model="paced-gemini", contents="question 6")
        said["gemini"] = "".join(p.text or "" for p in parts)
        gem.close()
        with pytest.raises(openai.NotFoundError):
            oa.models.retrieve("no-such-model")
    return directory, said


def test_list_and_inspect_show_every_entry(
    recorded: tuple[Path, dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    directory, _ = recorded
    assert main(["cassette", "list", str(directory), "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert sum(r["entries"] for r in rows) == 8 and sum(r["errors"] for r in rows) == 1
    assert rows[0]["providers"] == {"openai": 6, "anthropic": 1, "gemini": 1}
    assert main(["cassette", "inspect", str(directory)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 8 and "'question 5'" in lines[5] and "stream" in lines[5]
    assert "paced-gemini:streamGenerateContent  paced-gemini  200 stream" in lines[6]
    where = lines[0].split()[0]
    assert main(["cassette", "inspect", str(directory), "--entry", where]) == 0
    assert json.loads(capsys.readouterr().out)["request"]["json"]["messages"] == _say(0)


def test_to_fixtures_serves_the_recorded_answers(recorded: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    directory, said = recorded
    out = tmp_path / "recorded.yaml"
    assert main(["cassette", "to-fixtures", str(directory), "-o", str(out)]) == 0
    with (
        start_simulator({**PACED, "latency.enabled": False, "fixtures.files": [str(out)]}) as sim,
        openai.OpenAI(base_url=sim.openai_base_url, api_key="k", max_retries=0) as oa,
        anthropic.Anthropic(base_url=sim.anthropic_base_url, api_key="k", max_retries=0) as claude,
    ):
        for n in range(4):
            answer = oa.chat.completions.create(model="paced-gpt", messages=_say(n), max_tokens=50)
            assert answer.choices[0].message.content == said[f"openai-{n}"]
        call = oa.chat.completions.create(model="paced-gpt", messages=_say(9), tools=[TOOL])
        assert call.choices[0].message.tool_calls[0].function.name == said["tool"]  # type: ignore[index,union-attr]
        reply = claude.messages.create(model="paced-claude", messages=_say(5), max_tokens=50)
        assert reply.content[0].text == said["claude"]  # type: ignore[union-attr]
        gem = genai.Client(api_key="k", http_options=types.HttpOptions(base_url=sim.url, api_version="v1beta"))
        assert gem.models.generate_content(model="paced-gemini", contents="question 6").text == said["gemini"]
        gem.close()


def test_to_profile_fits_the_recorded_pacing(recorded: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    directory, _ = recorded
    out = tmp_path / "profile.yaml"
    assert (
        main(["cassette", "to-profile", str(directory), "--name", "rec", "--model", "paced-gpt", "-o", str(out)]) == 0
    )
    profile = load_config(out, {}, {}).latency.profiles["rec"]
    ttft = profile.ttft.model_dump()
    itl = profile.itl.model_dump()
    # The upstream's TTFT was 150 ms and its ITL 25 ms; proxying and a loaded box add a little.
    assert 140 <= ttft["p50_ms"] <= 600, ttft
    assert 15 <= itl["p50_ms"] <= 80, itl


def test_prune_drops_errors_and_duplicates(
    recorded: tuple[Path, dict[str, Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory, _ = recorded
    copy = tmp_path / "copy"
    shutil.copytree(directory, copy)
    file = next(copy.glob("*.jsonl"))
    file.write_text(file.read_text() + file.read_text().splitlines()[0] + "\n")  # one duplicate
    assert main(["cassette", "prune", str(copy), "--errors", "--duplicates", "--dry-run"]) == 0
    assert "would drop 2 entries, kept 7" in capsys.readouterr().out
    assert len(file.read_text().splitlines()) == 9
    assert main(["cassette", "prune", str(copy), "--errors", "--duplicates"]) == 0
    assert len(file.read_text().splitlines()) == 7
    assert main(["cassette", "prune", str(copy), "--older-than", "0"]) == 0
    assert file.read_text() == ""


def test_bad_input_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bad.jsonl").write_text("not json\n")
    assert main(["cassette", "list", str(tmp_path)]) == 2
    assert "bad.jsonl:1 is not a cassette entry" in capsys.readouterr().err
    assert main(["cassette", "inspect", str(tmp_path / "absent")]) == 2
    assert "no such cassette file or directory" in capsys.readouterr().err
    assert main(["cassette", "prune", str(tmp_path)]) == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["cassette", "to-profile", str(empty)]) == 2
    assert "no successful recorded stream" in capsys.readouterr().err
