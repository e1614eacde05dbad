"""Every named Python example in docs/infra.md runs as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "infra.md"
_EXAMPLE = re.compile(r"<!-- example: ([\w-]+) -->\n```python\n(.*?)```", re.S)
EXAMPLES = dict(_EXAMPLE.findall(DOC.read_text(encoding="utf-8")))


def test_the_document_has_examples() -> None:
    assert len(EXAMPLES) >= 9
    assert DOC.read_text(encoding="utf-8").count("```python") == len(EXAMPLES) + 1  # + the import line


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example_runs(name: str) -> None:
    code = compile(EXAMPLES[name], f"docs/infra.md:{name}", "exec")
    exec(code, {"__name__": f"doc_example_{name.replace('-', '_')}"})
