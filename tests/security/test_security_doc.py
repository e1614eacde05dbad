"""docs/security.md tells the truth about what is served without a key."""

from __future__ import annotations

import re
from pathlib import Path

from llm_simulator.config.security import AuthConfig
from llm_simulator.server.dashboard import _FILES

DOC = Path(__file__).resolve().parents[2] / "docs" / "security.md"


def _anonymous_paragraph() -> str:
    text = DOC.read_text(encoding="utf-8")
    match = re.search(r"- \*\*Anonymous paths:\*\*(.*?)\n(?:- |\n)", text, flags=re.S)
    assert match, "docs/security.md lost its 'Anonymous paths' item"
    return match.group(1)


def test_every_default_anonymous_path_is_listed() -> None:
    listed = set(re.findall(r"`(/[^`]*)`", _anonymous_paragraph()))
    for path in AuthConfig().anonymous_paths:
        assert path in listed, f"{path} is anonymous by default but docs/security.md does not say so"


def test_the_dashboards_static_files_are_listed() -> None:
    listed = set(re.findall(r"`(/[^`]*)`", _anonymous_paragraph()))
    for path in _FILES:
        assert path in listed, f"{path} is served without a key but docs/security.md does not say so"
