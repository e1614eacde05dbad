"""Exit codes and error reporting shared by every command: one line on stderr, no traceback."""

from __future__ import annotations

import json
import platform
import subprocess
import sys

import pytest

from llm_simulator import __version__
from llm_simulator.cli.main import build_parser, main
from llm_simulator.cli.reference import commands
from tests.live import free_port


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["nope"],
        ["serve", "--port", "eighty"],
        ["config"],
        ["models", "--format", "xml"],
        ["health", "--count", "x"],
        ["generate", "chat", "--provider", "cohere"],
        ["client", "chat"],
        ["version", "--format", "yaml"],
    ],
)
def test_usage_errors_exit_2_with_one_line(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    line = _one_line(capsys.readouterr().err)
    assert line.startswith("llm-simulator") and "error:" in line and "--help" in line


def test_every_command_has_help_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    for parser in commands(build_parser()):
        argv = parser.prog.split()[1:]
        assert main([*argv, "--help"]) == 0, parser.prog
        assert capsys.readouterr().out.startswith(f"usage: {parser.prog}")


def test_version_text_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["version"]) == 0
    assert capsys.readouterr().out == f"llm-simulator {__version__}\n"
    assert main(["version", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data == {
        "name": "llm-simulator",
        "version": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    assert main(["--version"]) == 0


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["health", "--timeout", "0"], "--timeout must be positive"),
        (["health", "--url", "ftp://x"], "expected http(s)://"),
        (["generate", "embedding", "--provider", "openai", "--model", "m", "--format", "text"], None),
        (["generate", "requests", "--count", "0"], "--count must be at least 1"),
        (["client", "chat", "hi", "--max-tokens", "0"], "--max-tokens must be at least 1"),
        (["client", "chat", "hi", "--header", "nocolon"], "expected NAME:VALUE"),
    ],
)
def test_bad_values_exit_2(argv: list[str], fragment: str | None, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(argv)
    if fragment is None:  # a control case: valid
        assert code == 0
        return
    assert code == 2
    assert fragment in _one_line(capsys.readouterr().err)


def test_the_installed_entry_point_reports_an_unreachable_server_in_one_line() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    done = subprocess.run(
        [sys.executable, "-m", "llm_simulator.cli.main", "health", "--url", url],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert _one_line(done.stderr).startswith(f"llm-simulator: cannot reach {url}/health: ")
    assert done.stdout == ""


def test_benchmark_is_wired_in_with_its_own_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["benchmark"]) == 2
    assert _one_line(capsys.readouterr().err) == (
        "llm-simulator benchmark: --url is required (e.g. --url http://127.0.0.1:8080)"
    )
