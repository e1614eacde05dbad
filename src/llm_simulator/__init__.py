"""llm-simulator: an offline, drop-in stand-in for hosted LLM APIs."""

from llm_simulator._version import __version__

__all__ = ["__version__"]
