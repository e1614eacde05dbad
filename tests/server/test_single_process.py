"""``server.single_process``: granian's embedded server in the CLI's own process, no supervisor."""

from __future__ import annotations

import signal
from pathlib import Path

import anthropic
import openai
import pytest

from llm_simulator.cli.flags import resolve_config
from llm_simulator.cli.main import build_parser
from llm_simulator.config.loader import ConfigError, load_config
from tests.live import live_server


def _children(pid: int) -> list[int]:
    """The direct children of ``pid`` (its threads' children included), from /proc."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found.extend(int(child) for child in text)
    return found


def test_one_process_serves_the_sdks_and_stops_on_sigint() -> None:
    with live_server("--single-process") as live:
        assert _children(live.process.pid) == []  # no supervisor, no forked worker
        oai = openai.OpenAI(base_url=live.openai_base, api_key="k", max_retries=0)
        answer = oai.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], max_tokens=5
        )
        assert answer.choices[0].message.content
        claude = anthropic.Anthropic(base_url=live.url, api_key="k", max_retries=0)
        message = claude.messages.create(
            model="claude-3-5-haiku-latest", max_tokens=5, messages=[{"role": "user", "content": "hi"}]
        )
        assert message.content[0].type == "text"
        live.process.send_signal(signal.SIGINT)
        assert live.process.wait(timeout=30) == 0


def test_the_flag_and_the_variable_set_the_key() -> None:
    args = build_parser().parse_args(["serve", "--single-process"])
    assert resolve_config(args, environ={}).server.single_process is True
    assert load_config(environ={"LLM_SIMULATOR_SINGLE_PROCESS": "true"}).server.single_process is True
    assert load_config(environ={}).server.single_process is False


@pytest.mark.parametrize(
    "overrides",
    [
        {"server.single_process": True, "server.workers": 2},
        {"server.single_process": True, "server.implementation": "uvicorn"},
    ],
)
def test_it_needs_one_granian_worker(overrides: dict[str, object]) -> None:
    with pytest.raises(ConfigError, match=r"server\.single_process: one process serves, so it needs workers 1"):
        load_config(None, {}, overrides)
