"""Test scopes: one test's chaos, fixtures, one-shot faults and counters on a shared server."""

from llm_simulator.engine.scopes.registry import ScopeRegistry
from llm_simulator.engine.scopes.scope import TestScope

__all__ = ["ScopeRegistry", "TestScope"]
