"""SharedFixtures: admin fixture operations replayed on another replica (docs/scaling.md).

Two replicas in one process, the document handed over by hand; the real-Redis fleet test is
``tests/state/test_fleet.py``.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from llm_simulator.engine.script import FixtureError, Script, parse_fixtures
from llm_simulator.engine.script.shared import SharedFixtures
from llm_simulator.infra.clock import FakeClock

BASE = b"rules:\n  - match: {message: base}\n    respond: {text: configured}\n"


def _rule(text: str) -> bytes:
    return f"rules:\n  - match: {{message: {text}}}\n    respond: {{text: {text}}}\n".encode()


def _replica(published: list[dict[str, Any]]) -> tuple[Script, SharedFixtures]:
    """A replica with the configured base rule whose publishes land in ``published``."""
    script = Script(FakeClock())
    base = parse_fixtures(BASE, "base.yaml")
    script.load(base, replace=False, origin="base.yaml")
    shared = SharedFixtures(script, [(base, "base.yaml")])

    async def publish() -> None:
        # Through JSON, as the fleet's document travels.
        published.append(orjson.loads(orjson.dumps(shared.snapshot())))

    shared.on_change = publish
    return script, shared


def _texts(script: Script) -> list[tuple[str, str]]:
    return [(r["origin"], r["respond"]["text"]) for r in script.fixtures_view()["rules"]]


async def test_an_append_is_replayed_after_the_configured_files() -> None:
    sent: list[dict[str, Any]] = []
    _, a = _replica(sent)
    b_script, b = _replica([])
    await a.load(_rule("one"), replace=False)
    b.restore(sent[-1])
    await a.load(_rule("two"), replace=False)
    b.restore(sent[-1])
    # Each operation applied once, in order, after the configured rule.
    assert _texts(b_script) == [("base.yaml", "configured"), ("admin", "one"), ("admin", "two")]


async def test_replace_and_clear_wipe_the_configured_files_too() -> None:
    sent: list[dict[str, Any]] = []
    _, a = _replica(sent)
    b_script, b = _replica([])
    await a.load(_rule("only"), replace=True)
    b.restore(sent[-1])
    assert _texts(b_script) == [("admin", "only")]
    await a.clear()
    b.restore(sent[-1])
    assert not b_script.active
    # The document holds only what the current fixtures are built from.
    assert [op["op"] for op in sent[-1]["ops"]] == ["clear"]


async def test_concurrent_appends_converge_on_the_last_publish() -> None:
    a_sent: list[dict[str, Any]] = []
    b_sent: list[dict[str, Any]] = []
    a_script, a = _replica(a_sent)
    _, b = _replica(b_sent)
    await a.load(_rule("mine"), replace=False)
    await b.load(_rule("theirs"), replace=False)
    # b published last: a drops its own append and rebuilds from the configured files.
    a.restore(b_sent[-1])
    assert _texts(a_script) == [("base.yaml", "configured"), ("admin", "theirs")]


async def test_an_unreadable_document_raises_for_the_follower_to_log() -> None:
    script, shared = _replica([])
    good = {"op": "load", "replace": True, "body": _rule("fine").decode(), "id": "1"}
    with pytest.raises(FixtureError):
        shared.restore({"epoch": "x", "ops": [good, {"op": "load", "replace": False, "body": "rules: 3", "id": "2"}]})
    with pytest.raises(FixtureError, match="unknown fixtures operation"):
        shared.restore({"epoch": "x", "ops": [{"op": "drop", "id": "3"}]})
    with pytest.raises(KeyError):
        shared.restore({"ops": []})
    # Nothing was half-applied.
    assert _texts(script) == [("base.yaml", "configured")]


async def test_in_memory_nothing_is_recorded() -> None:
    script = Script(FakeClock())
    shared = SharedFixtures(script)
    await shared.load(_rule("local"), replace=False)
    assert shared.snapshot() == {"epoch": "", "ops": []}
    assert _texts(script) == [("admin", "local")]
