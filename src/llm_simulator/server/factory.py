"""Build the app inside a server worker from the configuration the CLI resolved."""

from __future__ import annotations

import gc
import os

from llm_simulator.config.schema import SimulatorConfig
from llm_simulator.server.app import SimulatorApp

# The CLI serialises the effective (already validated) config here for worker processes.
CONFIG_ENV = "LLM_SIMULATOR_INTERNAL_CONFIG_JSON"


def create_app() -> SimulatorApp:
    """App factory for granian/uvicorn workers."""
    raw = os.environ.get(CONFIG_ENV)
    config = SimulatorConfig.model_validate_json(raw) if raw else SimulatorConfig()
    app = SimulatorApp(config)
    # Everything built so far (tokenizer ranks, catalogue, sentence pools) lives for the whole
    # process: move it out of the collector's generations so GC passes stay short.
    gc.collect()
    gc.freeze()
    return app
