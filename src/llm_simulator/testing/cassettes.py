"""The pytest plugin's record/replay mode: a test's ``llm_simulator`` proxies and records, or replays.

With a cassette directory (``--llm-simulator-cassettes DIR`` or ini ``llm_simulator_cassettes``),
each test using the ``llm_simulator`` fixture has its cassette in ``DIR/<module>/<test>/`` (or
``DIR/<name>/`` with ``@pytest.mark.llm_simulator(cassette="name")``), and the habit of
vcr-style plugins applies (``--llm-simulator-record``):

- ``missing`` (default): a cassette that exists is replayed in strict mode (a request it
  does not hold fails with the provider's 404 naming it); a missing one is recorded from the
  upstream (``--llm-simulator-upstream URL``, ini ``llm_simulator_upstream``, or the
  ``LLM_SIMULATOR_PROXY`` environment variable); with no upstream the test fails, saying so;
- ``all``: every cassette is recorded again (the old entries are removed first);
- ``none``: replay only, for CI: a missing cassette fails the test.

Replays answer at once (``replay_time_scale: 0``) unless the test's config says otherwise.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

INI_CASSETTES = "llm_simulator_cassettes"
INI_UPSTREAM = "llm_simulator_upstream"
RECORD_MODES = ("missing", "all", "none")


def add_options(parser: pytest.Parser, group: pytest.OptionGroup) -> None:
    """The record/replay options and their ini twins."""
    group.addoption(
        "--llm-simulator-cassettes",
        dest="llm_simulator_cassettes",
        metavar="DIR",
        help="record and replay each test's llm_simulator traffic as cassettes under DIR",
    )
    group.addoption(
        "--llm-simulator-upstream",
        dest="llm_simulator_upstream",
        metavar="URL",
        help="the real API to record missing cassettes from (default: LLM_SIMULATOR_PROXY)",
    )
    group.addoption(
        "--llm-simulator-record",
        dest="llm_simulator_record",
        choices=RECORD_MODES,
        default="missing",
        help="missing: record a cassette that does not exist, replay the rest (default); "
        "all: record every cassette again; none: replay only (a missing cassette fails)",
    )
    parser.addini(INI_CASSETTES, default="", help="like --llm-simulator-cassettes (relative to the rootdir)")
    parser.addini(INI_UPSTREAM, default="", help="like --llm-simulator-upstream")


def _safe(name: str) -> str:
    """``name`` as one path segment (a parametrised test's id included)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "test"


def cassette_dir(request: pytest.FixtureRequest, name: str | None) -> Path | None:
    """The test's cassette directory, or None when record/replay is off."""
    config = request.config
    root = config.getoption("llm_simulator_cassettes") or config.getini(INI_CASSETTES)
    if not root:
        return None
    base = Path(root) if Path(root).is_absolute() else Path(config.rootpath) / root
    if name is not None:
        return base / _safe(name)
    return base / _safe(request.node.module.__name__) / _safe(request.node.name)


def cassette_config(request: pytest.FixtureRequest, name: str | None) -> dict[str, Any]:
    """The ``proxy`` settings of the test's simulator: replay its cassette, or record one ({} when off)."""
    directory = cassette_dir(request, name)
    if directory is None:
        return {}
    config = request.config
    mode = config.getoption("llm_simulator_record")
    upstream = (
        config.getoption("llm_simulator_upstream")
        or config.getini(INI_UPSTREAM)
        or os.environ.get("LLM_SIMULATOR_PROXY")
    )
    recorded = directory.is_dir() and any(directory.glob("*.jsonl"))
    if recorded and mode != "all":
        return {"proxy": {"replay_dir": str(directory), "replay_miss": "error", "replay_time_scale": 0}}
    if mode == "none":
        pytest.fail(f"no cassette at {directory} and --llm-simulator-record none: record it first", pytrace=False)
    if not upstream:
        pytest.fail(
            f"no cassette at {directory} and no upstream to record it from: "
            "give --llm-simulator-upstream URL (or LLM_SIMULATOR_PROXY)",
            pytrace=False,
        )
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob("*.jsonl"):  # re-recording: the new take replaces the old
        old.unlink()
    return {"proxy": {"upstream": upstream, "record_dir": str(directory)}}
