"""The serving worker's runtime policy: the collector's thresholds and frozen start-up state.

``create_app`` (what a granian or uvicorn worker calls) freezes what it built and sets the
collector's thresholds for serving; checked in a fresh interpreter, since
the knobs are process-wide and must not leak into the test process.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from llm_simulator.server.factory import FULL_COLLECTION_EVERY

WORKER = """
import gc, json, sys
before = {"threshold": gc.get_threshold(), "switch": sys.getswitchinterval(), "frozen": gc.get_freeze_count()}
from llm_simulator.server.factory import create_app
create_app()
after = {"threshold": gc.get_threshold(), "switch": sys.getswitchinterval(), "frozen": gc.get_freeze_count()}
print(json.dumps({"before": before, "after": after}))
"""


def _worker() -> dict[str, dict[str, Any]]:
    """Build the app in a fresh interpreter; the runtime knobs before and after."""
    out = subprocess.run([sys.executable, "-c", WORKER], capture_output=True, text=True, check=True, timeout=300).stdout
    result: dict[str, dict[str, Any]] = json.loads(out.strip().splitlines()[-1])
    return result


def test_create_app_sets_the_serving_gc_policy() -> None:
    seen = _worker()
    assert seen["before"]["threshold"] == [700, 10, 10]  # CPython's defaults, for contrast
    assert abs(seen["before"]["switch"] - 0.005) < 1e-6
    young, middle, _ = seen["before"]["threshold"]
    assert seen["after"]["threshold"] == [young, middle, FULL_COLLECTION_EVERY]
    assert seen["after"]["switch"] == seen["before"]["switch"]  # left at CPython's default
    # The long-lived state built for serving left the collector's generations.
    assert seen["after"]["frozen"] > seen["before"]["frozen"]
