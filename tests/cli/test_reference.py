"""docs/cli.md is the CLI's own help, rendered: it must match a fresh rendering."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from llm_simulator.cli.main import build_parser
from llm_simulator.cli.reference import REGENERATE, commands, render

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def test_docs_cli_md_is_up_to_date() -> None:
    current = DOC.read_text(encoding="utf-8")
    generated_with = re.search(r"\(Python (\d+\.\d+)\)", current.splitlines()[0])
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    if generated_with and generated_with.group(1) != running:
        # argparse's layout changes between Python versions; compare only on the recorded one.
        pytest.skip(f"docs/cli.md was rendered with Python {generated_with.group(1)}, this is {running}")
    assert current == render(), f"docs/cli.md is out of date with the CLI; regenerate it: {REGENERATE}"


def test_every_command_is_documented() -> None:
    text = render()
    for parser in commands(build_parser()):
        assert f"`{parser.prog}`\n\n```text\nusage: {parser.prog}" in text
    # Rendering does not depend on the terminal: no line of help is wider than the fixed width.
    for block in re.findall(r"```text\n(.*?)```", text, flags=re.S):
        assert max(len(line) for line in block.splitlines()) <= 100
