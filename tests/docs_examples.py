"""The fixture examples of ``docs/fixtures.md``, by name (``<!-- example: NAME -->`` before a code block)."""

from __future__ import annotations

import re
from pathlib import Path

FIXTURES_DOC = Path(__file__).resolve().parent.parent / "docs" / "fixtures.md"
_EXAMPLE = re.compile(r"<!-- example: ([\w-]+) -->\n```(yaml|json)\n(.*?)```", re.S)


def fixture_examples() -> dict[str, str]:
    """Every named example's text."""
    return {name: body for name, _, body in _EXAMPLE.findall(FIXTURES_DOC.read_text(encoding="utf-8"))}


def fixture_example(name: str) -> str:
    """One named example's text."""
    return fixture_examples()[name]
