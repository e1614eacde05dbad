"""serve's configuration flags: every CLI-1 flag exists, has an env var, and lands on its key."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from llm_simulator.cli.flags import CONFIG_FLAGS, FLAG_KEYS, flags_from
from llm_simulator.cli.main import build_parser, main
from llm_simulator.cli.reference import commands
from llm_simulator.config.loader import ENV_KEYS, ENV_PREFIX

# SPEC CLI-1's serve flags.
SPEC_FLAGS = [
    *("--host", "--port", "--config", "--seed", "--chaos", "--chaos-probability", "--no-latency"),
    *("--latency-multiplier", "--require-auth", "--api-key", "--workers", "--max-concurrent", "--timeout"),
    *("--otlp-endpoint", "--log-level", "--json-logs"),
]


def _serve_options() -> dict[str, str]:
    """Each serve option string → its help text (as rendered)."""
    serve = {p.prog: p for p in commands(build_parser())}["llm-simulator serve"]
    return {opt: action.help or "" for action in serve._actions for opt in action.option_strings}


def test_every_spec_flag_exists_and_names_its_env_var() -> None:
    options = _serve_options()
    for flag in SPEC_FLAGS:
        assert flag in options, flag
        assert ENV_PREFIX in options[flag], f"{flag}'s help does not name its environment variable"


def test_every_config_flag_has_an_env_var_for_the_same_key() -> None:
    for flag in CONFIG_FLAGS:
        assert flag.env in ENV_KEYS, flag.names
        assert ENV_KEYS[flag.env] == flag.key, flag.names
        assert flag.env_var in _serve_options()[flag.names[0]]


def test_unset_flags_are_absent_so_they_never_override_the_file() -> None:
    args = build_parser().parse_args(["serve"])
    assert flags_from(args) == {}
    args = build_parser().parse_args(["serve", "--max-concurrent", "5", "--timeout", "2.5"])
    assert flags_from(args) == {"security.max_concurrent_requests": 5, "security.request_timeout_s": 2.5}
    assert FLAG_KEYS["max_concurrent"] == "security.max_concurrent_requests"


def _show(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, object]:
    assert main(["config", "show", "--format", "json", *argv]) == 0
    security = json.loads(capsys.readouterr().out)["security"]
    assert isinstance(security, dict)
    return security


def test_new_serve_settings_precedence_flag_env_file_default(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(os.environ):
        if name.startswith(ENV_PREFIX):
            monkeypatch.delenv(name)
    defaults = _show(capsys)
    assert (defaults["max_concurrent_requests"], defaults["request_timeout_s"]) == (10_000, 600.0)
    file = tmp_path / "sim.yaml"
    file.write_text("security: {max_concurrent_requests: 7, request_timeout_s: 9}\n")
    from_file = _show(capsys, "--config", str(file))
    assert (from_file["max_concurrent_requests"], from_file["request_timeout_s"]) == (7, 9.0)
    monkeypatch.setenv("LLM_SIMULATOR_MAX_CONCURRENT", "64")
    monkeypatch.setenv("LLM_SIMULATOR_TIMEOUT", "30")
    from_env = _show(capsys, "--config", str(file))
    assert (from_env["max_concurrent_requests"], from_env["request_timeout_s"]) == (64, 30.0)
    from_flags = _show(capsys, "--config", str(file), "--max-concurrent", "3", "--timeout", "1.5")
    assert (from_flags["max_concurrent_requests"], from_flags["request_timeout_s"]) == (3, 1.5)


def test_a_bad_value_names_the_key(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_SIMULATOR_TIMEOUT", "-1")
    assert main(["config", "show"]) == 2
    err = capsys.readouterr().err
    assert "security.request_timeout_s" in err and "Traceback" not in err


def test_config_env_lists_every_variable_with_its_flag(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "env", "--format", "json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["LLM_SIMULATOR_MAX_CONCURRENT"] == {
        "name": "LLM_SIMULATOR_MAX_CONCURRENT",
        "key": "security.max_concurrent_requests",
        "flag": "--max-concurrent",
    }
    assert rows["LLM_SIMULATOR_TIMEOUT"]["flag"] == "--timeout"
    assert rows["LLM_SIMULATOR_CONFIG"]["flag"] == "--config"
    assert {ENV_PREFIX + short for short in ENV_KEYS} <= set(rows)
    assert main(["config", "env"]) == 0
    assert "LLM_SIMULATOR_TIMEOUT" in capsys.readouterr().out


def test_per_worker_limits_say_so_in_their_help() -> None:
    # Each worker process enforces these on its own: with --workers N the server admits N times
    # as much, which the help must not hide.
    options = _serve_options()
    for flag in ("--max-concurrent", "--rate-limits"):
        assert "each worker" in options[flag] and "--workers" in options[flag], options[flag]
