"""The CLI commands other than serve (serve is exercised by every live-server test)."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
import yaml

from llm_simulator import __version__
from llm_simulator.cli.main import main


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["version"]) == 0
    assert __version__ in capsys.readouterr().out


def test_config_show_redacts_and_applies_flags(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLM_SIMULATOR_API_KEY", "sk-very-secret")
    assert main(["config", "show", "--port", "9999", "--no-latency"]) == 0
    out = capsys.readouterr().out
    data = yaml.safe_load(out)
    assert data["server"]["port"] == 9999
    assert data["latency"]["enabled"] is False
    assert "sk-very-secret" not in out


def test_config_validate_good_and_bad(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("server: {port: 8081}\n")
    assert main(["config", "validate", str(good)]) == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text("latency: {default_profile: nope}\n")
    assert main(["config", "validate", str(bad)]) == 2
    assert "latency.default_profile" in capsys.readouterr().err
    alias = tmp_path / "alias.yaml"
    alias.write_text("models: {aliases: {x: no-such-model}}\n")
    assert main(["config", "validate", str(alias)]) == 2
    assert "models.aliases.x" in capsys.readouterr().err


def test_config_init_writes_valid_example(tmp_path: Path) -> None:
    target = tmp_path / "sim.yaml"
    assert main(["config", "init", str(target)]) == 0
    assert main(["config", "validate", str(target)]) == 0
    assert main(["config", "init", str(target)]) == 1  # refuses to overwrite


def test_config_env_lists_variables(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "env"]) == 0
    assert "LLM_SIMULATOR_PORT" in capsys.readouterr().out


def test_models_json_and_filter(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "--json", "--provider", "openai"]) == 0
    rows = json.loads(capsys.readouterr().out)
    ids = {r["id"] for r in rows}
    assert {"gpt-4o", "text-embedding-3-large"} <= ids
    assert all(r["provider"] == "openai" for r in rows)


def test_serve_rejects_bad_config_before_starting(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--latency-profile", "nope"]) == 2
    assert "unknown profile" in capsys.readouterr().err


def test_fixtures_flag_and_validation_of_fixture_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "show", "--fixtures", "a.yaml", "--fixtures", "b.json"]) == 0
    assert yaml.safe_load(capsys.readouterr().out)["fixtures"]["files"] == ["a.yaml", "b.json"]
    (tmp_path / "bad.yaml").write_text("scenarios: [{name: s, steps: [{respond: {txt: x}}]}]\n")
    config = tmp_path / "sim.yaml"
    config.write_text("fixtures: {files: [bad.yaml]}\n")
    assert main(["config", "validate", str(config)]) == 2
    assert "scenarios[0] ('s') steps[0]: respond.txt: unknown key" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--chaos"], {"enabled": True, "probability": None, "preset": None}),
        (["--chaos-probability", "0.2"], {"enabled": True, "probability": 0.2, "preset": None}),
        (["--chaos-preset", "full_outage"], {"enabled": True, "probability": None, "preset": "full_outage"}),
        ([], {"enabled": False, "probability": None, "preset": None}),
    ],
)
def test_chaos_flags(flags: list[str], expected: dict[str, object], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "show", "--format", "json", *flags, "--rate-limits"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {key: data["chaos"][key] for key in expected} == expected
    assert data["rate_limits"]["enabled"] is True


def test_a_bad_chaos_preset_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "show", "--chaos-preset", "apocalypse"]) != 0
    assert "chaos.preset" in capsys.readouterr().err


def test_serve_on_a_taken_port_fails_with_one_clear_line(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        assert main(["serve", "--host", "127.0.0.1", "--port", str(port)]) == 1
    err = capsys.readouterr().err
    assert f"cannot listen on 127.0.0.1:{port}" in err
    assert "another server is listening there" in err
    assert "panicked" not in err


def test_serve_on_an_unknown_host_fails_with_one_clear_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--host", "no-such-host.invalid", "--port", "8080"]) == 1
    assert "cannot listen on no-such-host.invalid:8080: unknown host" in capsys.readouterr().err


def test_a_bad_config_is_reported_before_a_taken_port(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        assert main(["serve", "--port", str(port), "--latency-profile", "nope"]) == 2
    assert "unknown profile" in capsys.readouterr().err
