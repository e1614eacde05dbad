"""The named examples of the documents (``<!-- example: NAME -->`` right before a code block).

``fixture_examples`` / ``fixture_example`` read ``docs/fixtures.md``; ``doc_examples`` /
``doc_example`` read any document, e.g. ``CHAOS_DOC``.
"""

from __future__ import annotations

import re
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent / "docs"
FIXTURES_DOC = DOCS / "fixtures.md"
CHAOS_DOC = DOCS / "chaos.md"
_EXAMPLE = re.compile(r"<!-- example: ([\w-]+) -->\n```(yaml|json)\n(.*?)```", re.S)


def doc_examples(doc: Path) -> dict[str, str]:
    """Every named example's text in ``doc``."""
    return {name: body for name, _, body in _EXAMPLE.findall(doc.read_text(encoding="utf-8"))}


def doc_example(doc: Path, name: str) -> str:
    """One named example's text in ``doc``."""
    return doc_examples(doc)[name]


def fixture_examples() -> dict[str, str]:
    """Every named example's text in ``docs/fixtures.md``."""
    return doc_examples(FIXTURES_DOC)


def fixture_example(name: str) -> str:
    """One named example's text in ``docs/fixtures.md``."""
    return fixture_examples()[name]
