"""Configuration: one schema for files, environment and flags, frozen after load."""

from llm_simulator.config.loader import ConfigError, load_config
from llm_simulator.config.schema import SimulatorConfig

__all__ = ["ConfigError", "SimulatorConfig", "load_config"]
