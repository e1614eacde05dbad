"""``models``: the local catalogue and a running server's ``GET /v1/models``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llm_simulator.cli.main import main
from tests.live import LiveServer, free_port


def test_local_text_json_and_the_deprecated_flag(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "--provider", "anthropic"]) == 0
    out = capsys.readouterr().out
    assert "claude-3-5-haiku-20241022" in out and "gpt-4o" not in out
    assert "claude-3-5-haiku-latest" in out  # aliases of the provider's models are listed
    assert main(["models", "--format", "json", "--provider", "gemini"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows and all(r["provider"] == "google" for r in rows)
    assert main(["models", "--json", "--provider", "google"]) == 0
    assert json.loads(capsys.readouterr().out) == rows


def test_local_catalogue_follows_the_config_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "sim.yaml"
    config.write_text("models: {add: [{id: my-model, provider: openai}]}\n")
    assert main(["models", "--config", str(config), "--format", "json"]) == 0
    assert "my-model" in {r["id"] for r in json.loads(capsys.readouterr().out)}
    config.write_text("models: {nonsense: 1}\n")
    assert main(["models", "--config", str(config)]) == 2
    assert "models.nonsense" in capsys.readouterr().err


def test_remote(cli_server: LiveServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "--url", cli_server.url, "--format", "json"]) == 0
    models = json.loads(capsys.readouterr().out)
    assert {"gpt-4o", "claude-sonnet-4-5", "gemini-2.0-flash"} <= {m["id"] for m in models}
    assert all(m["object"] == "model" for m in models)
    assert main(["models", "--url", cli_server.url + "/v1", "--provider", "anthropic"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["id", "owned_by"]
    assert lines[1:] and all(line.split()[1] == "anthropic" for line in lines[1:])


def test_remote_unreachable_and_error(cli_server: LiveServer, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    assert main(["models", "--url", url]) == 2
    assert capsys.readouterr().err.startswith(f"llm-simulator: cannot reach {url}/v1/models")
    # Not an OpenAI model list: the operation ran and failed.
    assert main(["models", "--url", cli_server.url + "/health/x"]) == 1
    assert capsys.readouterr().err.startswith("error: 404 ")
