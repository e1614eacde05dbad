"""The Python examples of the Ollama, Vertex AI and OpenAI Realtime docs run as written against a live simulator."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.docs_examples import DOCS
from tests.live import LiveServer

_PYTHON = re.compile(r"<!-- example: ([\w-]+) -->\n```python\n(.*?)```", re.S)
DOC_URL = "http://127.0.0.1:8080"


def _examples(page: str) -> dict[str, str]:
    return dict(_PYTHON.findall((DOCS / "providers" / page).read_text(encoding="utf-8")))


@pytest.mark.parametrize(
    ("page", "name"),
    [("ollama.md", "ollama-client"), ("vertex.md", "vertex-clients"), ("openai.md", "realtime-client")],
)
def test_example_runs_and_prints_answers(server: LiveServer, page: str, name: str) -> None:
    code = _examples(page)[name]
    assert DOC_URL in code
    # In a process of its own: the example, like a user's script, leaves its clients to the exit.
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    run = subprocess.run(
        [sys.executable, "-c", code.replace(DOC_URL, server.url)],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert len(run.stdout.strip().splitlines()) >= 2, run.stdout
