"""The ``llm-simulator`` command line."""
