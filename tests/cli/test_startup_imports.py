"""Start-up: what ``llm-simulator serve`` imports, up to a worker's built app (no timings asserted).

The serve path runs in a fresh interpreter as far as the server would: the command line is
parsed, the configuration validated (with the Simulator built to check it), and the
worker's app built by ``create_app`` from the configuration the CLI hands over; only the
socket is left out (``server.run.serve`` is replaced). Modules that only other commands,
adapters, proxy mode or a request's JSON Schema need must not be among what it imported:
each costs start-up time and memory in every server process.
"""

from __future__ import annotations

import json
import subprocess
import sys

SERVE_PATH = """
import json, os, sys
import llm_simulator.server.run as run

def serve(config):
    from llm_simulator.config.loader import to_internal_json
    from llm_simulator.server.factory import CONFIG_ENV, create_app
    os.environ[CONFIG_ENV] = to_internal_json(config)
    create_app()

run.serve = serve
from llm_simulator.cli.main import main
status = main(["serve", "--port", "1", "--log-level", "warning"])
print(json.dumps({"status": status, "modules": sorted(sys.modules)}))
"""

NOT_AT_START = (
    "httpx",  # only adapters with URL sources and proxy mode's pools
    "rich",
    "click",
    "pygments",
    "jsonschema",  # only a request's schema (tools, structured outputs)
    "referencing",
    "llm_simulator.loadgen",  # the benchmark command
    "llm_simulator.sdk",
    "llm_simulator.cli.benchmark",
    "llm_simulator.cli.simulate",
    "llm_simulator.engine.load.virtual",  # the virtual-time engine (simulate, fidelity)
    "llm_simulator.engine.load.calibration",
    "llm_simulator.engine.load.fidelity",
    "llm_simulator.engine.load.traces",
    "llm_simulator.server.openapi",  # built on the first GET /openapi.json
)


def test_serving_imports_nothing_it_does_not_use() -> None:
    out = subprocess.run(
        [sys.executable, "-c", SERVE_PATH], capture_output=True, text=True, check=True, timeout=300
    ).stdout
    result = json.loads(out.strip().splitlines()[-1])
    assert result["status"] == 0
    modules: list[str] = result["modules"]
    assert "llm_simulator.server.app" in modules  # the path really built the app
    loaded = sorted(m for m in modules if any(m == name or m.startswith(name + ".") for name in NOT_AT_START))
    assert loaded == []
