"""Adapters: optional consumers of upstream data that change what the simulator does.

Each adapter is off unless enabled in the ``adapters:`` config section, reaches its upstream
through a shared ``InfraContext`` (TTL cache, retry with a budget, a circuit breaker per
upstream), and never fails a request when its upstream fails: the last good data or the
built-in default serves, and the degradation shows in ``/ready``, ``/admin/adapters``,
``/metrics`` and the log. ``adapters.latency`` is the latency lens: measured latency from
benchmark tools turned into profiles (``llm-simulator profile fit``/``compare``) and kept
fresh from a URL or file (the ``latency_profiles`` adapter).
"""

from llm_simulator.adapters.registry import KINDS, AdapterKind, AdapterRegistry, AdapterUnavailable, load_kind

__all__ = ["KINDS", "AdapterKind", "AdapterRegistry", "AdapterUnavailable", "load_kind"]
