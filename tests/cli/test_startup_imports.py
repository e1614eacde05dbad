"""Start-up: what ``llm-simulator serve`` imports, up to a worker's built app (no timings asserted).

The serve path runs in a fresh interpreter as far as the server would: the command line is
parsed, the configuration validated (with the Simulator built to check it), and the
worker's app built by ``create_app`` from the configuration the CLI hands over; only the
socket is left out (``server.run.serve`` is replaced). Modules that only other commands,
adapters, proxy mode or a request's JSON Schema need must not be among what it imported:
each costs start-up time and memory in every server process. The CLI process loads the
tokenizer before granian forks its workers (they share it), but not for uvicorn's spawned
workers, which load it themselves before serving.
"""

from __future__ import annotations

import json
import subprocess
import sys

SERVE_PATH = """
import json, os, sys
import llm_simulator.server.run as run
from llm_simulator.engine.tokenizer import get_tokenizer

seen = {}

def serve(config):
    from llm_simulator.config.loader import to_internal_json
    from llm_simulator.server.factory import CONFIG_ENV, create_app
    # What the CLI process holds when it would hand over to the server (and fork workers).
    seen["cli_loaded_tokenizer"] = get_tokenizer().loaded
    seen["cli_imported_tiktoken"] = "tiktoken" in sys.modules
    os.environ[CONFIG_ENV] = to_internal_json(config)
    create_app()
    seen["worker_loaded_tokenizer"] = get_tokenizer().loaded

run.serve = serve
from llm_simulator.cli.main import main
status = main(["serve", "--port", "1", "--log-level", "warning", *sys.argv[1:]])
print(json.dumps({"status": status, "modules": sorted(sys.modules), **seen}))
"""


def _serve_path(*args: str) -> dict[str, object]:
    """Run the serve path in a fresh interpreter; what it reports."""
    out = subprocess.run(
        [sys.executable, "-c", SERVE_PATH, *args], capture_output=True, text=True, check=True, timeout=300
    ).stdout
    result: dict[str, object] = json.loads(out.strip().splitlines()[-1])
    return result


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
    "yaml",  # only a YAML config or fixtures file (none here), and ``config show``
    "prometheus_client",  # the first GET /metrics builds the scrape registry
    "llm_simulator.adapters.metrics",
    "llm_simulator.telemetry.prometheus",
    "llm_simulator.telemetry.state_metrics",
    "llm_simulator.proxy",  # proxy mode, recording and replay only (config.proxy.active)
    "llm_simulator.server.websocket",  # the first WebSocket connection builds SimulatorApp.sockets
)


def test_serving_imports_nothing_it_does_not_use() -> None:
    result = _serve_path()
    assert result["status"] == 0
    modules = result["modules"]
    assert isinstance(modules, list)
    assert "llm_simulator.server.app" in modules  # the path really built the app
    loaded = sorted(m for m in modules if any(m == name or m.startswith(name + ".") for name in NOT_AT_START))
    assert loaded == []


def test_forked_workers_inherit_the_tokenizer_the_cli_loaded() -> None:
    result = _serve_path("--workers", "2")
    assert result["status"] == 0
    assert result["cli_loaded_tokenizer"] is True  # before granian forks: the pages stay shared


def test_spawned_workers_load_it_themselves_not_the_cli() -> None:
    # uvicorn's workers are fresh interpreters: a copy in the CLI process would be wasted.
    result = _serve_path("--server", "uvicorn", "--workers", "2")
    assert result["status"] == 0
    assert result["cli_loaded_tokenizer"] is False
    assert result["cli_imported_tiktoken"] is False
    assert result["worker_loaded_tokenizer"] is True  # create_app loads it before serving
