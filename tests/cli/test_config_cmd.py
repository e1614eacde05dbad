"""``config``: the formats of show and validate, and init's refusal to overwrite."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from llm_simulator.cli.main import main


def test_show_formats(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "show", "--port", "9001"]) == 0
    as_yaml = capsys.readouterr().out
    assert main(["config", "show", "--port", "9001", "--format", "text"]) == 0
    assert capsys.readouterr().out == as_yaml
    assert main(["config", "show", "--port", "9001", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == yaml.safe_load(as_yaml)


def test_validate_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.toml"
    good.write_text("[server]\nport = 8081\n")
    assert main(["config", "validate", str(good), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"file": str(good), "valid": True, "error": None}
    bad = tmp_path / "bad.yaml"
    bad.write_text("server: {prot: 1}\n")
    assert main(["config", "validate", str(bad), "--format", "json"]) == 2
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    assert result["valid"] is False and "server.prot: unknown key" in result["error"]
    assert "server.prot" in captured.err and "Traceback" not in captured.err
    assert main(["config", "validate", str(tmp_path / "missing.yaml")]) == 2
    assert "cannot read config file" in capsys.readouterr().err


def test_init_refuses_then_forces(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "sim.yaml"
    target.write_text("# mine\n")
    assert main(["config", "init", str(target)]) == 1
    assert "use --force" in capsys.readouterr().err
    assert target.read_text() == "# mine\n"
    assert main(["config", "init", str(target), "--force"]) == 0
    assert f"wrote {target}" in capsys.readouterr().out
    assert target.read_text() != "# mine\n"
