"""Test your application against a simulator: a pytest plugin and the pieces it is built from.

Installing llm-simulator registers the pytest plugin (``llm_simulator.testing.plugin``, entry
point ``pytest11``): a test that asks for the ``llm_simulator`` fixture gets a simulator of
its own on a free port, plus ``openai_client``, ``anthropic_client``, ``gemini_client``
pointed at it. Without pytest, ``start_simulator()`` does the same:

```python
from llm_simulator.testing import start_simulator

with start_simulator({"generation.strategy": "echo"}) as sim:
    ...  # point your code at sim.openai_base_url
```

Guide: docs/testing.md. The names below are the public API (pinned by
``test_public_api_is_pinned_and_documented`` in ``tests/testing/test_handle.py``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llm_simulator.testing.handle import SimulatorHandle, start_simulator
    from llm_simulator.testing.scoped import LiveJournal, ScopedSimulator, test_id_for
    from llm_simulator.testing.server import DEFAULT_CONFIG, InProcessServer, SubprocessServer, merge_config

# Resolved on first use (PEP 562): pytest imports the plugin module, and with it this
# package, in every project that has llm-simulator installed; the server side (pydantic,
# the config schema) loads only when a test actually asks for a simulator.
_HOMES = {
    "DEFAULT_CONFIG": "llm_simulator.testing.server",
    "InProcessServer": "llm_simulator.testing.server",
    "SubprocessServer": "llm_simulator.testing.server",
    "merge_config": "llm_simulator.testing.server",
    "SimulatorHandle": "llm_simulator.testing.handle",
    "start_simulator": "llm_simulator.testing.handle",
    "LiveJournal": "llm_simulator.testing.scoped",
    "ScopedSimulator": "llm_simulator.testing.scoped",
    "test_id_for": "llm_simulator.testing.scoped",
}

__all__ = [
    "DEFAULT_CONFIG",
    "InProcessServer",
    "LiveJournal",
    "ScopedSimulator",
    "SimulatorHandle",
    "SubprocessServer",
    "merge_config",
    "start_simulator",
    "test_id_for",
]


def __getattr__(name: str) -> Any:
    """Import a public name's module the first time the name is used."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The public names, for ``dir()`` and completion."""
    return sorted(set(globals()) | set(__all__))
